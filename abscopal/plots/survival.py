"""Kaplan-Meier curves with numbers at risk."""

from __future__ import annotations

import pandas as pd
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from .style import _axes, _legend_outside, _present, DAY_LABEL, ENDPOINT_LABELS, paper_style


# ---- Kaplan-Meier -------------------------------------------------------------------------------
#: Vertical distance (points) between consecutive arms' Kaplan-Meier curves, so that coinciding curves stay visible.
KM_OFFSET_PT = 1.5


def km_offset_pt(i: int, n: int) -> float:
    """The vertical offset (points) of the ``i``-th of ``n`` arms' curves: :data:`KM_OFFSET_PT` apart, centred on 0."""
    return (i - (n - 1) / 2) * KM_OFFSET_PT


@paper_style()
def kaplan_meier_plot(km_frame: pd.DataFrame, ax=None, logrank_p: float | None = None, styles=None,
                      cumulative: bool = False):
    """Kaplan-Meier step curves per arm with their confidence bands (``readouts.kaplan_meier`` output).

    Censored times are marked "+"; the numbers at risk are listed under the axis, one row per arm named
    on the left; ``logrank_p`` heads the legend. Curves that coincide (two arms at 100 %) stay visible: each
    arm's curve, band and censor marks are drawn :data:`KM_OFFSET_PT` points above the previous arm's (centred
    on the data), and the legend says so; each arm also has its own dash pattern. ``cumulative``: draw 1 - S
    (the cumulative share with the event, e.g. a distant response), which rises.
    """
    ax = _axes(ax, height=2.8)
    styles = _present(styles, km_frame)
    if cumulative:
        km_frame = km_frame.assign(survival=1 - km_frame["survival"], ci_low=1 - km_frame["ci_high"],
                                   ci_high=1 - km_frame["ci_low"])
    groups = [(arm, km_frame[km_frame["arm"] == arm]) for arm in styles]
    for i, (arm, g) in enumerate(groups):
        style = styles[arm]
        shift = ax.transData + ScaledTranslation(0, km_offset_pt(i, len(groups)) / 72, ax.figure.dpi_scale_trans)
        ax.step(g["time_day"], g["survival"], where="post", color=style.colour, lw=1.0, zorder=2 + i,
                transform=shift, **style.line(markers=False))
        ax.fill_between(g["time_day"], g["ci_low"], g["ci_high"], step="post", color=style.colour, alpha=0.12,
                        lw=0, transform=shift)
        cens = g[g["censored"] > 0]
        ax.plot(cens["time_day"], cens["survival"], ls="", marker="+", ms=4, color=style.colour, zorder=2 + i,
                transform=shift)
    ax.set_ylim(-0.06, 1.06)  # room for the offsets at 0 and 1
    ax.set_xlim(0, km_frame["time_day"].max() * 1.02 or 1)
    ticks = [t for t in ax.get_xticks() if 0 <= t <= km_frame["time_day"].max()]
    ax.set_xticks(ticks)
    endpoint = set(km_frame.get("endpoint", pd.Series(dtype=object)))
    ax.set_ylabel(ENDPOINT_LABELS.get((frozenset(endpoint), cumulative), "cumulative incidence" if cumulative
                                       else "survival probability"))
    ax.set_xlabel(DAY_LABEL)
    handles = [style.handle(marker=None, lw=1.0) for style in styles.values()]
    title = [] if logrank_p is None else ["log-rank " + ("p < 0.001" if logrank_p < 0.001 else f"p = {logrank_p:.2g}")]
    if len(groups) > 1:
        title.append(f"curves offset {KM_OFFSET_PT:g} pt per arm\nfor visibility (not data)")
    _legend_outside(ax, handlelength=3.2, handles=handles, title="\n".join(title) or None)
    # numbers at risk: those still followed at each tick (the at_risk of the first row at or after it)
    inches = ax.figure.dpi_scale_trans
    ax.text(0, 0, "number at risk", transform=ax.transAxes + ScaledTranslation(0, -0.4, inches), fontsize=7,
            va="top", ha="right")
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (arm, g) in enumerate(groups):
        below = ScaledTranslation(0, -0.53 - 0.12 * i, inches)  # one row per arm, under the axis label
        ax.text(0, 0, styles[arm].label, transform=ax.transAxes + below + ScaledTranslation(-0.12, 0, inches),
                fontsize=6, ha="right", va="top", color=styles[arm].colour)
        for t in ticks:
            later = g.loc[g["time_day"] >= t - 1e-9, "at_risk"]
            ax.text(t, 0, f"{int(later.iloc[0]) if len(later) else 0}", transform=trans + below, fontsize=6,
                    ha="center", va="top", color=styles[arm].colour)
    return ax.figure
