"""One lesion: a 2D lattice of tumour cells (one site = one cell) and its diffusing fields.

Per-cell state lives in arrays (struct of arrays): ``state`` (empty, live, necrotic, apoptotic),
``antigenicity`` and ``pd_l1``. Cells within ``proliferative_rim_um`` of the lesion's edge divide
(a viable rim limited by oxygen diffusion: Thomlinson & Gray 1955; the core is quiescent); the
daughter takes the nearest free site, as if the cells between were pushed aside. Dead cells occupy
space until cleared.
Antigen, DAMPs and IFN-γ live on a coarser grid (``release.field_resolution_um``); they diffuse
(an exact Gaussian kernel per step) and decay (exact exponentials). What cells release during a step
enters the fields as released uniformly over it (the mean decay over the step, half a step of diffusion),
and DCs meet the fields averaged over the step, the DAMP level on a physical scale
(``dendritic_cells.damp_sensing_um``), so results depend neither on the time step nor on the grid. Work is restricted to the bounding box of the tissue; per-cell updates address
sites by flat index (row * side + column) in whole-array operations.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from .immune.dendritic_cells import LesionDendriticCells
from .immune.suppressors import Suppressors
from .immune.t_cells import EffectorTCells
from .odes import hill

EMPTY, LIVE, NECROTIC, APOPTOTIC = 0, 1, 2, 3


@functools.lru_cache(maxsize=8)
def _offsets_by_distance(radius: float) -> np.ndarray:
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
    off = _offsets_by_distance(radius)
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


def _decay_over_step(x: float) -> float:
    """Mean of exp(-k t) over a step (x = k dt), t uniform on it: what is left at the step's end of what was
    released uniformly over it, or the mean over the step of what was there at its start."""
    return -math.expm1(-x) / x if x > 0 else 1.0


def _present_over_step(x: float) -> float:
    """Mean over a step (x = k dt) of the share present of what is released uniformly during it (1/2 if x = 0)."""
    return (1.0 - _decay_over_step(x)) / x if x > 0 else 0.5


@functools.lru_cache(maxsize=16)
def _gaussian_operator(sigma: float, n: int) -> np.ndarray:
    """The matrix of scipy.ndimage's Gaussian filter (zero outside) on n pixels: filtered x = G @ x,
    so a square field F filters to G @ F @ G.T (matrix products are faster than the convolution)."""
    return ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0, mode="constant")


def _fill_holes(occupied: np.ndarray) -> np.ndarray:
    """``occupied`` with its holes (empty regions not connected to the array's border) filled."""
    labels, _ = ndimage.label(~occupied)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.zeros(labels.max() + 1, bool)
    outside[border] = True
    outside[0] = False
    return ~outside[labels]


def _erode(mask: np.ndarray) -> np.ndarray:
    """Binary erosion by the 4-neighbour cross; sites on the array's border erode."""
    out = np.zeros_like(mask)
    out[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return out


class Lesion:
    """A lesion's cells, fields, infiltrate and local immune compartments."""

    def __init__(self, name: str, spec: dict, params: dict, streams, created_day: float):
        tumour, release = params["tumour"], params["release"]
        self.name = name
        self.params = params
        self.blood_flow_share = spec["blood_flow_share"]
        self.recruitment_capacity = spec["recruitment_capacity"]
        self.created_day = created_day
        self.resected = False
        self.cell_um = tumour["cell_diameter_um"]
        self.streams = streams
        self.rng = streams.daily(name)  # by purpose; re-keyed each day by ``new_day``
        n = int(round(spec["domain_mm"] * 1000.0 / self.cell_um))
        self.state = np.zeros((n, n), np.int8)
        self.antigenicity = np.zeros((n, n), np.float32)
        self.pd_l1 = np.zeros((n, n), np.float32)
        yy, xx = np.ogrid[:n, :n]
        centre = (n - 1) / 2.0
        radius = spec["diameter_mm"] * 500.0 / self.cell_um
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= radius**2
        self.state[disc] = LIVE
        self.antigenicity[disc] = self._draw_antigenicity(int(disc.sum()), self.rng["growth"])
        self.pd_l1[disc] = tumour["pd_l1_baseline"]
        self._find_box()
        # depth from the lesion's outer edge (outside its outline: 0), measured daily: within the
        # proliferative rim, and on the outer edge (depth <= 1 site)
        self._in_rim = np.ones((n, n), bool)
        self._on_edge = np.ones((n, n), bool)
        self._rim_day = None
        self.block = max(1, int(round(release["field_resolution_um"] / self.cell_um)))
        nf = -(-n // self.block)
        rows = np.arange(n) // self.block
        self._pixel = (rows[:, None] * nf + rows[None, :]).ravel().astype(np.int32)  # field pixel of each site (flat)
        self.antigen = np.zeros((nf, nf))  # cell-equivalents of intact antigen per field pixel
        self.damp = np.zeros((nf, nf))  # DAMP units per field pixel
        self.apoptotic_antigen = np.zeros((nf, nf))  # the part of ``antigen`` released by apoptotic cells
        self.ifn = np.zeros((nf, nf))  # effector-equivalents of IFN-γ per field pixel
        # released during the current step, not yet in the fields (same units)
        self.released = {"antigen": np.zeros((nf, nf)), "apoptotic_antigen": np.zeros((nf, nf)),
                         "damp": np.zeros((nf, nf))}
        self.pixel_mm2 = (self.block * self.cell_um / 1000.0) ** 2
        self.t_cells = EffectorTCells(params["immune"])
        self.dcs = LesionDendriticCells(params["dendritic_cells"])
        self.suppressors = Suppressors(params["suppressors"])
        self.injury_inflammation = 0.0  # inflammation (0-1) left by sublethal injury of the surviving cells

    # ---- helpers -------------------------------------------------------------------------------
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

    def _release(self, sites: np.ndarray, antigen: np.ndarray, damp: float, apoptotic: bool) -> None:
        """Release antigen (per cell) and DAMPs (per cell) of dying cells at flat ``sites`` on their field pixels
        (into ``released``: the fields take it at the step's end, or at the next step's start for a treatment)."""
        if sites.size == 0:
            return
        nf = self.antigen.shape[0]
        idx = self._pixel[sites]
        released = np.bincount(idx, weights=antigen, minlength=nf * nf).reshape(nf, nf)
        self.released["antigen"] += released
        if apoptotic:
            self.released["apoptotic_antigen"] += released
        self.released["damp"] += damp * np.bincount(idx, minlength=nf * nf).reshape(nf, nf)

    def new_day(self, day: int) -> None:
        """Random streams for the day (keyed by lesion, purpose and day): arms whose histories diverged
        draw the same numbers for the same purpose again."""
        self.rng = self.streams.daily(self.name, day)

    def begin_step(self) -> None:
        """What treatments released before the step (at its start) enters the fields as it is."""
        for name, field in self._release_fields():
            field += self.released[name]
            self.released[name][:] = 0.0

    def _release_fields(self):
        return (("antigen", self.antigen), ("apoptotic_antigen", self.apoptotic_antigen), ("damp", self.damp))

    def live_density(self) -> np.ndarray:
        """Fraction of each field pixel's sites holding a live tumour cell (the chemokine source)."""
        n, b = self.state.shape[0], self.block
        nf = self.antigen.shape[0]
        density = np.zeros((nf, nf), np.float32)
        rs, cs = self.window(pad=0)
        if rs.stop == rs.start:
            return density
        p0, p1, q0, q1 = rs.start // b, -(-rs.stop // b), cs.start // b, -(-cs.stop // b)  # pixels of the box
        live = np.zeros(((p1 - p0) * b, (q1 - q0) * b), np.uint16)
        r1, c1 = min(p1 * b, n), min(q1 * b, n)
        live[: r1 - p0 * b, : c1 - q0 * b] = self.state[p0 * b : r1, q0 * b : c1] == LIVE
        counts = live.reshape(p1 - p0, b, (q1 - q0) * b).sum(axis=1).reshape(p1 - p0, q1 - q0, b).sum(axis=2)
        density[p0:p1, q0:q1] = counts / np.float32(b * b)
        return density

    def pixel_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat index of the field pixel of lattice sites (rows, cols)."""
        return (rows // self.block) * self.antigen.shape[1] + cols // self.block

    # ---- tumour cells --------------------------------------------------------------------------
    def grow(self, day: float, dt: float) -> None:
        """Live cells within the proliferative rim of the lesion's outer edge divide into the nearest free site.

        The rim is measured from the outer edge (holes inside the lesion do not count: the interior
        is quiescent for want of oxygen), and a daughter needs a free site within the rim's depth
        (the chain of cells it can push aside). Each cell divides at the growth rate: its division times
        within the step are drawn (exponential waits) and the divisions happen in their order, parent and
        daughter dividing again if their next division falls within the step, as in continuous time; so
        the growth does not depend on the time step.
        """
        t = self.params["tumour"]
        rim_sites = t["proliferative_rim_um"] / self.cell_um
        rs, cs = self.window(pad=int(math.ceil(rim_sites)))  # as far as a daughter can be pushed
        if rs.stop == rs.start:  # no tissue left
            return
        if self._rim_day != math.floor(day):  # the outer edge moves about a cell a day: measure it daily
            self._rim_day = math.floor(day)  # (holes close and T cells find the edge whether it grows or not)
            self._measure_rim(rs, cs, rim_sites)
            self._find_box(rs, cs)  # contraction moved edge cells inward
        rate = t["growth_rate_per_day"] * (1.0 + self.params["inflammation"]["proliferation_boost"]
                                           * self.injury_inflammation_over(dt))
        if rate == 0 or (self.state[rs, cs] != EMPTY).all():
            return
        sites = np.flatnonzero((self.state[rs, cs] == LIVE) & self._in_rim[rs, cs])  # window flat indices
        rng = self.rng["growth"]
        times = rng.exponential(1.0 / rate, sites.size)  # each cell's next division, days into the step
        while (soon := times < dt).any():
            order = np.argsort(times[soon], kind="stable")
            sites, times = self._divide(sites[soon][order], times[soon][order], rs, cs, rim_sites)
            times = times + rng.exponential(1.0 / rate, times.size)
        self._find_box(rs, cs)

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
        baseline = self.params["tumour"]["pd_l1_baseline"]
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
            waiting = np.ones(sites.size, bool)
            waiting[first] = False
            sites, times = sites[waiting], times[waiting]
        if not divided:
            return np.empty(0, np.int64), np.empty(0)
        lr, lc = np.divmod(np.concatenate(divided), width)
        return (lr - k) * (width - 2 * k) + lc - k, np.concatenate(when)

    def _measure_rim(self, rs: slice, cs: slice, rim_sites: float) -> None:
        """Close holes (``_contract``), then mark the sites within the proliferative rim and on the outer
        edge: depth from the filled outline, in sites (Euclidean; 0 outside the outline)."""
        filled = self._contract(rs, cs, _fill_holes(self.state[rs, cs] != EMPTY))
        outside = ~filled
        for mask, depth in ((self._in_rim, rim_sites), (self._on_edge, 1.0)):
            mask[:] = True
            mask[rs, cs] = _within(outside, depth)

    def live_sites(self) -> np.ndarray:
        """Flat indices of the live tumour cells (found once a step, shared by the updates)."""
        return self._sites(lambda state: state == LIVE)

    def _contract(self, rs: slice, cs: slice, filled: np.ndarray) -> np.ndarray:
        """The tissue closes over holes left by cleared cells: cells of the outer edge move into holes.

        Up to ``release.contraction_layers_per_day`` layers a day; the cells keep their state and
        traits. Without it, a lesion emptied from inside would keep its outline on imaging. Returns
        the lesion's filled outline afterwards.
        """
        state, ant, pdl = self.state[rs, cs], self.antigenicity[rs, cs], self.pd_l1[rs, cs]
        rng = self.rng["contraction"]
        holes = np.flatnonzero(filled & (state == EMPTY))
        for _ in range(self.params["release"]["contraction_layers_per_day"]):
            if holes.size == 0:
                break
            edge = np.flatnonzero(filled & (state != EMPTY) & ~_erode(filled))
            k = min(holes.size, edge.size)
            src = rng.choice(edge, k, replace=False)
            dst = rng.choice(holes, k, replace=False)
            for a in (state, ant, pdl):
                a.flat[dst] = a.flat[src]
            state.flat[src] = EMPTY
            filled.flat[src] = False
            holes = np.setdiff1d(holes, dst, assume_unique=True)
        return filled

    def spontaneous_death(self, dt: float, live: np.ndarray) -> None:
        """Live cells (flat indices ``live``) die by apoptosis at the spontaneous death rate."""
        p = 1.0 - math.exp(-self.params["tumour"]["spontaneous_death_per_day"] * dt)
        die = self.rng["death"].random(live.size) < p
        self.kill(live[die], APOPTOTIC, quality=1.0, damp_factor=1.0)

    def kill(self, sites: np.ndarray, mode: int, quality: float, damp_factor: float) -> None:
        """Cells at flat indices ``sites`` die by ``mode`` and release antigen and DAMPs."""
        rel = self.params["release"]
        per_cell = rel["necrotic_antigen_per_cell"] if mode == NECROTIC else rel["apoptotic_antigen_per_cell"]
        damp = rel["necrotic_damp_per_cell"] if mode == NECROTIC else rel["apoptotic_damp_per_cell"]
        self.state.reshape(-1)[sites] = mode
        self._release(sites, per_cell * quality * self.antigenicity.reshape(-1)[sites], damp * damp_factor,
                      apoptotic=mode == APOPTOTIC)

    def clear_dead(self, dt: float) -> None:
        """Dead cells are cleared (their site becomes free): apoptotic cells by phagocytes, necrotic debris slowly."""
        rel = self.params["release"]
        flat = self.state.reshape(-1)
        dead = self._sites(lambda state: state >= NECROTIC)
        rate = np.where(flat[dead] == APOPTOTIC, rel["apoptotic_clearance_per_day"], rel["dead_cell_clearance_per_day"])
        gone = self.rng["clearance"].random(dead.size) < -np.expm1(-rate * dt)
        flat[dead[gone]] = EMPTY

    def ablate(self, zone_fn, settings: dict, quality: float, damp_factor: float) -> dict:
        """Apply an ablation zone centred on the lesion (plus the probe offset); returns the kill counts."""
        rs, cs = self.window(pad=0)
        r, c = np.nonzero(self.state[rs, cs] == LIVE)
        if r.size == 0:
            return {"necrotic": 0, "apoptotic": 0}
        r, c = r + rs.start, c + cs.start
        mm = self.cell_um / 1000.0
        cr, cc = r.mean(), c.mean() + settings["probe_offset_mm"] / mm
        lesion_radius_mm = math.sqrt(((r - r.mean()) ** 2 + (c - c.mean()) ** 2).max()) * mm + mm / 2
        distance_mm = np.hypot(r - cr, c - cc) * mm
        zone = zone_fn(distance_mm, max(lesion_radius_mm + settings["margin_mm"], mm))  # at least one cell
        u = self.rng["ablation"].random(r.size)
        necrotic = u < zone.necrosis
        apoptotic = ~necrotic & (u < zone.necrosis + zone.apoptosis)
        sites = r * self.state.shape[1] + c
        self.kill(sites[necrotic], NECROTIC, quality, damp_factor)
        self.kill(sites[apoptotic], APOPTOTIC, quality, damp_factor)
        survived = ~(necrotic | apoptotic)
        if zone.injury is not None and survived.any():
            # the residual tumour's inflammation grows with the mean sublethal injury of its surviving cells
            new = min(1.0, self.params["inflammation"]["per_injury"] * float(zone.injury[survived].mean()))
            self.injury_inflammation = 1.0 - (1.0 - self.injury_inflammation) * (1.0 - new)
        return {"necrotic": int(necrotic.sum()), "apoptotic": int(apoptotic.sum())}

    def injury_inflammation_over(self, dt: float) -> float:
        """Injury inflammation at the midpoint of the coming step of dt days (it resolves exponentially)."""
        return self.injury_inflammation * math.exp(-self.params["inflammation"]["resolution_per_day"] * dt / 2)

    def resolve_inflammation(self, dt: float) -> None:
        """Injury inflammation resolves over dt days."""
        self.injury_inflammation *= math.exp(-self.params["inflammation"]["resolution_per_day"] * dt)

    def resect(self) -> None:
        """Surgery: every cell, T cell and field is removed; the lesion no longer draws T cells."""
        self.state[:] = EMPTY
        for field in (self.antigen, self.apoptotic_antigen, self.damp, self.ifn, *self.released.values()):
            field[:] = 0.0
        self.t_cells = EffectorTCells(self.params["immune"])
        self.resected = True
        self._find_box()
        self.blood_flow_share = 0.0

    # ---- fields ------------------------------------------------------------------------------
    def _diffuse(self, field: np.ndarray, d_um2_per_s: float, decay_per_day: float, dt: float) -> None:
        sigma = math.sqrt(2.0 * d_um2_per_s * 86400.0 * dt) / (self.block * self.cell_um)
        if sigma > 0:
            g = _gaussian_operator(sigma, field.shape[0])
            field[:] = g @ field @ g.T
        field *= math.exp(-decay_per_day * dt)

    def _add_released(self, field: np.ndarray, released: np.ndarray, d_um2_per_s: float, decay_per_day: float,
                      dt: float) -> None:
        """Add to ``field`` what was released uniformly over the step: its mean decay, half a step's diffusion."""
        if released.any():
            released = released * _decay_over_step(decay_per_day * dt)
            self._diffuse(released, d_um2_per_s, 0.0, dt / 2)
            field += released

    def update_fields(self, dt: float) -> None:
        """Antigen and DAMPs diffuse and decay, and take what was released during the step; T cells secrete
        IFN-γ, which diffuses and decays."""
        rel, imm = self.params["release"], self.params["immune"]
        for name, field in self._release_fields():
            decay = rel["damp_decay_per_day"] if name == "damp" else rel["antigen_decay_per_day"]
            self._diffuse(field, rel["diffusion_um2_per_s"], decay, dt)
            self._add_released(field, self.released[name], rel["diffusion_um2_per_s"], decay, dt)
            self.released[name][:] = 0.0
        k, d = imm["ifn_gamma_decay_per_day"], imm["ifn_gamma_diffusion_um2_per_s"]
        self._diffuse(self.ifn, d, k, dt)
        # Each active effector secretes k per day, so that it maintains one effector-equivalent at
        # steady state: k x the days it was in the lesion during the step.
        rows, cols, days = self.t_cells.ifn_sources
        if rows.size:
            nf = self.ifn.shape[0]
            secreted = np.bincount(self.pixel_of(rows, cols), weights=days * k, minlength=nf * nf).reshape(nf, nf)
            self._add_released(self.ifn, secreted, d, k, dt)

    def antigen_for_dcs(self, dt: float) -> tuple[float, float, float]:
        """The antigen (cell-equivalents), antigen-weighted DAMP level (per site) and apoptotic share of
        the antigen (0-1) DCs meet over the coming step: the fields' means over the step (what they hold
        decaying, what is released during it accumulating). The DAMP level is taken where the antigen is on
        the scale ``dendritic_cells.damp_sensing_um`` (both fields smoothed by a Gaussian of that SD, widened by
        the half step's diffusion), so a dying cell's own DAMPs count alike on any grid and at any step."""
        rel = self.params["release"]
        xa, xd = rel["antigen_decay_per_day"] * dt, rel["damp_decay_per_day"] * dt

        def mean(name: str, field: np.ndarray, x: float) -> np.ndarray:
            return field * _decay_over_step(x) + self.released[name] * _present_over_step(x)

        antigen = mean("antigen", self.antigen, xa)
        total = float(antigen.sum())
        if total <= 0:
            return 0.0, 0.0, 0.0
        pixel_um = self.block * self.cell_um
        spread_um2 = rel["diffusion_um2_per_s"] * 86400.0 * dt  # 2 D (dt / 2)
        g = _gaussian_operator(math.sqrt(self.params["dendritic_cells"]["damp_sensing_um"] ** 2 + spread_um2)
                               / pixel_um, antigen.shape[0])
        sensed_antigen = g @ antigen @ g.T
        sensed_damp = g @ mean("damp", self.damp, xd) @ g.T
        damp = float((sensed_antigen * sensed_damp).sum()) / float(sensed_antigen.sum()) / self.block**2
        apoptotic_share = min(float(mean("apoptotic_antigen", self.apoptotic_antigen, xa).sum()) / total, 1.0)
        return total, damp, apoptotic_share

    def update_pd_l1(self, dt: float, live: np.ndarray) -> None:
        """PD-L1 of the cells live at the step's start (flat indices ``live``) relaxes toward its
        IFN-γ-induced level (adaptive resistance)."""
        t = self.params["tumour"]
        ifn_per_mm2 = self.ifn / self.pixel_mm2
        target = t["pd_l1_baseline"] * (
            1.0 + (t["pd_l1_max_fold"] - 1.0) * hill(ifn_per_mm2, t["ifn_gamma_half_saturation_per_mm2"])
        )  # per field pixel
        f = 1.0 - math.exp(-t["pd_l1_upregulation_per_day"] * dt)
        pd_l1 = self.pd_l1.reshape(-1)
        current = np.take(pd_l1, live)
        relaxed = current + (np.take(target.reshape(-1), np.take(self._pixel, live)) - current) * f
        pd_l1[live] = relaxed.astype(np.float32)

    # ---- readouts ----------------------------------------------------------------------------
    def counts(self) -> dict[str, float]:
        """This lesion's row of the time series."""
        rs, cs = self.window(pad=0)
        state = self.state[rs, cs]
        live = state == LIVE
        n_live = int(live.sum())
        cell_mm2 = (self.cell_um / 1000.0) ** 2
        return {
            "tumor_cells": n_live,
            "necrotic_cells": int((state == NECROTIC).sum()),
            "apoptotic_cells": int((state == APOPTOTIC).sum()),
            "viable_area_mm2": n_live * cell_mm2,
            "longest_diameter_mm": self.longest_diameter_mm(),
            "pd_l1_mean": float(self.pd_l1[rs, cs][live].mean()) if n_live else float("nan"),
            "antigen": float(self.antigen.sum() + self.released["antigen"].sum()),
            "damps": float(self.damp.sum() + self.released["damp"].sum()),
            "ifn_gamma": float(self.ifn.sum()),
            "effector_t_cells": self.t_cells.active_count(),
            "exhausted_t_cells": self.t_cells.exhausted_count(),
            "tregs": self.suppressors.tregs,
            "mdscs": self.suppressors.mdscs,
            "injury_inflammation": self.injury_inflammation,
            "loaded_dcs": self.dcs.immature + self.dcs.mature,
            "blood_flow_share": self.blood_flow_share,
        }

    def snapshot(self) -> dict[str, np.ndarray]:
        """The lattice as it is now: cell states, PD-L1, and T cells (row, col, exhausted)."""
        tc = self.t_cells
        return {
            "state": self.state.copy(),
            "pd_l1": self.pd_l1.copy(),
            "t_cells": np.column_stack([tc.row, tc.col, tc.exhausted.astype(np.int64)]),
        }

    def outer_edge(self, rs: slice, cs: slice) -> np.ndarray:
        """Tissue sites on the lesion's outer edge (as measured at the start of the day)."""
        return (self.state[rs, cs] != EMPTY) & self._on_edge[rs, cs]

    def tissue_area_mm2(self) -> float:
        """Area of the lesion's tissue (live and uncleared dead cells), mm²."""
        rs, cs = self.window(pad=0)
        return float(np.count_nonzero(self.state[rs, cs])) * (self.cell_um / 1000.0) ** 2

    def longest_diameter_mm(self) -> float:
        """Longest diameter of the lesion's tissue (live and uncleared dead cells), in mm, as imaging sees it."""
        rs, cs = self.window(pad=0)
        occupied = self.state[rs, cs] != EMPTY
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
        return float((d + 1.0) * self.cell_um / 1000.0)
