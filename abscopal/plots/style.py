"""The figures' common style: the paper theme as a context, sizes, colours, and one style per arm (Okabe-Ito
colour, dash pattern, marker, label) that every figure shares."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib import font_manager
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from .. import readouts

#: Figure widths and the largest height (mm) of the Nature research figure guide ("Building and exporting figure
#: panels": 89 mm single column, 183 mm double column, 170 mm high at most, to leave room for the legend).
ONE_COLUMN_MM, TWO_COLUMN_MM, MAX_HEIGHT_MM = 89.0, 183.0, 170.0
MM_PER_IN = 25.4
ONE_COLUMN_IN = ONE_COLUMN_MM / MM_PER_IN
TWO_COLUMN_IN = TWO_COLUMN_MM / MM_PER_IN
#: The one font family of every figure's text: the first of these installed (journals ask for Arial or
#: Helvetica); DejaVu Sans ships with matplotlib, so it is always there to fall back on.
FONT_CHOICES = ("Arial", "Helvetica", "DejaVu Sans")


def _installed(family: str) -> bool:
    try:
        font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        return False
    return True


PAPER_FONT = next(family for family in FONT_CHOICES if _installed(family))
DAY_LABEL = "day after ablation"
#: Response categories (RECIST thresholds on one lesion's longest diameter) and their colours.
RESPONSE_COLOURS = {"CR": "#08519c", "PR": "#6baed6", "SD": "#bdbdbd", "PD": "#e6550d"}
#: Lattice states in the snapshots (0 empty, 1 live, 2 necrotic, 3 apoptotic) and their colours.
STATE_COLOURS = {"empty": "#ffffff", "live tumour": "#e69f00", "necrotic": "#3b3b3b", "apoptotic": "#cc79a7"}
T_CELL_COLOURS = {"T cell": "#0072b2", "exhausted T cell": "#009e73"}
#: A swept parameter with at most this many values is drawn as a grid axis (medians), else as a sample.
GRID_LEVELS_MAX = 12
#: Sweeps of at most this many points get a burden panel per point.
POINTS_MAX = 24
#: y-axis labels of Kaplan-Meier plots by (endpoints, cumulative).
ENDPOINT_LABELS = {(frozenset({"pfs"}), False): "progression-free survival",
                   (frozenset({"distant_response"}), True): "cumulative distant response"}
#: Dash patterns (on, off in line widths) that tell coinciding Kaplan-Meier curves apart.
KM_DASHES = ((), (4, 1.5), (1, 1), (5, 1.5, 1, 1.5), (2, 1), (6, 1, 1, 1, 1, 1))
#: The paper theme's matplotlib settings (seaborn's "paper" context and "ticks" style, adjusted).
PAPER_RC = {
    **sns.axes_style("ticks"), **sns.plotting_context("paper"),
    "axes.prop_cycle": mpl.cycler(color=sns.color_palette("deep")),
    "axes.spines.top": False, "axes.spines.right": False, "font.size": 7, "axes.labelsize": 8,
    "axes.titlesize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7,
    "legend.title_fontsize": 7, "legend.frameon": False, "lines.linewidth": 1.2,
    "savefig.dpi": 300, "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
    "font.family": "sans-serif", "font.sans-serif": [PAPER_FONT],
}


@contextmanager
def paper_style():
    """The theme of every figure as a context (or decorator), so that nothing global changes: ticks, 7-8 pt
    fonts in one family (:data:`PAPER_FONT`), no top/right spines, editable text in PDF (TrueType, Type 42)
    and SVG (text as text).

    matplotlib's interactive flag is left as a backend set it inside: Jupyter's inline backend starts with the
    first figure and turns the flag on, which a plain ``rc_context`` would undo, and no figure of the notebook
    (the package's or the user's) would then be shown when its cell ends. Scripts (Agg) keep it off."""
    context = mpl.rc_context(PAPER_RC)
    context.__enter__()
    try:
        yield
    finally:
        interactive = mpl.is_interactive()
        context.__exit__(None, None, None)
        mpl.interactive(interactive)


#: The Okabe-Ito palette (Okabe & Ito 2008), distinguishable under deuteranopia and protanopia; black first.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
#: Markers that, with the dash patterns, tell arms apart without colour.
ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class ArmStyle:
    """How one arm is drawn in every figure: its label (the config's ``label``), colour, dash pattern, marker."""

    label: str
    colour: str
    dashes: tuple
    marker: str

    def line(self, markers: bool = True) -> dict:
        """Keyword arguments of ``ax.plot`` for this arm's line (markers spaced along it)."""
        kw = {"dashes": self.dashes} if self.dashes else {"ls": "-"}
        return {**kw, "marker": self.marker, "ms": 3, "markevery": 0.12} if markers else kw

    def handle(self, **kw) -> Line2D:
        """A legend entry: the arm's colour, dashes and marker under its label."""
        return Line2D([], [], color=self.colour, label=self.label, **{**self.line(), "markevery": None, **kw})


def arm_styles(arms, labels=None) -> dict[str, ArmStyle]:
    """An :class:`ArmStyle` per arm, fixed by the arms' order (the config's): colour, dashes and marker by
    position, label from ``labels`` (arm -> label; default the arm's name)."""
    labels = labels or {}
    return {arm: ArmStyle(labels.get(arm, arm), OKABE_ITO[i % len(OKABE_ITO)], KM_DASHES[i % len(KM_DASHES)],
                          ARM_MARKERS[i % len(ARM_MARKERS)]) for i, arm in enumerate(arms)}


def arm_palette(arms) -> dict[str, str]:
    """The colour of each arm (:func:`arm_styles`)."""
    return {arm: style.colour for arm, style in arm_styles(arms).items()}


def _present(styles, frame: pd.DataFrame) -> dict[str, ArmStyle]:
    """The styles of the arms ``frame`` holds, in the styles' order (arms they lack get styles after them)."""
    arms = _arms(frame)
    styles = dict(styles or {})
    extra = arm_styles([*styles, *(a for a in arms if a not in styles)])
    styles = {**extra, **styles}
    return {arm: style for arm, style in styles.items() if arm in set(arms)}


def _arms(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["arm"]))


def _axes(ax, height=2.4):
    """``ax``, or the axes of a new one-column figure in the paper style."""
    if ax is None:
        _, ax = plt.subplots(figsize=(ONE_COLUMN_IN, height), layout="constrained")
    return ax


def _legend_outside(ax, **kw):
    """The legend to the right of the axes, clear of the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, **kw)


def _reference_lines(ax, criteria=None):
    """The criteria's thresholds of partial response and progression on one lesion, dotted: by volume -50 % and
    +35 % (Gao 2015), by RECIST -30 % and +20 % of the diameter."""
    for pct in _thresholds(criteria):
        ax.axhline(pct, color="0.4", ls=":", lw=0.8, zorder=0)


def _thresholds(criteria) -> tuple[float, float]:
    """(partial response, progression) thresholds (%) of one lesion's change by ``criteria``."""
    if readouts.Criteria.of(criteria).by_volume:
        (_, _, _), (_, pr, _), (_, pd_from, _) = readouts.VOLUME_CLASSES
        return pr, pd_from
    return readouts.PR_PCT, readouts.PD_PCT


def _measure(criteria) -> str:
    """What the criteria measure, for axis labels."""
    return "volume" if readouts.Criteria.of(criteria).by_volume else "longest diameter"


def _file_name(key: str) -> str:
    """A config key as part of a file name: its last two parts ("anti_pd1.start_day")."""
    return ".".join(key.split(".")[-2:])


def manifest_styles(manifest: dict) -> dict[str, ArmStyle]:
    """The arms' styles of a results folder, in the config's order with the config's labels (its manifest's
    resolved ``arms``, or for a sweep the ``arms`` of its ``config``)."""
    arms = manifest.get("arms") or manifest.get("config", {}).get("arms") or {}
    return arm_styles(list(arms), {arm: p.get("label", arm) for arm, p in arms.items() if isinstance(p, dict)})


#: Panels per row of the figures faceted by arm (longer labels would overlap beyond it).
FACET_COLUMNS = 3


def facets(n: int, height: float, sharey: bool = False, fig=None):
    """A two-column figure of ``n`` panels, up to :data:`FACET_COLUMNS` a row (``height`` inches each), or those
    panels in ``fig`` (a Figure or SubFigure of a composed figure, :func:`paper_figure`); returns the figure and
    its ``n`` visible axes in order."""
    ncols = min(n, FACET_COLUMNS)
    nrows = -(-n // ncols)
    if fig is None:
        fig = plt.figure(figsize=(TWO_COLUMN_IN if n > 1 else ONE_COLUMN_IN, height * nrows + 0.5),
                         layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])
