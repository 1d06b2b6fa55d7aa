"""The lesion's tissue: a 2D lattice of tumour cells (one site = one cell), their growth, death and clearance.

Per-cell state lives in arrays (struct of arrays): ``state`` (empty, live, necrotic, apoptotic),
``antigenicity``, ``pd_l1``, and the lethal damage radiotherapy leaves (``lethal_damage``,
``damage_damp_yield``): a doomed cell lives on until it dies at a mitosis or by delayed apoptosis.
Cells within ``proliferative_rim_um`` of the lesion's edge divide (a viable rim limited by oxygen
diffusion: Thomlinson & Gray 1955; the core is quiescent); the daughter takes the nearest free site, as if
the cells between were pushed aside. Dead cells occupy
space until cleared, and the tissue closes over the holes they leave. Work is restricted to the bounding
box of the tissue; per-cell updates address sites by flat index (row * side + column) in whole-array operations.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .. import compiled
from ..odes import hill
from .geometry import EMPTY, Rim, erode, fill_holes, longest_diameter_mm, nearest_free, offsets_by_distance

LIVE, NECROTIC, APOPTOTIC = 1, 2, 3


class Tissue:
    """The lattice of one lesion: cell states, antigenicity (relative, lognormal) and PD-L1 (relative to baseline
    expression) per site of ``tumour.cell_diameter_um``."""

    def __init__(self, spec: dict, params: dict, rng: np.random.Generator):
        tumour = params["tumour"]
        self.params = params
        self.cell_um = tumour["cell_diameter_um"]
        n = int(round(spec["domain_mm"] * 1000.0 / self.cell_um))
        self.state = np.zeros((n, n), np.int8)
        self.antigenicity = np.zeros((n, n), np.float32)
        self.pd_l1 = np.zeros((n, n), np.float32)
        # lethal radiation damage: 0 none; k >= 1: the cell dies at its k-th mitosis attempt (k - 1 abortive
        # divisions left) unless delayed apoptosis comes first; and the DAMPs of that death (a necrotic death's units)
        self.lethal_damage = np.zeros((n, n), np.int8)
        self.damage_damp_yield = np.zeros((n, n), np.float32)
        yy, xx = np.ogrid[:n, :n]
        centre = (n - 1) / 2.0
        radius = spec["diameter_mm"] * 500.0 / self.cell_um
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= radius**2
        self.state[disc] = LIVE
        self.antigenicity[disc] = self._draw_antigenicity(int(disc.sum()), rng)
        self.pd_l1[disc] = tumour["pd_l1_baseline"]
        self._find_box()
        self.rim = Rim((n, n))

    def _draw_antigenicity(self, n: int, rng: np.random.Generator) -> np.ndarray:
        t = self.params["tumour"]
        mean, cv = t["antigenicity_mean"], t["antigenicity_cv"]
        if cv == 0 or mean == 0:
            return np.full(n, mean, np.float32)
        s2 = math.log1p(cv**2)
        return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), n).astype(np.float32)

    def _find_box(self, rs: slice = slice(None), cs: slice = slice(None)) -> None:
        """Recompute the bounding box of the tissue, which lies within rows ``rs`` and columns ``cs``
        (after growth; death only shrinks it)."""
        rs, cs = slice(*rs.indices(self.state.shape[0])), slice(*cs.indices(self.state.shape[1]))
        tissue = self.state[rs, cs]
        rows = np.flatnonzero(tissue.any(axis=1))
        if rows.size == 0:
            self._box = (0, 0, 0, 0)
            return
        cols = np.flatnonzero(tissue[rows[0] : rows[-1] + 1].any(axis=0))
        self._box = (rs.start + rows[0], rs.start + rows[-1] + 1, cs.start + cols[0], cs.start + cols[-1] + 1)

    def _sites(self, condition) -> np.ndarray:
        """Flat indices, in row-major order, of the sites whose state meets ``condition`` (a function of
        a state array), searched in the rows of the tissue's bounding box."""
        r0, r1, _, _ = self._box
        return np.flatnonzero(condition(self.state[r0:r1])) + r0 * self.state.shape[1]

    def window(self, pad: int = 1) -> tuple[slice, slice]:
        """The bounding box of the tissue, padded by ``pad`` sites (clipped at the domain)."""
        r0, r1, c0, c1 = self._box
        if r1 == r0:
            return slice(0, 0), slice(0, 0)
        n = self.state.shape[0]
        return slice(max(r0 - pad, 0), min(r1 + pad, n)), slice(max(c0 - pad, 0), min(c1 + pad, n))

    def live_sites(self) -> np.ndarray:
        """Flat indices of the live tumour cells (found once a step, shared by the updates)."""
        return self._sites(lambda state: state == LIVE)

    # ---- growth ------------------------------------------------------------------------------
    def grow(self, day: float, dt: float, rate: float, rng) -> np.ndarray:
        """Live cells within the proliferative rim of the lesion's outer edge divide into the nearest free site,
        at ``rate`` per day; ``rng``: the lesion's streams of the day ("growth", "contraction"). Returns the flat
        indices of the lethally damaged cells that attempted a mitosis with no abortive division left: they die of
        it (mitotic catastrophe; the lesion kills them), instead of dividing.

        The rim is measured from the outer edge (holes inside the lesion do not count: the interior
        is quiescent for want of oxygen), and a daughter needs a free site within the rim's depth
        (the chain of cells it can push aside). Each cell divides at the growth rate: its division times
        within the step are drawn (exponential waits) and the divisions happen in their order, parent and
        daughter dividing again if their next division falls within the step, as in continuous time; so
        the growth does not depend on the time step.
        """
        rim_sites = self.params["tumour"]["proliferative_rim_um"] / self.cell_um
        rs, cs = self.window(pad=int(math.ceil(rim_sites)))  # as far as a daughter can be pushed
        catastrophes = []
        if rs.stop == rs.start:  # no tissue left
            return np.empty(0, np.int64)
        if self.rim.day != math.floor(day):  # the outer edge moves about a cell a day: measure it daily
            self.rim.day = math.floor(day)  # (holes close and T cells find the edge whether it grows or not)
            filled = self._contract(rs, cs, fill_holes(self.state[rs, cs] != EMPTY), rng["contraction"])
            self.rim.measure(filled, rs, cs, rim_sites)
            self._find_box(rs, cs)  # contraction moved edge cells inward
        if rate == 0 or (self.state[rs, cs] != EMPTY).all():
            return np.empty(0, np.int64)
        sites = np.flatnonzero((self.state[rs, cs] == LIVE) & self.rim.in_rim[rs, cs])  # window flat indices
        rng = rng["growth"]
        times = rng.exponential(1.0 / rate, sites.size)  # each cell's next division, days into the step
        while (soon := times < dt).any():
            order = np.argsort(times[soon], kind="stable")
            sites, times = sites[soon][order], times[soon][order]
            flat = self._flat(sites, rs, cs)
            doomed = self.lethal_damage.reshape(-1)[flat] == 1  # no abortive division left
            catastrophes.append(flat[doomed])
            sites, times = self._divide(sites[~doomed], times[~doomed], rs, cs, rim_sites)
            times = times + rng.exponential(1.0 / rate, times.size)
        self._find_box(rs, cs)
        return np.concatenate(catastrophes) if catastrophes else np.empty(0, np.int64)

    def _flat(self, sites: np.ndarray, rs: slice, cs: slice) -> np.ndarray:
        """Window flat indices (window rs, cs) as flat indices of the lattice."""
        r, c = np.divmod(sites, cs.stop - cs.start)
        return (r + rs.start) * self.state.shape[1] + c + cs.start

    def _divide(self, sites: np.ndarray, times: np.ndarray, rs: slice, cs: slice,
                rim_sites: float) -> tuple[np.ndarray, np.ndarray]:
        """Cells at ``sites`` (flat indices in the window rs, cs) divide at ``times`` (days), in this order of
        precedence. Returns the parents and daughters of the divisions that found room (window flat
        indices) with the time of their division.

        Daughters go to the nearest free site inside the window (the tissue's box padded by the rim's depth):
        a local copy of it with a border of occupied sites as deep as the search.
        """
        k = int(math.ceil(rim_sites))
        local = np.full((rs.stop - rs.start + 2 * k, cs.stop - cs.start + 2 * k), LIVE, np.int8)
        local[k:-k, k:-k] = self.state[rs, cs]
        width, n = local.shape[1], self.state.shape[1]
        sites = sites + sites // (width - 2 * k) * 2 * k + k * width + k  # window -> local flat indices
        state, ant, pdl = self.state.reshape(-1), self.antigenicity.reshape(-1), self.pd_l1.reshape(-1)
        dmg, dmg_damp = self.lethal_damage.reshape(-1), self.damage_damp_yield.reshape(-1)
        baseline = self.params["tumour"]["pd_l1_baseline"]
        if compiled.KERNELS is not None:
            off = offsets_by_distance(rim_sites)
            return compiled.KERNELS.divide(local.reshape(-1), width, k, sites, times, off[:, 0] * width + off[:, 1],
                                           state, ant, pdl, dmg, dmg_damp, rs.start, cs.start, n, baseline)
        divided, when = [], []
        # Several cells may push toward the same free site: the first takes it, the others take the
        # nearest free site still within reach, as they would one after the other in continuous time.
        while sites.size:
            found, targets = nearest_free(local, sites, rim_sites)
            times = times[np.isin(sites, found, assume_unique=True)]
            sites = found
            if sites.size == 0:
                break
            _, first = np.unique(targets, return_index=True)
            local.reshape(-1)[targets[first]] = LIVE
            pair = np.concatenate([sites[first], targets[first]])
            divided.append(pair)
            when.append(np.concatenate([times[first], times[first]]))
            lr, lc = np.divmod(pair, width)
            parent, born = np.split((lr + rs.start - k) * n + lc + cs.start - k, 2)
            state[born] = LIVE
            ant[born] = ant[parent]
            pdl[born] = baseline
            left = np.where(dmg[parent] > 0, dmg[parent] - 1, 0)  # an abortive division: both keep the damage
            dmg[parent] = dmg[born] = left
            dmg_damp[born] = dmg_damp[parent]
            waiting = np.ones(sites.size, bool)
            waiting[first] = False
            sites, times = sites[waiting], times[waiting]
        if not divided:
            return np.empty(0, np.int64), np.empty(0)
        lr, lc = np.divmod(np.concatenate(divided), width)
        return (lr - k) * (width - 2 * k) + lc - k, np.concatenate(when)

    def _contract(self, rs: slice, cs: slice, filled: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The tissue closes over holes left by cleared cells: cells of the outer edge move into holes.

        Up to ``release.contraction_layers_per_day`` layers a day; the cells keep their state and
        traits. Without it, a lesion emptied from inside would keep its outline on imaging. Returns
        the lesion's filled outline afterwards.
        """
        cells = [a[rs, cs] for a in (self.state, self.antigenicity, self.pd_l1, self.lethal_damage,
                                     self.damage_damp_yield)]  # a cell's state and traits move with it
        state = cells[0]
        holes = np.flatnonzero(filled & (state == EMPTY))
        for _ in range(self.params["release"]["contraction_layers_per_day"]):
            if holes.size == 0:
                break
            edge = np.flatnonzero(filled & (state != EMPTY) & ~erode(filled))
            k = min(holes.size, edge.size)
            src = rng.choice(edge, k, replace=False)
            dst = rng.choice(holes, k, replace=False)
            for a in cells:
                a.flat[dst] = a.flat[src]
            state.flat[src] = EMPTY
            filled.flat[src] = False
            holes = np.setdiff1d(holes, dst, assume_unique=True)
        return filled

    # ---- death and clearance -----------------------------------------------------------------
    def dying(self, dt: float, live: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The live cells (flat indices ``live``) that die by apoptosis at the spontaneous death rate over dt days."""
        p = 1.0 - math.exp(-self.params["tumour"]["spontaneous_death_per_day"] * dt)
        return live[rng.random(live.size) < p]

    def dying_of_damage(self, dt: float, live: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The lethally damaged cells among the live ones (flat indices ``live``) that die by delayed apoptosis over
        dt days, at ``radiation_damage.delayed_apoptosis_per_day`` whether they divide or not (no draws if none is
        damaged, so untreated arms keep their random numbers)."""
        flat = live[self.lethal_damage.reshape(-1)[live] > 0]
        flat = flat[self.state.reshape(-1)[flat] == LIVE]  # not dead already this step
        if flat.size == 0:
            return flat
        p = -math.expm1(-self.params["radiation_damage"]["delayed_apoptosis_per_day"] * dt)
        return flat[rng.random(flat.size) < p]

    def depth_um(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Depth (µm) of sites (rows, cols) below the lesion's outer edge: from a cell's centre to the nearest
        site outside the lesion's filled outline (holes inside do not count), less half a cell."""
        rs, cs = self.window(pad=1)
        inside = fill_holes(self.state[rs, cs] != EMPTY)
        sites = ndimage.distance_transform_edt(inside)[rows - rs.start, cols - cs.start]
        return (sites - 0.5) * self.cell_um

    def clear_dead(self, dt: float, rng: np.random.Generator) -> None:
        """Dead cells are cleared (their site becomes free): apoptotic cells by phagocytes, necrotic debris slowly."""
        rel = self.params["release"]
        flat = self.state.reshape(-1)
        dead = self._sites(lambda state: state >= NECROTIC)
        rate = np.where(flat[dead] == APOPTOTIC, rel["apoptotic_clearance_per_day"], rel["dead_cell_clearance_per_day"])
        gone = rng.random(dead.size) < -np.expm1(-rate * dt)
        flat[dead[gone]] = EMPTY

    def clear(self) -> None:
        """Every cell is removed (surgery)."""
        self.state[:] = EMPTY
        self._find_box()

    # ---- PD-L1 -------------------------------------------------------------------------------
    def update_pd_l1(self, dt: float, live: np.ndarray, ifn_per_mm2: np.ndarray, pixel: np.ndarray) -> None:
        """PD-L1 of the cells live at the step's start (flat indices ``live``) relaxes toward its
        IFN-γ-induced level (adaptive resistance); ``ifn_per_mm2``: IFN-γ per field pixel, ``pixel``: the field
        pixel of each site."""
        t = self.params["tumour"]
        target = t["pd_l1_baseline"] * (
            1.0 + (t["pd_l1_max_fold"] - 1.0) * hill(ifn_per_mm2, t["ifn_gamma_half_saturation_per_mm2"])
        )  # per field pixel
        f = 1.0 - math.exp(-t["pd_l1_upregulation_per_day"] * dt)
        pd_l1 = self.pd_l1.reshape(-1)
        if compiled.KERNELS is not None:
            compiled.KERNELS.relax_pd_l1(pd_l1, live, target.reshape(-1), pixel, f)
            return
        current = np.take(pd_l1, live)
        relaxed = current + (np.take(target.reshape(-1), np.take(pixel, live)) - current) * f
        pd_l1[live] = relaxed.astype(np.float32)

    # ---- readouts ----------------------------------------------------------------------------
    def outer_edge(self, rs: slice, cs: slice) -> np.ndarray:
        """Tissue sites on the lesion's outer edge (as measured at the start of the day)."""
        return (self.state[rs, cs] != EMPTY) & self.rim.on_edge[rs, cs]

    def area_mm2(self) -> float:
        """Area of the lesion's tissue (live and uncleared dead cells), mm²."""
        rs, cs = self.window(pad=0)
        return float(np.count_nonzero(self.state[rs, cs])) * (self.cell_um / 1000.0) ** 2

    def live_volume_mm3(self) -> float:
        """Volume of the lesion's live tumour cells, mm³: the section stands for a sphere whose central section has
        the live area A, V = 4/3 π r³ with r = √(A/π) (the section's cells times 4r / 3d, d the cell diameter; a round
        section's caliper volume L x W² / 2 is within 5 % of it)."""
        rs, cs = self.window(pad=0)
        area = np.count_nonzero(self.state[rs, cs] == LIVE) * (self.cell_um / 1000.0) ** 2
        return 4.0 / 3.0 * math.pi * math.sqrt(area / math.pi) ** 3

    def longest_diameter_mm(self) -> float:
        """Longest diameter of the lesion's tissue (live and uncleared dead cells), in mm, as imaging sees it."""
        rs, cs = self.window(pad=0)
        return longest_diameter_mm(self.state[rs, cs] != EMPTY, self.cell_um)

    def record(self) -> dict[str, float]:
        """The tissue's columns of the lesion's row of the time series ."""
        rs, cs = self.window(pad=0)
        state = self.state[rs, cs]
        live = state == LIVE
        n_live = int(live.sum())
        return {
            "tumor_cells": n_live,
            "lethally_damaged_cells": int((self.lethal_damage[rs, cs][live] > 0).sum()),
            "necrotic_cells": int((state == NECROTIC).sum()),
            "apoptotic_cells": int((state == APOPTOTIC).sum()),
            "viable_area_mm2": n_live * (self.cell_um / 1000.0) ** 2,
            "longest_diameter_mm": self.longest_diameter_mm(),
            "pd_l1_mean": float(self.pd_l1[rs, cs][live].mean()) if n_live else float("nan"),
        }
