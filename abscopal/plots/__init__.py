"""Figures for papers (seaborn on matplotlib), drawn without changing matplotlib's global state.

Every plotting function takes ``ax=`` (or makes its own axes) and returns the matplotlib Figure. One style
(:func:`paper_style`, applied only while a function draws: the backend and rcParams stay the user's), figure
widths for a one-column (3.5 in) or two-column (7 in) paper figure, and one style per arm in every figure
(:func:`arm_styles`: an Okabe-Ito colour, a dash pattern and a marker, in the config's order of the arms, under
the config's ``label``). Response categories, thresholds and captions follow the readout's criteria
(:class:`abscopal.readouts.Criteria`). :func:`plot_results` makes every figure a results folder supports.

Modules by figure family: ``style`` (theme, sizes, arm styles), ``burden`` (burden, waterfall, spider),
``survival`` (Kaplan-Meier), ``sweeps``, ``snapshots``, ``report`` (a results folder's figures).
"""

from .burden import (
    BAND_MIN_REPLICATES, burden_figure, burden_over_time, save_burden_figure, spider, waterfall, waterfall_by_arm,
)
from .report import folder_criteria, plot_results
from .snapshots import lesion_snapshots, snapshot_window
from .style import (
    ARM_MARKERS, DAY_LABEL, ENDPOINT_LABELS, GRID_LEVELS_MAX, KM_DASHES, OKABE_ITO, ONE_COLUMN_IN, PAPER_RC,
    POINTS_MAX, RESPONSE_COLOURS, STATE_COLOURS, T_CELL_COLOURS, TWO_COLUMN_IN, ArmStyle, arm_palette, arm_styles,
    manifest_styles, paper_style,
)
from .survival import kaplan_meier_plot
from .sweeps import acting_arms, burden_by_point, morris_plot, parameter_response, response_heatmap, sobol_bars

__all__ = [
    "ARM_MARKERS", "BAND_MIN_REPLICATES", "DAY_LABEL", "ENDPOINT_LABELS", "GRID_LEVELS_MAX", "KM_DASHES", "OKABE_ITO",
    "ONE_COLUMN_IN", "PAPER_RC", "POINTS_MAX", "RESPONSE_COLOURS", "STATE_COLOURS", "T_CELL_COLOURS", "TWO_COLUMN_IN",
    "ArmStyle", "acting_arms", "arm_palette", "arm_styles", "burden_by_point", "burden_figure", "burden_over_time",
    "folder_criteria", "kaplan_meier_plot", "lesion_snapshots", "manifest_styles", "morris_plot", "paper_style",
    "parameter_response", "plot_results", "response_heatmap", "save_burden_figure", "snapshot_window", "sobol_bars",
    "spider", "waterfall", "waterfall_by_arm",
]
