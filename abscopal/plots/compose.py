"""A paper's multi-panel figure from the package's figures: journal widths, panel letters, one embedded font.

    fig, panels = plots.paper_figure("ab;cc", width="two-column", height_mm=120, facets="c")
    plots.burden_over_time(res.timeseries, "distant", ax=panels["a"], styles=styles)
    plots.kaplan_meier_plot(km, ax=panels["b"], styles=styles, cumulative=True)
    plots.spider(res.timeseries, "distant", fig=panels["c"], styles=styles)   # faceted by arm: a subfigure
    plots.label_panels(panels)                   # a, b, c: bold, lower case, at each panel's top left
    plots.save_figure(fig, "figure2.pdf")        # TrueType (Type 42) font in the PDF, text as text in SVG

The layout is matplotlib's mosaic (``"ab;cc"``: a and b side by side, c below across both); panels named in
``facets`` are subfigures, for the figures faceted by arm (``waterfall_by_arm``, ``spider``, ``burden_figure``
take ``fig=``), the others Axes (``ax=``). Every panel is made in the paper style, so they match the figures.
Widths and heights follow the Nature research figure guide ("Building and exporting figure panels"): 89 mm
for one column, 183 mm for two, at most 170 mm high; text 5-7 pt, panel letters 8 pt bold lower case.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.transforms import Bbox

from .style import MAX_HEIGHT_MM, MM_PER_IN, ONE_COLUMN_MM, paper_style, TWO_COLUMN_MM

#: Named figure widths (mm).
WIDTHS_MM = {"one-column": ONE_COLUMN_MM, "two-column": TWO_COLUMN_MM}
#: Panel letters: bold, lower case, 8 pt (Nature's figure guide).
PANEL_LETTER = {"fontsize": 8, "fontweight": "bold"}


def _width_mm(width) -> float:
    if isinstance(width, str):
        if width not in WIDTHS_MM:
            raise ValueError(f"width = {width!r}: expected one of {', '.join(map(repr, WIDTHS_MM))} or a width in mm")
        return WIDTHS_MM[width]
    if not 20 <= float(width) <= TWO_COLUMN_MM:
        raise ValueError(f"width = {width!r} mm: expected 20 to {TWO_COLUMN_MM} mm (the two-column width)")
    return float(width)


@paper_style()
def paper_figure(mosaic="a", width="two-column", height_mm: float | None = None, facets="", **kw):
    """A figure at a journal width with a panel for each name of ``mosaic``; returns (figure, {name: panel}).

    ``mosaic``: matplotlib's mosaic, a string (``"ab;cc"``, rows split by ";") or a list of rows; ``width``:
    "one-column" (89 mm), "two-column" (183 mm) or a width in mm; ``height_mm``: default 55 mm a row, at most
    170 mm. A panel is an Axes (pass it as ``ax=``) or, if its name is in ``facets``, a SubFigure (pass it as
    ``fig=`` to a figure faceted by arm). ``kw`` goes to ``subplot_mosaic`` (e.g. ``width_ratios``).
    """
    rows = mosaic.split(";") if isinstance(mosaic, str) else mosaic
    height = height_mm if height_mm is not None else 55.0 * len(rows)
    if not 10 <= height <= MAX_HEIGHT_MM:
        raise ValueError(f"height_mm = {height!r}: expected 10 to {MAX_HEIGHT_MM:g} mm (the page's figure height)")
    fig = plt.figure(figsize=(_width_mm(width) / MM_PER_IN, height / MM_PER_IN), layout="constrained")
    panels = fig.subplot_mosaic(mosaic, **kw)
    unknown = [name for name in facets if name not in panels]
    if unknown:
        raise ValueError(f"facets = {facets!r}: {', '.join(map(repr, unknown))} not a panel of {mosaic!r}")
    for name in facets:  # a subfigure where the mosaic put that panel's axes
        ax = panels[name]
        panels[name] = fig.add_subfigure(ax.get_subplotspec())
        ax.remove()
    return fig, panels


def label_panels(panels) -> list:
    """Letter each panel at its top left: a {name: panel} mapping (:func:`paper_figure`) by its names, or a
    sequence of Axes and SubFigures by a, b, c, ...; returns the letters' Text objects."""
    if not isinstance(panels, dict):
        panels = dict(zip("abcdefghijklmnopqrstuvwxyz", np.ravel(panels)))
    texts = []
    for letter, panel in panels.items():
        if hasattr(panel, "transAxes"):  # an Axes: above the top left of its tick labels and y label
            text = panel.annotate(letter, xy=(0, 1), xycoords=lambda renderer, ax=panel: _label_box(ax, renderer),
                                  ha="left", va="bottom", **PANEL_LETTER)  # in the layout: room is made for it
        else:
            text = panel.text(0.0, 1.0, letter, ha="left", va="top", transform=panel.transSubfigure, **PANEL_LETTER)
        texts.append(text)
    return texts


def _label_box(ax, renderer):
    """The box of an Axes with its tick labels and y label (not its title), for the panel letter's place."""
    boxes = [ax.get_window_extent(renderer), ax.yaxis.get_tightbbox(renderer)]
    return Bbox.union([b for b in boxes if b is not None and b.width > 0])


@paper_style()
def save_figure(fig, path, dpi: int = 300) -> Path:
    """Save ``fig`` in the paper style's output settings (PDF: TrueType fonts, Type 42; SVG: text as text; PNG:
    ``dpi``), whatever the user's rcParams; the format from the file's suffix. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
