"""Tumour burden over time, waterfall and spider plots, by the readout's response criteria."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import readouts
from .style import (
    FACET_COLUMNS, facets,
    _axes, _legend_outside, _measure, _present, _reference_lines, DAY_LABEL, manifest_styles,
    paper_style, RESPONSE_COLOURS, TWO_COLUMN_IN,
)


# ---- burden, waterfall, spider ------------------------------------------------------------------
#: Bands of quantiles over individuals are drawn only with at least this many individuals per arm.
BAND_MIN_REPLICATES = 3


@paper_style()
def burden_over_time(ts: pd.DataFrame, lesion: str, ax=None, styles=None, events: pd.DataFrame | None = None):
    """Live tumour cells of one lesion per arm: median line, 50 % and 90 % bands over individuals (bands only
    with at least :data:`BAND_MIN_REPLICATES` individuals in an arm).

    ``events`` (Results.events): ablation days as a dashed grey line, each arm's dosing days as triangles in the
    arm's colour in a row of their own at the bottom of the axes.
    """
    ax = _axes(ax)
    styles = _present(styles, ts)
    data = ts[ts["lesion"] == lesion]
    for arm, style in styles.items():
        g = data[data["arm"] == arm]
        q = g.groupby("time_day")["tumor_cells"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack() / 1e3
        if g["replicate"].nunique() >= BAND_MIN_REPLICATES:
            ax.fill_between(q.index, q[0.05], q[0.95], color=style.colour, alpha=0.12, lw=0)
            ax.fill_between(q.index, q[0.25], q[0.75], color=style.colour, alpha=0.25, lw=0)
        ax.plot(q.index, q[0.5], color=style.colour, label=style.label, **style.line())
    if events is not None and len(events):
        for day in sorted(set(events.loc[events["kind"] == "ablation", "day"])):
            ax.axvline(day, color="0.3", ls="--", lw=0.8, label="ablation")
        doses = events.loc[events["kind"] == "dose", ["arm", "day"]].drop_duplicates()
        for i, (arm, style) in enumerate((a, st) for a, st in styles.items() if a in set(doses["arm"])):
            days = doses.loc[doses["arm"] == arm, "day"]
            ax.plot(days, np.full(len(days), 0.03 + 0.05 * i), ls="", marker="^", ms=3, color=style.colour,
                    transform=ax.get_xaxis_transform(), clip_on=False,
                    label="doses (triangles, in the arm's colour)" if i == 0 else None)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(DAY_LABEL)
    ax.set_ylabel("live tumour cells (×10³)")
    ax.set_title(f"{lesion} lesion")
    handles, labels = _burden_legend(ax)
    _legend_outside(ax, handles=handles, labels=labels)
    return ax.figure


def _burden_legend(ax):
    """Arms, "ablation" and the doses once each (a grey triangle stands for every arm's)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    for label in unique:
        if label.startswith("doses"):
            unique[label] = Line2D([], [], ls="", marker="^", ms=3, color="0.3")
    return list(unique.values()), list(unique)


@paper_style()
def burden_figure(results, styles=None, fig=None):
    """One panel per lesion of :func:`burden_over_time`, one legend for the figure; n per arm in the legend
    title, and a note when bands are left out. ``fig``: draw into this (Sub)Figure instead of a new one."""
    ts = results.timeseries
    lesions = [name for name in dict.fromkeys(ts["lesion"]) if name != "systemic"]
    ncols = min(len(lesions), 3)
    nrows = -(-len(lesions) // ncols)
    if fig is None:
        fig = plt.figure(figsize=(TWO_COLUMN_IN, 2.3 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    styles = _present(styles or manifest_styles(getattr(results, "manifest", None) or {}), ts)
    for ax, lesion in zip(axes.flat, lesions):
        burden_over_time(ts, lesion, ax=ax, styles=styles, events=results.events)
    for ax in axes.flat[len(lesions):]:
        ax.set_visible(False)
    for ax in axes.flat[:len(lesions)]:
        ax.get_legend().remove()
    fig.legend(*_burden_legend(axes.flat[0]), loc="outside lower center", ncols=4, title=_n_text(ts))
    return fig


def _n_text(ts: pd.DataFrame) -> str:
    """Individuals per arm ("n = 4 per arm", or per arm when they differ), and whether bands are drawn."""
    n = ts.groupby("arm", sort=False)["replicate"].nunique()
    text = f"n = {n.iloc[0]} per arm" if n.nunique() == 1 else "n = " + ", ".join(f"{a} {k}" for a, k in n.items())
    if (n < BAND_MIN_REPLICATES).any():
        text += f"; no bands with fewer than {BAND_MIN_REPLICATES} individuals"
    return text


@paper_style()
def save_burden_figure(results, path: Path) -> Path:
    """Save :func:`burden_figure` (PNG at 300 dpi)."""
    return _save(burden_figure(results), Path(path))


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=300)
    plt.close(fig)
    return path


@paper_style()
def waterfall(best: pd.DataFrame, lesion: str = "distant", ax=None, criteria=None):
    """Each individual's best change in ``lesion`` from baseline, sorted, coloured by its best response.

    ``best``: :func:`readouts.best_response` (``best_change_pct``, ``best_response``), by ``criteria`` (the same
    :class:`readouts.Criteria`: volume or longest diameter, and its thresholds as dotted lines). The legend lists
    the categories that occur, titled by the criteria.
    """
    ax = _axes(ax)
    c = readouts.Criteria.of(criteria)
    frame = best[(best["lesion"] == lesion) & best["best_change_pct"].notna()]
    frame = frame.sort_values("best_change_pct", ascending=False, kind="stable")
    x = np.arange(len(frame))
    ax.bar(x, frame["best_change_pct"], width=0.8, color=[RESPONSE_COLOURS[r] for r in frame["best_response"]],
           lw=0)
    ax.axhline(0, color="0.2", lw=0.6)
    _reference_lines(ax, c)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.set_xlim(-0.6, max(len(x), 1) - 0.4)
    ax.set_xlabel("individuals, sorted")
    ax.set_ylabel(f"best change in {lesion}\n{_measure(c)} (%)")
    present = set(frame["best_response"])
    _legend_outside(ax, title=c.title.replace(" (", "\n("),
                    handles=[Patch(color=colour, label=r) for r, colour in RESPONSE_COLOURS.items() if r in present])
    return ax.figure


@paper_style()
def waterfall_by_arm(best: pd.DataFrame, lesion: str = "distant", styles=None, criteria=None, fig=None):
    """:func:`waterfall` per arm (shared y axis; up to 3 panels a row), each titled by its arm's label and n; one
    legend listing the categories that occur in any arm. ``fig``: draw into this (Sub)Figure."""
    styles = _present(styles, best)
    fig, axes = facets(len(styles), height=2.1, sharey=True, fig=fig)
    for ax, (arm, style) in zip(axes, styles.items()):
        part = best[best["arm"] == arm]
        waterfall(part, lesion, ax=ax, criteria=criteria)
        n = int((part["lesion"] == lesion).sum())
        ax.set_title(f"{style.label}\n(n = {n})", color=style.colour)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend().legend_handles}
    title = axes[0].get_legend().get_title().get_text()
    for ax in axes:
        ax.get_legend().remove()
    _legend_outside(axes[min(len(axes), FACET_COLUMNS) - 1], title=title,
                    handles=[handles[r] for r in RESPONSE_COLOURS if r in handles])
    for i, ax in enumerate(axes):
        if i % FACET_COLUMNS:
            ax.set_ylabel("")
    if len(styles) > 1:
        for ax in axes:
            ax.set_xlabel("")
        fig.supxlabel("individuals, sorted", fontsize=8)
    return fig


def _change_over_time(ts: pd.DataFrame, lesion: str, baseline_day: float, criteria) -> pd.DataFrame:
    """Each individual's change (%) in ``lesion``'s volume or longest diameter (by ``criteria``) from its baseline
    record, on every recorded day from baseline on (columns arm, replicate, time_day, change)."""
    c = readouts.Criteria.of(criteria)
    d = ts[ts["lesion"] == lesion].sort_values("time_day", kind="stable")
    d = d.assign(measure=readouts.tumour_volume_mm3(d) if c.by_volume else d["longest_diameter_mm"])
    base = (d[d["time_day"] <= baseline_day + 1e-9].drop_duplicates(["arm", "replicate"], keep="last")
            .set_index(["arm", "replicate"])["measure"].rename("base"))
    d = d[d["time_day"] >= baseline_day - 1e-9].join(base, on=["arm", "replicate"])
    change = 100.0 * (d["measure"] - d["base"]) / d["base"].where(d["base"] > 0)
    return d[["arm", "replicate", "time_day"]].assign(change=change)


@paper_style()
def spider(ts: pd.DataFrame, lesion: str = "distant", ax=None, styles=None, baseline_day: float = 0.0,
           criteria=None, fig=None):
    """Each individual's change in ``lesion`` from baseline over time (thin lines), one panel per arm with the
    arm's median (thick); volume or longest diameter by ``criteria``, its thresholds dotted.

    ``ax``: one axes per arm (a sequence); else ``fig``, a (Sub)Figure to draw them into; else a new figure.
    """
    styles = _present(styles, ts)
    d = _change_over_time(ts, lesion, baseline_day, criteria)
    axes = facets(len(styles), height=2.0, sharey=True, fig=fig)[1] if ax is None else list(np.ravel(ax))
    for a, (arm, style) in zip(axes, styles.items()):
        g = d[d["arm"] == arm]
        for _, one in g.groupby("replicate", sort=False):
            a.plot(one["time_day"], one["change"], color=style.colour, lw=0.5, alpha=0.5)
        median = g.groupby("time_day")["change"].median()
        a.plot(median.index, median.to_numpy(), color=style.colour, lw=1.6, label="median", **style.line())
        _reference_lines(a, criteria)
        a.axhline(0, color="0.2", lw=0.6, zorder=0)
        a.set_title(f"{style.label}\n(n = {g['replicate'].nunique()})", color=style.colour)
        a.set_xlabel(DAY_LABEL if len(axes) == 1 else "")
    for i, a in enumerate(axes):
        a.set_ylabel(f"change in {lesion}\n{_measure(criteria)} (%)" if i % FACET_COLUMNS == 0 else "")
    if len(axes) > 1:
        (fig if fig is not None else axes[0].figure).supxlabel(DAY_LABEL, fontsize=8)
    _legend_outside(axes[min(len(styles), FACET_COLUMNS) - 1], handles=[
        Line2D([], [], color="0.3", lw=0.5, label="individual"), Line2D([], [], color="0.3", lw=1.6, label="median")])
    return fig if fig is not None else axes[0].figure
