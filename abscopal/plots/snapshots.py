"""Lesion snapshots: the lattice of a lesion at each snapshot day, with T cells and PD-L1."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from .style import _legend_outside, paper_style, STATE_COLOURS, T_CELL_COLOURS, TWO_COLUMN_IN


# ---- snapshots ----------------------------------------------------------------------------------
def _snapshot_days(arrays, lesion: str) -> list[str]:
    """The snapshot day labels ("day0", "day1", ...) of one lesion, in time order."""
    labels = {k.split("/")[1] for k in arrays if k.startswith(f"{lesion}/") and k.endswith("/state")}
    return sorted(labels, key=lambda d: float(re.fullmatch(r"day(-?[\d.]+)", d).group(1)))


@paper_style()
def lesion_snapshots(npz_path, lesion: str, ax=None, pd_l1: bool = False, window=None, pd_l1_max=None):
    """One lesion's lattice at each snapshot day, side by side, with a scale bar in mm.

    Live tumour cells, necrotic, apoptotic and empty sites in distinct colours (live cells coloured by
    PD-L1 when ``pd_l1``); T cells as small translucent dots over the tissue, exhausted ones in another colour.
    ``ax``: one axes per day (a sequence) or None. ``window``: (lo, hi) in mm on both axes, the same for
    every lesion and file compared (default: this file's lesions, :func:`snapshot_window`); ``pd_l1_max``: the top
    of the PD-L1 colour scale, the same for every lesion compared (default: this lesion's highest). The day-0
    snapshot is taken just before the ablation.
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
    lo, hi = window or snapshot_window([arrays])
    extent = (0, n * cell_mm, n * cell_mm, 0)
    live_pd_l1 = [np.ma.masked_where(state != 1, arrays[f"{lesion}/{d}/pd_l1"]) for d, state in zip(days, states)]
    pd_l1_max = pd_l1_max or max([float(level.max()) for level in live_pd_l1 if level.count()], default=1.0)
    state_cmap = ListedColormap(list(STATE_COLOURS.values()))
    for a, day, state, level in zip(axes, days, states, live_pd_l1):
        a.imshow(state, cmap=state_cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest")
        if pd_l1:
            image = a.imshow(level, cmap="viridis", vmin=0, vmax=pd_l1_max, extent=extent, interpolation="nearest")
        t = arrays[f"{lesion}/{day}/t_cells"]
        for exhausted, (label, colour) in enumerate(T_CELL_COLOURS.items()):
            sel = t[t[:, 2] == exhausted] if len(t) else t
            a.scatter((sel[:, 1] + 0.5) * cell_mm, (sel[:, 0] + 0.5) * cell_mm, s=0.4, color=colour, lw=0,
                      alpha=0.6, label=label)
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


def snapshot_window(files) -> tuple[float, float]:
    """The square (lo, hi in mm, both axes) holding every lesion of the snapshot ``files`` (paths or loaded
    arrays) on every day, with a margin: one zoom for every panel compared, so that sizes compare."""
    lo, hi = np.inf, -np.inf
    for arrays in files:
        if not isinstance(arrays, dict):
            with np.load(arrays) as npz:
                arrays = dict(npz)
        cell_mm = float(arrays["cell_um"]) / 1000.0
        states = [a for k, a in arrays.items() if k.endswith("/state")]
        n = max(state.shape[0] for state in states)
        rows, cols = np.nonzero(np.any([state > 0 for state in states if state.shape[0] == n], axis=0))
        pad = max(4, int(0.05 * n))
        if len(rows):
            lo = min(lo, max(min(rows.min(), cols.min()) - pad, 0) * cell_mm)
            hi = max(hi, min(max(rows.max(), cols.max()) + pad + 1, n) * cell_mm)
        else:
            lo, hi = min(lo, 0.0), max(hi, n * cell_mm)
    return float(lo), float(hi)


def _nice_length(x: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten not above ``x``."""
    power = 10.0 ** np.floor(np.log10(x))
    return max(m * power for m in (1, 2, 5) if m * power <= x)
