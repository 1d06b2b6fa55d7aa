"""Figures for papers (seaborn on matplotlib). Every function takes ``ax=`` and returns the Figure.

The arm palette is fixed per arm name across figures (colour-blind-safe, seaborn's "colorblind").
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def paper_style() -> None:
    """One theme for every figure: white ticks style, small fonts for one- or two-column figures."""
    sns.set_theme(context="paper", style="ticks", font_scale=1.0, rc={"axes.spines.top": False,
                                                                      "axes.spines.right": False})


def arm_palette(arms) -> dict[str, tuple]:
    """A colour per arm, fixed by the arms' order of first appearance."""
    colours = sns.color_palette("colorblind", max(len(arms), 1))
    return dict(zip(arms, colours))


def burden_over_time(ts: pd.DataFrame, lesion: str, ax=None, palette=None, events: pd.DataFrame | None = None):
    """Live tumour cells of one lesion over time per arm: median line and 90 % band over replicates."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 2.6))
    data = ts[ts["lesion"] == lesion]
    arms = list(dict.fromkeys(ts["arm"]))
    palette = palette or arm_palette(arms)
    for arm, g in data.groupby("arm", sort=False):
        q = g.groupby("time_day")["tumor_cells"].quantile([0.05, 0.5, 0.95]).unstack()
        ax.plot(q.index, q[0.5], color=palette[arm], label=arm, lw=1.5)
        ax.fill_between(q.index, q[0.05], q[0.95], color=palette[arm], alpha=0.2, lw=0)
    if events is not None and len(events):
        for day in sorted(set(events.loc[events["kind"] == "ablation", "day"])):
            ax.axvline(day, color="0.3", ls="--", lw=0.8)
    ax.set_xlabel("day after ablation")
    ax.set_ylabel("live tumour cells")
    ax.set_title(f"{lesion} lesion")
    return ax.figure


def save_burden_figure(results, path: Path) -> Path:
    """One panel per lesion of tumour burden over time (median and 90 % band), legend by arm."""
    paper_style()
    ts = results.timeseries
    lesions = [name for name in dict.fromkeys(ts["lesion"]) if name != "systemic"]
    fig, axes = plt.subplots(1, len(lesions), figsize=(3.4 * len(lesions), 2.8), squeeze=False)
    palette = arm_palette(list(dict.fromkeys(ts["arm"])))
    for ax, lesion in zip(axes[0], lesions):
        burden_over_time(ts, lesion, ax=ax, palette=palette, events=results.events)
    axes[0][-1].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=300)
    plt.close(fig)
    return path
