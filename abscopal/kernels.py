"""Compiled kernels (numba) of the lattice's hot loops; ``abscopal.compiled`` decides whether they run.

Each does, cell by cell, what the numpy code it replaces does in whole-array operations, with the same
arithmetic in the same precision and order, so the results are identical bit for bit (no fast-math, no random
numbers of their own). Compiled on first use and cached on disk (``cache=True``): the compile cost is paid once.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

#: numba caches a kernel beside its source file; imported from a zip (a wheel on sys.path) there is no such file, and
#: each process compiles its kernels once instead.
CACHE = os.path.isfile(__file__)

LIVE = 1  # as in lesion.tissue; kept here so the kernels need no import of the model


@njit(cache=CACHE)
def divide(local, width, k, sites, times, offsets, state, ant, pdl, dmg, dmg_damp, r0, c0, n, baseline):
    """``Tissue._divide`` compiled: cells at ``sites`` (flat indices of ``local``, the window with a border ``k``
    sites deep, ``width`` wide) divide in their order into the nearest free site of ``offsets``; returns the
    parents and daughters (window flat indices, each round's parents then daughters in the order of the
    daughter's site) and the times of their divisions. Updates ``local`` and the lattice's flat arrays."""
    m = sites.size
    sites, times = sites.copy(), times.copy()
    targets = np.empty(m, np.int64)
    won = np.empty(m, np.bool_)
    winners = np.empty(m, np.int64)
    out_sites = np.empty(2 * m, np.int64)
    out_times = np.empty(2 * m)
    n_out = 0
    while m > 0:
        found = 0
        for i in range(m):  # each cell's nearest free site, on the lattice as the round starts
            s = sites[i]
            for o in offsets:
                if local[s + o] == 0:
                    sites[found], times[found], targets[found] = s, times[i], s + o
                    found += 1
                    break
        m = found
        if m == 0:
            break
        order = np.argsort(targets[:m], kind="mergesort")  # the first cell to push toward a site takes it
        won[:m] = False
        wins = 0
        last = -1
        for i in order:
            if targets[i] != last:
                last = targets[i]
                won[i] = True
                winners[wins] = i
                wins += 1
        for q in range(wins):
            i = winners[q]
            parent, born = sites[i], targets[i]
            local[born] = LIVE
            out_sites[n_out + q], out_sites[n_out + wins + q] = parent, born
            out_times[n_out + q] = out_times[n_out + wins + q] = times[i]
            p = (parent // width + r0 - k) * n + parent % width + c0 - k
            b = (born // width + r0 - k) * n + born % width + c0 - k
            state[b] = LIVE
            ant[b] = ant[p]
            pdl[b] = baseline
            left = dmg[p] - 1 if dmg[p] > 0 else 0  # an abortive division: both keep the damage
            dmg[p] = left
            dmg[b] = left
            dmg_damp[b] = dmg_damp[p]
        n_out += 2 * wins
        waiting = 0
        for i in range(m):
            if not won[i]:
                sites[waiting], times[waiting] = sites[i], times[i]
                waiting += 1
        m = waiting
    out = out_sites[:n_out]
    return (out // width - k) * (width - 2 * k) + out % width - k, out_times[:n_out]


@njit(cache=CACHE)
def relax_pd_l1(pd_l1, live, target, pixel, f):
    """``Tissue.update_pd_l1`` compiled: PD-L1 of the cells at flat ``live`` relaxes by the fraction ``f`` toward
    ``target`` of its field pixel (float64 arithmetic, stored as float32)."""
    for s in live:
        current = np.float64(pd_l1[s])
        pd_l1[s] = np.float32(current + (target[pixel[s]] - current) * f)


@njit(cache=CACHE)
def fill_holes(occupied):
    """``geometry.fill_holes`` compiled: ``occupied`` with the empty sites not 4-connected to the array's border
    (holes) filled, by a flood fill of the outside from the border instead of labelling every empty region."""
    rows, cols = occupied.shape
    filled = np.ones((rows, cols), np.bool_)  # True until reached from the border
    stack_r = np.empty(rows * cols, np.int64)
    stack_c = np.empty(rows * cols, np.int64)
    top = 0
    for i in range(rows):
        for j in range(cols):
            if (i == 0 or i == rows - 1 or j == 0 or j == cols - 1) and not occupied[i, j] and filled[i, j]:
                filled[i, j] = False
                stack_r[top], stack_c[top] = i, j
                top += 1
    while top > 0:
        top -= 1
        i, j = stack_r[top], stack_c[top]
        if i > 0 and filled[i - 1, j] and not occupied[i - 1, j]:
            filled[i - 1, j] = False
            stack_r[top], stack_c[top] = i - 1, j
            top += 1
        if i < rows - 1 and filled[i + 1, j] and not occupied[i + 1, j]:
            filled[i + 1, j] = False
            stack_r[top], stack_c[top] = i + 1, j
            top += 1
        if j > 0 and filled[i, j - 1] and not occupied[i, j - 1]:
            filled[i, j - 1] = False
            stack_r[top], stack_c[top] = i, j - 1
            top += 1
        if j < cols - 1 and filled[i, j + 1] and not occupied[i, j + 1]:
            filled[i, j + 1] = False
            stack_r[top], stack_c[top] = i, j + 1
            top += 1
    return filled
