"""A paper's multi-panel figure: journal widths, panels made in the paper style, letters, one embedded font."""

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib import font_manager
import pandas as pd
import pytest

from abscopal import plots, readouts


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def timeseries() -> pd.DataFrame:
    """Two arms of two individuals, one lesion, four days."""
    rows = [{"arm": arm, "replicate": r, "time_day": float(day), "lesion": "distant",
             "tumor_cells": 1000.0 * (1 + day) * (0.5 if arm == "b" else 1), "longest_diameter_mm": 2.0 + day / 10,
             "viable_area_mm2": 3.0 + day / 10}
            for arm in ("a", "b") for r in range(2) for day in range(4)]
    return pd.DataFrame(rows)


def composed():
    fig, panels = plots.paper_figure("ab;cc", height_mm=100, facets="c")
    ts = timeseries()
    plots.burden_over_time(ts, "distant", ax=panels["a"])
    tte = pd.DataFrame({"arm": ["a", "a", "b", "b"], "endpoint": "pfs", "time_day": [2, 3, 3, 3],
                        "event": [True, False, False, False]})
    plots.kaplan_meier_plot(readouts.kaplan_meier(tte), ax=panels["b"])
    plots.spider(ts, "distant", fig=panels["c"])
    return fig, panels


def test_a_paper_figure_has_the_journals_width_and_its_panels():
    fig, panels = composed()
    assert fig.get_figwidth() * 25.4 == pytest.approx(183.0)  # Nature's two-column width
    assert fig.get_figheight() * 25.4 == pytest.approx(100.0)
    assert isinstance(panels["a"], mpl.axes.Axes) and isinstance(panels["c"], mpl.figure.SubFigure)
    assert len(panels["c"].axes) == 2  # spider: one panel per arm, inside the subfigure
    assert panels["a"].xaxis.label.get_fontsize() == plots.PAPER_RC["axes.labelsize"]
    one, _ = plots.paper_figure("a", width="one-column")
    assert one.get_figwidth() * 25.4 == pytest.approx(89.0)
    for bad, match in (({"width": "three-column"}, "width = 'three-column'"), ({"height_mm": 300}, "height_mm = 300"),
                       ({"facets": "z"}, "'z' not a panel")):
        with pytest.raises(ValueError, match=match):
            plots.paper_figure("ab", **bad)


def test_panels_are_lettered_at_their_top_left():
    fig, panels = composed()
    texts = plots.label_panels(panels)
    assert [t.get_text() for t in texts] == ["a", "b", "c"]
    assert all(t.get_fontweight() == "bold" for t in texts)
    fig.canvas.draw()
    a, box = texts[0].get_window_extent(), panels["a"].get_window_extent()
    assert a.x1 <= box.x0 and a.y0 >= box.y1  # left of the y axis, above the axes
    assert [t.get_text() for t in plots.label_panels([panels["a"], panels["b"]])] == ["a", "b"]


def test_pdf_and_svg_hold_one_font_family_as_text(tmp_path):
    fig, panels = composed()
    plots.label_panels(panels)
    with mpl.rc_context({"pdf.fonttype": 3, "svg.fonttype": "path", "font.family": "serif"}):  # the user's
        pdf = plots.save_figure(fig, tmp_path / "f.pdf").read_bytes()
        svg = plots.save_figure(fig, tmp_path / "f.svg").read_text()
    fonts = set(re.findall(rb"/BaseFont /(?:[A-Z]{6}\+)?([A-Za-z-]+)", pdf))
    family = {font_manager.get_font(font_manager.findfont(font_manager.FontProperties(family=plots.PAPER_FONT,
                                                                                      weight=weight))
                                    ).postscript_name.encode() for weight in ("normal", "bold")}
    assert fonts == family  # the regular and the bold (panel letters) of one family
    assert b"/FontFile2" in pdf and b"/Subtype /Type3" not in pdf  # TrueType (Type 42), not Type 3
    declared = set(re.findall(r"font-family: ([^;\"]+)", svg))
    assert declared == {f"'{plots.PAPER_FONT}', sans-serif"}  # one family, a declared fallback
    assert svg.count("<text") > 10
