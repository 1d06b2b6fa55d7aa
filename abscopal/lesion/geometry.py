"""The lesion's shape on the lattice: distances, holes, the outer edge and proliferative rim, the longest diameter.

Pure functions of boolean masks (True: a site of tissue, or of whatever the caller measures) and the ``Rim``
that a lesion measures once a day. Distances are Euclidean, in lattice sites.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from .. import compiled

EMPTY = 0  # the lattice state of a free site (see ``tissue``)


@functools.lru_cache(maxsize=8)
def offsets_by_distance(radius: float) -> np.ndarray:
    """Lattice offsets within ``radius`` sites, nearest first."""
    k = int(math.ceil(radius))
    dr, dc = np.mgrid[-k : k + 1, -k : k + 1]
    d = np.hypot(dr, dc).ravel()
    keep = (d <= radius) & (d > 0)
    order = np.argsort(d[keep], kind="stable")
    return np.column_stack([dr.ravel()[keep], dc.ravel()[keep]])[order]


def nearest_free(state: np.ndarray, sites: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """For cells at flat indices ``sites`` of the lattice ``state``, the nearest empty site within ``radius``
    sites (nearest first, ties in a fixed order); cells with none are dropped. ``state`` must have a
    border ``ceil(radius)`` sites wide that is not empty.

    Returns (sites, targets) of the cells that have one, as flat indices.
    """
    off = offsets_by_distance(radius)
    cand = sites[:, None] + (off[:, 0] * state.shape[1] + off[:, 1])
    free = state.ravel()[cand] == EMPTY
    has = free.any(axis=1)
    return sites[has], cand[has, free[has].argmax(axis=1)]


@functools.lru_cache(maxsize=8)
def _disc_rows(radius: float) -> dict[int, int]:
    """Row offset -> half width of the disc of lattice offsets within ``radius`` sites (the float32
    comparison a distance transform makes)."""
    def reaches(dr: int, dc: int) -> bool:
        return bool(np.float32(math.sqrt(dr * dr + dc * dc)) <= radius)

    rows = {}
    k = int(math.ceil(radius))
    for dr in range(-k, k + 1):
        if reaches(dr, 0):
            half = 0
            while reaches(dr, half + 1):
                half += 1
            rows[dr] = half
    return rows


def _within(mask: np.ndarray, radius: float) -> np.ndarray:
    """Sites within Euclidean distance ``radius`` of a True site of ``mask`` (inside the array): a
    disc-shaped dilation made of horizontal runs, shifted by each row offset."""
    rows = _disc_rows(radius)
    runs = [mask]  # runs[h]: a True site within h columns in the same row
    for h in range(1, max(rows.values()) + 1):
        run = runs[-1].copy()
        run[:, h:] |= mask[:, :-h]
        run[:, :-h] |= mask[:, h:]
        runs.append(run)
    n_rows = mask.shape[0]
    out = runs[rows[0]].copy()
    for dr, half in rows.items():
        if abs(dr) >= n_rows:  # no row of the array is that far from another (a negative stop would wrap)
            continue
        if dr > 0:
            out[: n_rows - dr] |= runs[half][dr:]
        elif dr < 0:
            out[-dr:] |= runs[half][: n_rows + dr]
    return out


def fill_holes(occupied: np.ndarray) -> np.ndarray:
    """``occupied`` with its holes (empty regions not connected to the array's border) filled."""
    if compiled.KERNELS is not None:
        return compiled.KERNELS.fill_holes(occupied)
    labels, _ = ndimage.label(~occupied)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.zeros(labels.max() + 1, bool)
    outside[border] = True
    outside[0] = False
    return ~outside[labels]


def erode(mask: np.ndarray) -> np.ndarray:
    """Binary erosion by the 4-neighbour cross; sites on the array's border erode."""
    out = np.zeros_like(mask)
    out[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return out


def longest_diameter_mm(occupied: np.ndarray, cell_um: float) -> float:
    """Longest diameter of the True sites of ``occupied`` (sites of ``cell_um`` µm), in mm, as imaging sees it."""
    rows = np.flatnonzero(occupied.any(axis=1))
    if rows.size == 0:
        return 0.0
    # the convex hull of the tissue is the hull of each row's leftmost and rightmost cell
    first = occupied[rows].argmax(axis=1)
    last = occupied.shape[1] - 1 - occupied[rows, ::-1].argmax(axis=1)
    pts = np.column_stack([np.concatenate([rows, rows]), np.concatenate([first, last])]).astype(float)
    try:
        pts = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        pass  # fewer than three cells or all on a line: use them all
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)).max()
    return float((d + 1.0) * cell_um / 1000.0)


class Rim:
    """Depth from the lesion's outer edge (outside its filled outline: 0), measured once a day: the sites
    within the proliferative rim and those on the outer edge (depth <= 1 site)."""

    def __init__(self, shape: tuple[int, int]):
        self.in_rim = np.ones(shape, bool)
        self.on_edge = np.ones(shape, bool)
        self.day: int | None = None  # the day it was last measured

    def measure(self, filled: np.ndarray, rs: slice, cs: slice, rim_sites: float) -> None:
        """Mark, in the window (rs, cs) whose filled outline is ``filled``, the sites within ``rim_sites`` of
        the outline's edge and those on it."""
        outside = ~filled
        for mask, depth in ((self.in_rim, rim_sites), (self.on_edge, 1.0)):
            mask[:] = True
            mask[rs, cs] = _within(outside, depth)
