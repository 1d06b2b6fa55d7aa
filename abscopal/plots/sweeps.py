"""Figures of sweeps: response against a parameter, response-rate heatmaps, burden per point, Sobol and
Morris sensitivity."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config, readouts
from .style import (
    _arms, _axes, _file_name, _legend_outside, _measure, _present, _reference_lines, arm_styles, DAY_LABEL,
    GRID_LEVELS_MAX, paper_style, TWO_COLUMN_IN,
)


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
    ax.set_xlabel(config.axis_label(x))
    ax.set_ylabel(config.axis_label(y))
    return ax.figure


def _value(v) -> str:
    """A parameter value (or an interval of them) rounded to 3 significant digits."""
    if isinstance(v, pd.Interval):
        return f"{v.left:.3g}–{v.right:.3g}"
    return f"{v:.3g}" if isinstance(v, (int, float, np.number)) else str(v)


@paper_style()
def parameter_response(summary: pd.DataFrame, parameter: str, lesion: str = "distant", ax=None, styles=None,
                       log_x: bool = False, criteria=None, sampled: bool | None = None):
    """Change in ``lesion`` at the readout (volume or longest diameter, by ``criteria``; default: the summary's
    ``criteria`` column, RECIST 1.1 without one) against one swept parameter, per arm; the x axis named by the
    parameter's name and unit.

    A grid axis: the median over runs with its 25-75 % range, one line per arm. A sampled parameter (``sampled``;
    default: more than :data:`GRID_LEVELS_MAX` values), e.g. Morris's 4 levels: one dot per point (the mean over
    its replicates), not joined. An arm's own key
    (``arms.NAME. ...``) is drawn for that arm only: it does not act on the others. The criteria's
    thresholds dotted.
    """
    ax = _axes(ax)
    if criteria is None:  # a summary written before the criteria were a parameter was read out by RECIST 1.1
        named = summary["criteria"].dropna() if "criteria" in summary.columns else ()
        criteria = named.iloc[0] if len(named) else "recist"
    change = "volume_change_pct" if readouts.Criteria.of(criteria).by_volume else "diameter_change_pct"
    d = summary[(summary["lesion"] == lesion) & summary["arm"].isin(acting_arms(parameter, _arms(summary)))]
    styles = _present(styles, d)
    values = np.sort(d[parameter].dropna().unique())
    for arm, style in styles.items():
        g = d[d["arm"] == arm]
        if not (sampled if sampled is not None else len(values) > GRID_LEVELS_MAX):
            q = g.groupby(parameter)[change].quantile([0.25, 0.5, 0.75]).unstack()
            ax.errorbar(q.index, q[0.5], yerr=[q[0.5] - q[0.25], q[0.75] - q[0.5]], color=style.colour,
                        marker=style.marker, ms=3, capsize=1.5, lw=1.0, elinewidth=0.7, label=style.label,
                        **style.line(markers=False))
        else:
            key = "point" if "point" in g else parameter
            means = g.groupby(key).agg(x=(parameter, "first"), y=(change, "mean"))
            ax.plot(means["x"], means["y"], ls="", marker=style.marker, ms=2.5, alpha=0.7, mew=0,
                    color=style.colour, label=style.label)
    if log_x:  # ticks at 1, 2 and 5 times powers of ten, labelled as plain numbers
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    _reference_lines(ax, criteria)
    ax.axhline(0, color="0.2", lw=0.6, zorder=0)
    ax.set_xlabel(config.axis_label(parameter))
    ax.set_ylabel(f"change in {lesion}\n{_measure(criteria)} (%)")
    _legend_outside(ax)
    return ax.figure


def acting_arms(key: str, arms: list[str]) -> list[str]:
    """The arms a swept key acts on: an arm's own key (``arms.NAME. ...``) only that arm, any other key all."""
    parts = key.split(".")
    return [parts[1]] if parts[0] == "arms" and len(parts) > 2 and parts[1] in arms else arms


@paper_style()
def burden_by_point(sweep_results, lesion: str = "distant", styles=None):
    """Small multiples: ``lesion``'s live tumour cells over time at each point of a sweep, median per arm.

    One panel per point, titled by its parameter values (the keys' last two parts, 3 significant digits); for
    sweeps of up to :data:`POINTS_MAX` points.
    """
    points = sweep_results.manifest["points"]
    ncols = min(4, len(points))
    nrows = -(-len(points) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(TWO_COLUMN_IN, 1.6 * nrows + 0.6), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    arms = list(dict.fromkeys(r["arm"] for r in sweep_results.runs_ok))
    styles = dict(styles or arm_styles(arms))
    for ax, point in zip(axes.flat, points):
        ts = sweep_results.timeseries(point["point"])
        ts = ts[ts["lesion"] == lesion] if len(ts) else ts
        for arm, style in styles.items():
            g = ts[ts["arm"] == arm] if len(ts) else ts
            if len(g):
                median = g.groupby("time_day")["tumor_cells"].median() / 1e3
                ax.plot(median.index, median.to_numpy(), color=style.colour, lw=1.0, label=style.label,
                        **style.line())
        ax.set_title("\n".join(f"{_file_name(k)} = {_value(v)}" for k, v in point["values"].items()), fontsize=6)
    for ax in axes.flat[len(points):]:
        ax.set_visible(False)
    fig.supxlabel(DAY_LABEL, fontsize=8)
    fig.supylabel(f"{lesion}: live tumour cells (×10³)", fontsize=8)
    fig.legend(handles=[style.handle() for style in styles.values()], loc="outside upper center",
               ncols=min(len(styles), 4))
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
def morris_plot(indices: pd.DataFrame, ax=None, unit: str = "% points per range"):
    """Morris screening: sigma against mu* of each parameter's elementary effects, mu*'s interval as error bars.

    ``indices``: columns ``parameter``, ``mu_star``, ``mu_star_conf``, ``sigma`` (:func:`abscopal.sensitivity`
    of a morris sweep). Right: influential; up: non-linear or interacting. Dotted: sigma = mu* (above it, the
    effects change sign or size strongly across the range). One colour and marker per parameter, named in the
    legend by the last part of its key when that is unique. ``unit``: of the elementary effects (the output's
    unit per whole range of a parameter), on both axes. The intervals of mu* stop at 0 (mu* is not negative).
    """
    ax = _axes(ax, height=2.6)
    short = indices["parameter"].str.rsplit(".", n=1).str[-1]
    names = short if short.is_unique else indices["parameter"]
    colours = sns.color_palette("colorblind", len(indices))
    rows = zip(names, indices["mu_star"], indices["mu_star_conf"], indices["sigma"], colours)
    for i, (name, x, conf, y, colour) in enumerate(rows):
        ax.errorbar([x], [y], xerr=[[min(conf, x)], [conf]], ls="", marker="osD^vP"[i % 6], ms=4, color=colour,
                    elinewidth=0.8, capsize=1.5, label=name)
    top = float(np.nanmax([*(indices["mu_star"] + indices["mu_star_conf"]), *indices["sigma"], 0.0])) * 1.1 or 1.0
    ax.plot([0, top], [0, top], color="0.4", ls=":", lw=0.8, zorder=0)
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(-0.02 * top, top)
    ax.set_xlabel(f"μ*, mean |elementary effect| ({unit})")
    ax.set_ylabel(f"σ, SD of elementary effects ({unit})")
    _legend_outside(ax)
    return ax.figure
