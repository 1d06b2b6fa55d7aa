"""Figures for papers (seaborn on matplotlib), drawn without changing matplotlib's global state.

Every plotting function takes ``ax=`` (or makes its own axes; those faceted by arm take ``fig=``, a subfigure)
and returns the matplotlib Figure. One style (:func:`paper_style`, applied only while a function draws: the
backend and rcParams stay the user's; one font family, :data:`PAPER_FONT`), figure widths for a one-column
(89 mm) or two-column (183 mm) figure (Nature's figure guide), and one style per arm in every figure
(:func:`arm_styles`: an Okabe-Ito colour, a dash pattern and a marker, in the config's order of the arms, under
the config's ``label``). Response categories, thresholds and captions follow the readout's criteria
(:class:`abscopal.readouts.Criteria`). :func:`plot_results` makes every figure a results folder supports.

Modules by figure family: ``style`` (theme, sizes, arm styles), ``burden`` (burden, waterfall, spider),
``survival`` (Kaplan-Meier), ``sweeps``, ``snapshots``, ``report`` (a results folder's figures), ``compose``
(a paper's multi-panel figure: :func:`paper_figure`, :func:`label_panels`, :func:`save_figure`).
"""

from .burden import (
    BAND_MIN_REPLICATES, burden_figure, burden_over_time, save_burden_figure, spider, waterfall, waterfall_by_arm,
)
from .compose import label_panels, paper_figure, save_figure
from .report import folder_criteria, plot_results
from .snapshots import lesion_snapshots, snapshot_window
from .style import (
    ARM_MARKERS, DAY_LABEL, ENDPOINT_LABELS, GRID_LEVELS_MAX, KM_DASHES, MAX_HEIGHT_MM, OKABE_ITO, ONE_COLUMN_IN,
    ONE_COLUMN_MM, PAPER_FONT, PAPER_RC, POINTS_MAX, RESPONSE_COLOURS, STATE_COLOURS, T_CELL_COLOURS, TWO_COLUMN_IN,
    TWO_COLUMN_MM, ArmStyle, arm_palette, arm_styles, manifest_styles, paper_style,
)
from .survival import KM_OFFSET_PT, kaplan_meier_plot
from .sweeps import acting_arms, burden_by_point, morris_plot, parameter_response, response_heatmap, sobol_bars

__all__ = [
    "ARM_MARKERS", "BAND_MIN_REPLICATES", "DAY_LABEL", "ENDPOINT_LABELS", "GRID_LEVELS_MAX", "KM_DASHES",
    "KM_OFFSET_PT", "MAX_HEIGHT_MM", "OKABE_ITO", "ONE_COLUMN_IN", "ONE_COLUMN_MM", "PAPER_FONT", "PAPER_RC",
    "POINTS_MAX", "RESPONSE_COLOURS", "STATE_COLOURS", "T_CELL_COLOURS", "TWO_COLUMN_IN", "TWO_COLUMN_MM",
    "ArmStyle", "acting_arms", "arm_palette", "arm_styles", "burden_by_point", "burden_figure", "burden_over_time",
    "folder_criteria", "kaplan_meier_plot", "label_panels", "lesion_snapshots", "manifest_styles", "morris_plot",
    "paper_figure", "paper_style", "parameter_response", "plot_results", "response_heatmap", "save_burden_figure",
    "save_figure", "snapshot_window", "sobol_bars", "spider", "waterfall", "waterfall_by_arm",
]
