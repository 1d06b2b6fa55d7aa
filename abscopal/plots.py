"""Figures for papers (seaborn on matplotlib), drawn without changing matplotlib's global state.

Every plotting function takes ``ax=`` (or makes its own axes) and returns the matplotlib Figure. One style
(:func:`paper_style`, applied only while a function draws: the backend and rcParams stay the user's), figure
widths for a one-column (3.5 in) or two-column (7 in) paper figure, and one colour-blind-safe colour per arm
(seaborn's "colorblind", in the arms' order of first appearance in the data) across all figures.
:func:`plot_results` makes every figure a results folder supports.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation, blended_transform_factory
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from . import readouts, store

ONE_COLUMN_IN = 3.5
TWO_COLUMN_IN = 7.0
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
    "savefig.dpi": 300, "pdf.fonttype": 42, "svg.fonttype": "none",
}


def paper_style():
    """The theme of every figure as a context (or decorator), so that nothing global changes: ticks, 7-8 pt
    fonts, no top/right spines, editable text in PDF and SVG."""
    return mpl.rc_context(PAPER_RC)


def arm_palette(arms) -> dict[str, tuple]:
    """A colour per arm, fixed by the arms' order of first appearance."""
    colours = sns.color_palette("colorblind", max(len(arms), 1))
    return dict(zip(arms, colours))


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


def _reference_lines(ax):
    """RECIST thresholds: -30 % (partial response) and +20 % (progression), dotted."""
    for pct in (readouts.PR_PCT, readouts.PD_PCT):
        ax.axhline(pct, color="0.4", ls=":", lw=0.8, zorder=0)


# ---- burden, waterfall, spider ------------------------------------------------------------------
@paper_style()
def burden_over_time(ts: pd.DataFrame, lesion: str, ax=None, palette=None, events: pd.DataFrame | None = None):
    """Live tumour cells of one lesion per arm: median line, 50 % and 90 % bands over replicates.

    ``events`` (Results.events): ablation days as a dashed line, dosing days as ticks in the arm's colour
    at the bottom of the axes.
    """
    ax = _axes(ax)
    arms = _arms(ts)
    palette = palette or arm_palette(arms)
    data = ts[ts["lesion"] == lesion]
    for arm, g in data.groupby("arm", sort=False):
        q = g.groupby("time_day")["tumor_cells"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack() / 1e3
        ax.fill_between(q.index, q[0.05], q[0.95], color=palette[arm], alpha=0.15, lw=0)
        ax.fill_between(q.index, q[0.25], q[0.75], color=palette[arm], alpha=0.3, lw=0)
        ax.plot(q.index, q[0.5], color=palette[arm], label=arm)
    if events is not None and len(events):
        for day in sorted(set(events.loc[events["kind"] == "ablation", "day"])):
            ax.axvline(day, color="0.3", ls="--", lw=0.8, label="ablation")
        doses = events.loc[events["kind"] == "dose", ["arm", "day"]].drop_duplicates()
        for i, arm in enumerate(a for a in arms if a in set(doses["arm"])):
            days = doses.loc[doses["arm"] == arm, "day"]
            ax.plot(days, np.full(len(days), 0.03 + 0.05 * i), ls="", marker="^", ms=3, color=palette[arm],
                    transform=ax.get_xaxis_transform(), clip_on=False, label="dose" if i == 0 else None)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(DAY_LABEL)
    ax.set_ylabel("live tumour cells (×10³)")
    ax.set_title(f"{lesion} lesion")
    handles, labels = _burden_legend(ax)
    _legend_outside(ax, handles=handles, labels=labels)
    return ax.figure


def _burden_legend(ax):
    """Arms, "ablation" and "dose" once each (a grey dose marker stands for every arm's)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if "dose" in unique:
        unique["dose"] = Line2D([], [], ls="", marker="^", ms=3, color="0.3")
    return list(unique.values()), list(unique)


@paper_style()
def burden_figure(results):
    """One panel per lesion of :func:`burden_over_time`, one legend for the figure."""
    ts = results.timeseries
    lesions = [name for name in dict.fromkeys(ts["lesion"]) if name != "systemic"]
    ncols = min(len(lesions), 3)
    nrows = -(-len(lesions) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(TWO_COLUMN_IN, 2.3 * nrows), squeeze=False, sharex=True,
                             layout="constrained")
    palette = arm_palette(_arms(ts))
    for ax, lesion in zip(axes.flat, lesions):
        burden_over_time(ts, lesion, ax=ax, palette=palette, events=results.events)
    for ax in axes.flat[len(lesions):]:
        ax.set_visible(False)
    for ax in axes.flat[:len(lesions)]:
        ax.get_legend().remove()
    fig.legend(*_burden_legend(axes.flat[0]), loc="outside lower center", ncols=6)
    return fig


@paper_style()
def save_burden_figure(results, path: Path) -> Path:
    """Save :func:`burden_figure` (PNG at 300 dpi)."""
    return _save(burden_figure(results), Path(path))


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=300)
    plt.close(fig)
    return path


def _category(change_pct: pd.Series, baseline_mm: pd.Series) -> np.ndarray:
    """:func:`readouts.lesion_response` of a lesion given its change in longest diameter (%) from baseline."""
    return readouts.lesion_response(baseline_mm, baseline_mm * (1.0 + change_pct / 100.0))


@paper_style()
def waterfall(summary_or_change: pd.DataFrame, lesion: str = "distant", ax=None):
    """Each replicate's best (smallest) change in ``lesion``'s longest diameter from baseline, sorted.

    ``summary_or_change``: the summary (``diameter_change_pct`` at the readout) or readouts output with
    ``longest_diameter_change_pct`` (e.g. :func:`readouts.abscopal_response` at every assessment). Bars are
    coloured by response category (CR/PR/SD/PD by the RECIST thresholds on this one lesion).
    """
    ax = _axes(ax)
    frame = summary_or_change[summary_or_change["lesion"] == lesion]
    pct = "longest_diameter_change_pct" if "longest_diameter_change_pct" in frame else "diameter_change_pct"
    best = (frame.dropna(subset=[pct]).sort_values(pct, kind="stable")
            .drop_duplicates(["arm", "replicate"]).sort_values(pct, ascending=False, kind="stable"))
    category = _category(best[pct], best["longest_diameter_baseline_mm"])
    x = np.arange(len(best))
    ax.bar(x, best[pct], width=0.8, color=[RESPONSE_COLOURS[c] for c in category], lw=0)
    ax.axhline(0, color="0.2", lw=0.6)
    _reference_lines(ax)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xlabel("replicates, sorted")
    ax.set_ylabel(f"best change in {lesion}\nlongest diameter (%)")
    _legend_outside(ax, handles=[Patch(color=colour, label=c) for c, colour in RESPONSE_COLOURS.items()])
    return ax.figure


@paper_style()
def waterfall_by_arm(summary_or_change: pd.DataFrame, lesion: str = "distant", palette=None):
    """:func:`waterfall` per arm side by side (shared y axis), each titled in its arm's colour."""
    arms = _arms(summary_or_change)
    palette = palette or arm_palette(arms)
    fig, axes = plt.subplots(1, len(arms), figsize=(TWO_COLUMN_IN if len(arms) > 1 else ONE_COLUMN_IN, 2.4),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, arm in zip(axes[0], arms):
        waterfall(summary_or_change[summary_or_change["arm"] == arm], lesion, ax=ax)
        ax.set_title(arm, color=palette[arm])
    for ax in axes[0][:-1]:
        ax.get_legend().remove()
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    if len(arms) > 1:
        for ax in axes[0]:
            ax.set_xlabel("")
        fig.supxlabel("replicates, sorted", fontsize=8)
    return fig


@paper_style()
def spider(ts: pd.DataFrame, lesion: str = "distant", ax=None, palette=None, baseline_day: float = 0.0):
    """Each replicate's % change in ``lesion``'s longest diameter from baseline over time, coloured by arm."""
    ax = _axes(ax)
    palette = palette or arm_palette(_arms(ts))
    d = ts[ts["lesion"] == lesion].sort_values("time_day", kind="stable")
    base = (d[d["time_day"] <= baseline_day + 1e-9].drop_duplicates(["arm", "replicate"], keep="last")
            .set_index(["arm", "replicate"])["longest_diameter_mm"].rename("base"))
    d = d[d["time_day"] >= baseline_day - 1e-9].join(base, on=["arm", "replicate"])
    d = d.assign(change=100.0 * (d["longest_diameter_mm"] - d["base"]) / d["base"].where(d["base"] > 0))
    for (arm, _), g in d.groupby(["arm", "replicate"], sort=False):
        ax.plot(g["time_day"], g["change"], color=palette[arm], lw=0.8, alpha=0.7)
    _reference_lines(ax)
    ax.axhline(0, color="0.2", lw=0.6, zorder=0)
    ax.set_xlabel(DAY_LABEL)
    ax.set_ylabel(f"change in {lesion}\nlongest diameter (%)")
    _legend_outside(ax, handles=[Line2D([], [], color=palette[a], label=a) for a in _arms(d)])
    return ax.figure


# ---- Kaplan-Meier -------------------------------------------------------------------------------
@paper_style()
def kaplan_meier_plot(km_frame: pd.DataFrame, ax=None, logrank_p: float | None = None, palette=None,
                      cumulative: bool = False):
    """Kaplan-Meier step curves per arm with their confidence bands (``readouts.kaplan_meier`` output).

    Censored times are marked "+"; the numbers at risk are listed under the axis, one row per arm named
    on the left; ``logrank_p`` is the legend's title. Curves that coincide stay visible: each arm has its
    own dash pattern, and earlier arms are drawn wider, under the later ones. ``cumulative``: draw 1 - S
    (the cumulative share with the event, e.g. a distant response), which rises.
    """
    ax = _axes(ax, height=2.8)
    palette = palette or arm_palette(_arms(km_frame))
    groups = list(km_frame.groupby("arm", sort=False))
    widths = np.linspace(2.6, 1.0, len(groups)) if len(groups) > 1 else [1.2]
    if cumulative:
        km_frame = km_frame.assign(survival=1 - km_frame["survival"], ci_low=1 - km_frame["ci_high"],
                                   ci_high=1 - km_frame["ci_low"])
        groups = list(km_frame.groupby("arm", sort=False))
    for i, ((arm, g), width) in enumerate(zip(groups, widths)):
        dashes = KM_DASHES[i % len(KM_DASHES)]
        ax.step(g["time_day"], g["survival"], where="post", color=palette[arm], label=arm, lw=width,
                zorder=2 + i, **({"dashes": dashes} if dashes else {}))
        ax.fill_between(g["time_day"], g["ci_low"], g["ci_high"], step="post", color=palette[arm], alpha=0.12,
                        lw=0)
        cens = g[g["censored"] > 0]
        ax.plot(cens["time_day"], cens["survival"], ls="", marker="+", ms=4, color=palette[arm], zorder=2 + i)
    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(0, km_frame["time_day"].max() * 1.02 or 1)
    ticks = [t for t in ax.get_xticks() if 0 <= t <= km_frame["time_day"].max()]
    ax.set_xticks(ticks)
    endpoint = set(km_frame.get("endpoint", pd.Series(dtype=object)))
    ax.set_ylabel(ENDPOINT_LABELS.get((frozenset(endpoint), cumulative), "cumulative incidence" if cumulative
                                       else "survival probability"))
    ax.set_xlabel(DAY_LABEL)
    if logrank_p is None:
        _legend_outside(ax, handlelength=3.2)
    else:
        _legend_outside(ax, handlelength=3.2,
                        title="log-rank " + ("p < 0.001" if logrank_p < 0.001 else f"p = {logrank_p:.2g}"))
    # numbers at risk: those still followed at each tick (the at_risk of the first row at or after it)
    inches = ax.figure.dpi_scale_trans
    ax.text(0, 0, "number at risk", transform=ax.transAxes + ScaledTranslation(0, -0.4, inches), fontsize=7,
            va="top", ha="right")
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (arm, g) in enumerate(groups):
        below = ScaledTranslation(0, -0.53 - 0.12 * i, inches)  # one row per arm, under the axis label
        ax.text(0, 0, arm, transform=ax.transAxes + below + ScaledTranslation(-0.12, 0, inches), fontsize=6,
                ha="right", va="top", color=palette[arm])
        for t in ticks:
            later = g.loc[g["time_day"] >= t - 1e-9, "at_risk"]
            ax.text(t, 0, f"{int(later.iloc[0]) if len(later) else 0}", transform=trans + below, fontsize=6,
                    ha="center", va="top", color=palette[arm])
    return ax.figure


# ---- sweeps -------------------------------------------------------------------------------------
@paper_style()
def response_heatmap(frame: pd.DataFrame, x: str, y: str, ax=None):
    """Abscopal response rate over two swept parameters, each cell annotated with rate and run count.

    ``frame``: one row per run with columns ``x``, ``y`` and a boolean ``responder``.
    """
    ax = _axes(ax, height=2.8)
    g = frame.groupby([y, x])["responder"]
    rate = g.mean().unstack(x).sort_index(ascending=False)
    runs = g.size().unstack(x).reindex_like(rate)
    labels = rate.map(lambda r: f"{r:.0%}") + "\n" + runs.map(lambda n: f"n={n:g}")
    sns.heatmap(rate, ax=ax, vmin=0, vmax=1, cmap="mako", annot=labels.fillna(""), fmt="",
                annot_kws={"fontsize": 6}, linewidths=0.5, cbar_kws={"label": "abscopal response rate"})
    ax.set_xticklabels([_value(v) for v in rate.columns])
    ax.set_yticklabels([_value(v) for v in rate.index], rotation=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax.figure


def _value(v) -> str:
    if isinstance(v, pd.Interval):
        return f"{v.left:.3g}–{v.right:.3g}"
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


@paper_style()
def parameter_response(summary: pd.DataFrame, parameter: str, lesion: str = "distant", ax=None, palette=None,
                       log_x: bool = False):
    """Change in ``lesion``'s longest diameter at the readout against one swept parameter, per arm.

    A parameter with few values (a grid axis): the median over runs with its 25-75 % range, one line per
    arm. A sampled parameter: one dot per point (the mean over its replicates). RECIST -30 % and +20 %
    lines dotted.
    """
    ax = _axes(ax)
    palette = palette or arm_palette(_arms(summary))
    d = summary[summary["lesion"] == lesion]
    values = np.sort(d[parameter].dropna().unique())
    for arm, g in d.groupby("arm", sort=False):
        if len(values) <= GRID_LEVELS_MAX:
            q = g.groupby(parameter)["diameter_change_pct"].quantile([0.25, 0.5, 0.75]).unstack()
            ax.errorbar(q.index, q[0.5], yerr=[q[0.5] - q[0.25], q[0.75] - q[0.5]], color=palette[arm], marker="o",
                        ms=3, capsize=1.5, lw=1.0, elinewidth=0.7, label=arm)
        else:
            key = "point" if "point" in g else parameter
            means = g.groupby(key).agg(x=(parameter, "first"), y=("diameter_change_pct", "mean"))
            ax.plot(means["x"], means["y"], ls="", marker="o", ms=2.5, alpha=0.7, mew=0, color=palette[arm],
                    label=arm)
    if log_x:  # ticks at 1, 2 and 5 times powers of ten, labelled as plain numbers
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    _reference_lines(ax)
    ax.axhline(0, color="0.2", lw=0.6, zorder=0)
    ax.set_xlabel(parameter)
    ax.set_ylabel(f"change in {lesion}\nlongest diameter (%)")
    _legend_outside(ax)
    return ax.figure


@paper_style()
def burden_by_point(sweep_results, lesion: str = "distant", palette=None):
    """Small multiples: ``lesion``'s live tumour cells over time at each point of a sweep, median per arm.

    One panel per point, titled by its parameter values; for sweeps of up to :data:`POINTS_MAX` points.
    """
    points = sweep_results.manifest["points"]
    ncols = min(4, len(points))
    nrows = -(-len(points) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(TWO_COLUMN_IN, 1.5 * nrows + 0.5), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    arms = list(dict.fromkeys(r["arm"] for r in sweep_results.runs_ok))
    palette = palette or arm_palette(arms)
    for ax, point in zip(axes.flat, points):
        ts = sweep_results.timeseries(point["point"])
        ts = ts[ts["lesion"] == lesion] if len(ts) else ts
        for arm, g in (ts.groupby("arm", sort=False) if len(ts) else ()):
            median = g.groupby("time_day")["tumor_cells"].median() / 1e3
            ax.plot(median.index, median.to_numpy(), color=palette[arm], lw=1.0, label=arm)
        ax.set_title("\n".join(f"{_file_name(k)} = {_value(v)}" for k, v in point["values"].items()),
                     fontsize=6)
    for ax in axes.flat[len(points):]:
        ax.set_visible(False)
    fig.supxlabel(DAY_LABEL, fontsize=8)
    fig.supylabel(f"{lesion}: live tumour cells (×10³)", fontsize=8)
    fig.legend(handles=[Line2D([], [], color=palette[a], label=a) for a in arms], loc="outside upper center",
               ncols=min(len(arms), 6))
    return fig


@paper_style()
def sobol_bars(indices: pd.DataFrame, ax=None):
    """First- and total-order Sobol indices with their confidence intervals, grouped horizontal bars.

    ``indices``: columns ``parameter``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; sorted by ST.
    """
    ax = _axes(ax, height=0.9 + 0.28 * len(indices))
    d = indices.sort_values("ST", ascending=True, kind="stable").reset_index(drop=True)
    y = np.arange(len(d))
    for offset, col, colour, label in ((0.2, "S1", "0.3", "first order (S1)"),
                                       (-0.2, "ST", "0.7", "total order (ST)")):
        ax.barh(y + offset, d[col], height=0.4, xerr=d[f"{col}_conf"], color=colour, label=label,
                error_kw={"lw": 0.8, "capsize": 1.5})
    ax.axvline(0, color="0.2", lw=0.6)
    ax.set_yticks(y, d["parameter"])
    ax.set_xlabel("Sobol index")
    ax.legend(loc="lower right")
    return ax.figure


@paper_style()
def morris_plot(indices: pd.DataFrame, ax=None):
    """Morris screening: sigma against mu* of each parameter's elementary effects, mu*'s interval as error bars.

    ``indices``: columns ``parameter``, ``mu_star``, ``mu_star_conf``, ``sigma`` (:func:`abscopal.sensitivity`
    of a morris sweep). Right: influential; up: non-linear or interacting. Dotted: sigma = mu* (above it, the
    effects change sign or size strongly across the range). One colour and marker per parameter, named in the
    legend by the last part of its key when that is unique.
    """
    ax = _axes(ax, height=2.6)
    short = indices["parameter"].str.rsplit(".", n=1).str[-1]
    names = short if short.is_unique else indices["parameter"]
    colours = sns.color_palette("colorblind", len(indices))
    rows = zip(names, indices["mu_star"], indices["mu_star_conf"], indices["sigma"], colours)
    for i, (name, x, conf, y, colour) in enumerate(rows):
        ax.errorbar([x], [y], xerr=[conf], ls="", marker="osD^vP"[i % 6], ms=4, color=colour, elinewidth=0.8,
                    capsize=1.5, label=name)
    top = float(np.nanmax([*(indices["mu_star"] + indices["mu_star_conf"]), *indices["sigma"], 0.0])) * 1.1 or 1.0
    ax.plot([0, top], [0, top], color="0.4", ls=":", lw=0.8, zorder=0)
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(-0.02 * top, top)
    ax.set_xlabel("μ* (mean |elementary effect|)")
    ax.set_ylabel("σ (SD of elementary effects)")
    _legend_outside(ax)
    return ax.figure


# ---- snapshots ----------------------------------------------------------------------------------
def _snapshot_days(arrays, lesion: str) -> list[str]:
    """The snapshot day labels ("day0", "day1", ...) of one lesion, in time order."""
    labels = {k.split("/")[1] for k in arrays if k.startswith(f"{lesion}/") and k.endswith("/state")}
    return sorted(labels, key=lambda d: float(re.fullmatch(r"day(-?[\d.]+)", d).group(1)))


@paper_style()
def lesion_snapshots(npz_path, lesion: str, ax=None, pd_l1: bool = False):
    """One lesion's lattice at each snapshot day, side by side, with a scale bar in mm.

    Live tumour cells, necrotic, apoptotic and empty sites in distinct colours (live cells coloured by
    PD-L1 when ``pd_l1``); T cells as dots, exhausted ones in another colour. ``ax``: one axes per day (a
    sequence) or None. The day-0 snapshot is taken just before the ablation.
    """
    with np.load(npz_path) as npz:
        arrays = dict(npz)
    days = _snapshot_days(arrays, lesion)
    if ax is None:
        _, ax = plt.subplots(1, len(days), figsize=(TWO_COLUMN_IN, 2.3), layout="constrained", squeeze=False)
    axes = list(np.ravel(ax))
    cell_mm = float(arrays["cell_um"]) / 1000.0
    states = [arrays[f"{lesion}/{d}/state"] for d in days]
    n = states[0].shape[0]
    lo, hi = _window(arrays, cell_mm)
    extent = (0, n * cell_mm, n * cell_mm, 0)
    live_pd_l1 = [np.ma.masked_where(state != 1, arrays[f"{lesion}/{d}/pd_l1"]) for d, state in zip(days, states)]
    pd_l1_max = max([float(level.max()) for level in live_pd_l1 if level.count()], default=1.0)
    state_cmap = ListedColormap(list(STATE_COLOURS.values()))
    for a, day, state, level in zip(axes, days, states, live_pd_l1):
        a.imshow(state, cmap=state_cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest")
        if pd_l1:
            image = a.imshow(level, cmap="viridis", vmin=0, vmax=pd_l1_max, extent=extent, interpolation="nearest")
        t = arrays[f"{lesion}/{day}/t_cells"]
        for exhausted, (label, colour) in enumerate(T_CELL_COLOURS.items()):
            sel = t[t[:, 2] == exhausted] if len(t) else t
            a.scatter((sel[:, 1] + 0.5) * cell_mm, (sel[:, 0] + 0.5) * cell_mm, s=1.5, color=colour, lw=0,
                      label=label)
        a.set_xlim(lo, hi)
        a.set_ylim(hi, lo)
        a.set_aspect("equal")
        a.set_xticks([])
        a.set_yticks([])
        for spine in a.spines.values():
            spine.set_visible(True)
            spine.set_color("0.6")
        a.set_title(f"{lesion}, day {re.fullmatch(r'day(-?[\d.]+)', day).group(1)}")
    bar_mm = _nice_length((hi - lo) / 4)
    axes[0].add_artist(AnchoredSizeBar(axes[0].transData, bar_mm, f"{bar_mm:g} mm", "lower left", pad=0.3,
                                       borderpad=0.3, sep=2, frameon=False, size_vertical=0,
                                       fontproperties={"size": 6}))
    handles = [Patch(facecolor=c, edgecolor="0.6", lw=0.4, label=k) for k, c in STATE_COLOURS.items()
               if not (pd_l1 and k == "live tumour")]
    handles += [Line2D([], [], ls="", marker="o", ms=2.5, color=c, label=k) for k, c in T_CELL_COLOURS.items()]
    _legend_outside(axes[len(days) - 1], handles=handles)
    if pd_l1:
        axes[0].figure.colorbar(image, ax=axes[: len(days)], label="PD-L1 of live cells (1 = constitutive)",
                                shrink=0.4, aspect=30, location="bottom")
    return axes[0].figure


def _window(arrays, cell_mm: float) -> tuple[float, float]:
    """The square (lo, hi in mm, both axes) holding every lesion of the file on every day, with a margin.

    One window for all lesions of a run, so their sizes compare across panels.
    """
    states = [a for k, a in arrays.items() if k.endswith("/state")]
    n = max(state.shape[0] for state in states)
    occupied = [np.nonzero(state > 0) for state in states]
    rows = np.concatenate([r for r, _ in occupied])
    cols = np.concatenate([c for _, c in occupied])
    if not len(rows):
        return 0.0, n * cell_mm
    pad = max(4, int(0.05 * n))
    return (max(min(rows.min(), cols.min()) - pad, 0) * cell_mm,
            min(max(rows.max(), cols.max()) + pad + 1, n) * cell_mm)


def _nice_length(x: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten not above ``x``."""
    power = 10.0 ** np.floor(np.log10(x))
    return max(m * power for m in (1, 2, 5) if m * power <= x)


# ---- a results folder ---------------------------------------------------------------------------
def _sweep_parameters(manifest: dict, summary: pd.DataFrame) -> list[str]:
    """The swept keys (the manifest's axes) that take more than one value in the summary."""
    return [k for k in manifest.get("keys", []) if k in summary.columns and summary[k].nunique() > 1]


def _binned(values: pd.Series) -> pd.Series:
    """A grid axis as it is; a sampled parameter cut into quintiles (ordered intervals) for a heatmap."""
    if values.nunique() <= GRID_LEVELS_MAX:
        return values
    return pd.qcut(values, 5, duplicates="drop")


def _responders(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per run with an assessed lesion: ``responder`` if any lesion never treated locally and present at
    baseline is CR or PR by its diameter at the readout (the summary's ``abscopal_responder``)."""
    assessed = summary[summary["abscopal_responder"].notna()]
    responder = assessed["abscopal_responder"].astype(bool).rename("responder")
    return assessed[keys].join(responder).groupby(keys, sort=False, dropna=False).any().reset_index()


def _experiment_figures(path: Path):
    """(name, figure, caption) for every figure an experiment folder supports."""
    from .results import Results

    res = Results(path, store.read_manifest(path))
    ts, events = res.timeseries, res.events
    if ts.empty:
        raise store.FolderError(f"{path}: no run's time series could be read ({len(res.runs_ok)} runs ok in the manifest)")
    palette = arm_palette(_arms(ts))
    yield ("tumour_burden", burden_figure(res),
           "Live tumour cells per lesion and arm over time: median, 50 % and 90 % bands over replicates; "
           "dashed line: ablation, triangles: doses.")
    treated_somewhere = set(readouts.lesion_roles(events)["lesion"])  # in some arm: not an abscopal lesion
    lesions = ts[(ts["lesion"] != readouts.SYSTEMIC) & (ts["time_day"] <= 0)]["lesion"]
    end = ts["time_day"].max()
    assessments = np.arange(3.0, end + 1e-9, 3.0)
    treated = events if len(events) else None
    untreated = [name for name in dict.fromkeys(lesions) if name not in treated_somewhere] if len(assessments) else []
    for lesion in untreated:
        change = pd.concat([readouts.abscopal_response(ts, treated, day=d) for d in assessments])
        yield (f"waterfall_{lesion}", waterfall_by_arm(change, lesion, palette=palette),
               f"Best change in the {lesion} lesion's longest diameter from day 0 per replicate and arm "
               f"(assessments every 3 days), coloured by response; dotted lines: -30 % (PR), +20 % (PD).")
        yield (f"spider_{lesion}", spider(ts, lesion, palette=palette),
               f"Change in the {lesion} lesion's longest diameter from day 0 per replicate, coloured by arm.")
    tte = readouts.time_to_event(ts, assessments, treated_lesion=treated, events=treated)
    captions = {
        "pfs": ("km_pfs", False, "Kaplan-Meier progression-free survival per arm (RECIST 1.1, assessments every 3 "
                "days), 95 % bands, + censored; log-rank p over all arms."),
        "distant_response": ("km_distant_response", True, "Cumulative distant (abscopal) response per arm: "
                             "1 - Kaplan-Meier estimate of the time to the first assessment (every 3 days) with an "
                             "untreated lesion at PR or CR by its diameter; 95 % bands, + censored; log-rank p."),
    }
    for endpoint, (name, cumulative, caption) in captions.items():
        part = tte[tte["endpoint"] == endpoint]
        if not len(part):
            continue
        test = readouts.logrank(part)
        p = test.loc[test["comparison"] == "all", "p_value"]
        yield (name, kaplan_meier_plot(readouts.kaplan_meier(part), logrank_p=p.iloc[0] if len(p) else None,
                                       palette=palette, cumulative=cumulative), caption)
    for snap in sorted((path / "snapshots").glob("*.npz")):
        arm = snap.stem.split("__")[0]
        try:
            with np.load(snap) as npz:
                keys = npz.files
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # truncated
            warnings.warn(f"{snap.relative_to(path)}: {type(e).__name__}: {e}", store.UnreadableFileWarning)
            continue
        names = list(dict.fromkeys(k.split("/")[0] for k in keys if k.endswith("/state")))
        ndays = len(_snapshot_days(keys, names[0]))
        fig, axes = plt.subplots(len(names), ndays, figsize=(TWO_COLUMN_IN, 2.0 * len(names)), squeeze=False,
                                 layout="constrained")
        for row, name in zip(axes, names):
            lesion_snapshots(snap, name, ax=row)
        for row in axes[1:]:  # one legend and one scale bar, on the first row
            row[-1].get_legend().remove()
            row[0].artists[0].remove()
        yield (f"snapshots_{snap.stem}", fig,
               f"Lesions of {arm}, replicate {snap.stem.split('__r')[-1]}: live tumour, necrotic, apoptotic "
               f"and empty sites, T cells (dots); the day-0 lattice is just before the ablation.")


def _sweep_figures(path: Path, manifest: dict, summary: pd.DataFrame):
    """(name, figure, caption) for a sweep: response per parameter, a response heatmap when two
    parameters vary, burden per point for small sweeps, Sobol indices (Morris mu*, sigma) for a Sobol (Morris) sweep."""
    from .sweep import SweepResults

    params = _sweep_parameters(manifest, summary)
    abscopal = summary[summary["role"] == readouts.UNTREATED]  # a lesion's response where no local event touched it
    untreated = list(dict.fromkeys(abscopal["lesion"]))
    palette = arm_palette(_arms(summary))
    sample = manifest.get("sweep", {}).get("sample", {})
    for lesion in untreated:
        for key in params:
            log_x = isinstance(sample.get(key), dict) and sample[key].get("scale") == "log"
            fig = parameter_response(abscopal, key, lesion, palette=palette, log_x=log_x)
            yield (f"response_{lesion}_{_file_name(key)}", fig,
                   f"Change in the {lesion} lesion's longest diameter at the readout against {key}, per arm "
                   f"(grid: median and 25-75 % range over runs; sampled: one dot per point, mean of replicates); "
                   f"dotted lines: -30 % (PR), +20 % (PD).")
    if len(params) == 2:
        x, y = params
        keys = [c for c in ("point", "arm", "replicate") if c in summary.columns]
        runs = _responders(summary, [*keys, x, y])
        runs[x], runs[y] = _binned(runs[x]), _binned(runs[y])
        arms = _arms(runs)
        fig, axes = plt.subplots(1, len(arms), figsize=(min(ONE_COLUMN_IN * len(arms), TWO_COLUMN_IN), 2.8),
                                 squeeze=False, layout="constrained")
        for ax, arm in zip(axes[0], arms):
            response_heatmap(runs[runs["arm"] == arm], x, y, ax=ax)
            ax.set_title(arm, color=palette[arm])
        yield (f"response_rate_{_file_name(x)}_{_file_name(y)}", fig,
               f"Abscopal response rate (an untreated lesion at <= -30 % of its diameter at the readout) over "
               f"{x} and {y}, per arm (sampled parameters in quintiles); each cell: rate and number of runs.")
    if 0 < len(manifest.get("points", [])) <= POINTS_MAX:
        res = SweepResults.open(path)
        for lesion in untreated:
            yield (f"burden_by_point_{lesion}", burden_by_point(res, lesion, palette=palette),
                   f"Live tumour cells of the {lesion} lesion over time at each point of the sweep (panel "
                   f"titles: its parameter values), median over replicates per arm.")
    yield from _sensitivity_figures(path, summary)


def _file_name(key: str) -> str:
    """A config key as part of a file name: its last two parts ("anti_pd1.start_day")."""
    return ".".join(key.split(".")[-2:])


def _sensitivity_figures(path: Path, summary: pd.DataFrame):
    """Sensitivity of each untreated lesion's change in burden, per arm, for a Sobol or Morris sweep without grid
    axes: Sobol indices (:func:`sobol_bars`) or Morris mu* against sigma (:func:`morris_plot`)."""
    from .sensitivity import sensitivity
    from .sweep import SweepResults

    res = SweepResults.open(path)
    spec = res.manifest.get("sweep", {})
    method = spec.get("method")
    if method not in ("sobol", "morris") or spec.get("grid"):
        return
    untreated = summary.loc[summary["role"] == readouts.UNTREATED, ["arm", "lesion"]].drop_duplicates()
    for arm, lesion in untreated.itertuples(index=False):
        indices = sensitivity(res, output=f"{lesion}_change_pct", arm=arm)
        fig = sobol_bars(indices) if method == "sobol" else morris_plot(indices)
        fig.axes[0].set_title(f"{arm}: {lesion} lesion")
        caption = (f"Sobol first- and total-order indices of the {lesion} lesion's change in live tumour cells "
                   f"at the readout, arm {arm}, with their 95 % bootstrap intervals." if method == "sobol" else
                   f"Morris screening of the {lesion} lesion's change in live tumour cells (%) at the readout, "
                   f"arm {arm}: mean absolute elementary effect μ* (per whole range of each parameter, 95 % "
                   f"bootstrap interval) against their SD σ; dotted: σ = μ*.")
        yield f"{method}_{lesion}_{arm}", fig, caption


@paper_style()
def plot_results(results_dir, out=None, fmt: str = "png") -> list[Path]:
    """Write every figure ``results_dir`` supports into ``out`` (default ``results_dir/figures``).

    An experiment: tumour burden per lesion, waterfall and spider plots of every untreated lesion,
    Kaplan-Meier progression-free survival, lesion snapshots when present. A sweep (its manifest says so
    and names the swept keys): each untreated lesion's response against every swept parameter, a
    response-rate heatmap per arm when two parameters vary, burden over time per point for sweeps of up
    to :data:`POINTS_MAX` points, and Sobol indices (Morris mu* against sigma) per arm for a Sobol (Morris)
    sweep. ``fmt``: "png" (300 dpi), "pdf" or "svg" (vector). Also writes ``index.md``: a line of caption per figure, naming every format
    of it in the folder. Returns the paths written, index.md last. A folder with no results to read raises
    store.FolderError; a run file (or snapshot) that cannot be read is left out with a
    store.UnreadableFileWarning naming it (``abscopal plot`` lists them and exits 1).
    """
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"fmt = {fmt!r}: expected 'png', 'pdf' or 'svg'")
    path = Path(results_dir)
    out = Path(out) if out is not None else path / "figures"
    manifest = store.read_manifest(path)
    store.check_writable_folder(out, "figure folder")
    if manifest.get("kind") == "sweep":
        try:
            summary = pd.read_parquet(path / "summary.parquet")
        except (OSError, ValueError) as e:
            raise store.FolderError(f"{path / 'summary.parquet'}: unreadable ({type(e).__name__}: {e}); "
                                    f"abscopal.SweepResults.build rebuilds it from the run files") from None
        figures = _sweep_figures(path, manifest, summary)
    else:
        figures = _experiment_figures(path)
    written, lines = [], [f"# Figures of {path.name}", ""]
    for name, fig, caption in figures:
        written.append(_save(fig, out / f"{name}.{fmt}"))
        files = [f"`{name}.{ext}`" for ext in ("png", "pdf", "svg") if (out / f"{name}.{ext}").exists()]
        lines.append(f"- {', '.join(files)}: {caption}")
    index = out / "index.md"
    out.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines) + "\n")
    return [*written, index]
