"""The lesion's microenvironment: antigen, DAMPs and IFN-γ on a grid coarser than the lattice.

One solver for all of them: diffusion as an exact Gaussian kernel per step, with an absorbing boundary (the
field is zero outside the domain: what diffuses out of the lesion's domain is lost), and decay as an exact
exponential. What cells release during a step enters the fields as released uniformly over it (the mean
decay over the step, half a step of diffusion), and DCs meet the fields averaged over the step, the DAMP
level on a physical scale (``dendritic_cells.damp_sensing_um``), so results depend neither on the time step
nor on the grid (``release.field_resolution_um``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage

#: The boundary condition of every field (scipy.ndimage's mode): zero outside the domain (absorbing).
BOUNDARY = "constant"


def _decay_over_step(x: float) -> float:
    """Mean of exp(-k t) over a step (x = k dt), t uniform on it: what is left at the step's end of what was
    released uniformly over it, or the mean over the step of what was there at its start."""
    return -math.expm1(-x) / x if x > 0 else 1.0


def _present_over_step(x: float) -> float:
    """Mean over a step (x = k dt) of the share present of what is released uniformly during it (1/2 if x = 0)."""
    return (1.0 - _decay_over_step(x)) / x if x > 0 else 0.5


@functools.lru_cache(maxsize=16)
def _gaussian_operator(sigma: float, n: int) -> np.ndarray:
    """The matrix of scipy.ndimage's Gaussian filter (``BOUNDARY``) on n pixels: filtered x = G @ x,
    so a square field F filters to G @ F @ G.T (matrix products are faster than the convolution)."""
    return ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0, mode=BOUNDARY)


class Fields:
    """Antigen (cell-equivalents of intact antigen), DAMPs (DAMP units) and IFN-γ (effector-equivalents) per field
    pixel of ``block`` x ``block`` lattice sites, and what was released during the current step, not yet in them."""

    def __init__(self, n_sites: int, cell_um: float, params: dict):
        self.params = params
        self.cell_um = cell_um
        self.block = max(1, int(round(params["release"]["field_resolution_um"] / cell_um)))
        nf = -(-n_sites // self.block)
        rows = np.arange(n_sites) // self.block
        self.pixel = (rows[:, None] * nf + rows[None, :]).ravel().astype(np.int32)  # field pixel of each site (flat)
        self.antigen = np.zeros((nf, nf))
        self.damp = np.zeros((nf, nf))
        self.apoptotic_antigen = np.zeros((nf, nf))  # the part of ``antigen`` released by apoptotic cells
        self.ifn = np.zeros((nf, nf))
        self.released = {"antigen": np.zeros((nf, nf)), "apoptotic_antigen": np.zeros((nf, nf)),
                         "damp": np.zeros((nf, nf))}
        self.pixel_mm2 = (self.block * cell_um / 1000.0) ** 2

    def _release_fields(self):
        return (("antigen", self.antigen), ("apoptotic_antigen", self.apoptotic_antigen), ("damp", self.damp))

    def release(self, sites: np.ndarray, antigen: np.ndarray, damp, apoptotic: bool) -> None:
        """Release antigen (per cell) and DAMPs (per cell: one for all, or one each) of dying cells at flat ``sites``
        on their field pixels (into ``released``: the fields take it at the step's end, or at the next step's start for a treatment)."""
        if sites.size == 0:
            return
        nf = self.antigen.shape[0]
        idx = self.pixel[sites]
        released = np.bincount(idx, weights=antigen, minlength=nf * nf).reshape(nf, nf)
        self.released["antigen"] += released
        if apoptotic:
            self.released["apoptotic_antigen"] += released
        if np.isscalar(damp):  # the same for every cell
            per_pixel = damp * np.bincount(idx, minlength=nf * nf)
        else:
            per_pixel = np.bincount(idx, weights=damp, minlength=nf * nf)
        self.released["damp"] += per_pixel.reshape(nf, nf)

    def begin_step(self) -> None:
        """What treatments released before the step (at its start) enters the fields as it is."""
        for name, field in self._release_fields():
            field += self.released[name]
            self.released[name][:] = 0.0

    def pixel_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat index of the field pixel of lattice sites (rows, cols)."""
        return (rows // self.block) * self.antigen.shape[1] + cols // self.block

    def share_per_pixel(self, state: np.ndarray, value: int, rs: slice, cs: slice) -> np.ndarray:
        """Fraction of each field pixel's lattice sites whose ``state`` is ``value``, looked at in the window
        (rs, cs) of the lattice only (other pixels: 0)."""
        n, b = state.shape[0], self.block
        nf = self.antigen.shape[0]
        share = np.zeros((nf, nf), np.float32)
        if rs.stop == rs.start:
            return share
        p0, p1, q0, q1 = rs.start // b, -(-rs.stop // b), cs.start // b, -(-cs.stop // b)  # pixels of the window
        count = np.zeros(((p1 - p0) * b, (q1 - q0) * b), np.uint16)
        r1, c1 = min(p1 * b, n), min(q1 * b, n)
        count[: r1 - p0 * b, : c1 - q0 * b] = state[p0 * b : r1, q0 * b : c1] == value
        counts = count.reshape(p1 - p0, b, (q1 - q0) * b).sum(axis=1).reshape(p1 - p0, q1 - q0, b).sum(axis=2)
        share[p0:p1, q0:q1] = counts / np.float32(b * b)
        return share

    def _diffuse(self, field: np.ndarray, d_um2_per_s: float, decay_per_day: float, dt: float) -> None:
        """The solver: ``field`` diffuses (coefficient ``d_um2_per_s``) and decays over dt days, in place."""
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

    def update(self, dt: float, t_cells) -> None:
        """Antigen and DAMPs diffuse and decay, and take what was released during the step; the effector
        ``t_cells`` secrete IFN-γ, which diffuses and decays."""
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
        rows, cols, days = t_cells.ifn_sources
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

    def clear(self) -> None:
        """Every field and what was released is removed (surgery)."""
        for field in (self.antigen, self.apoptotic_antigen, self.damp, self.ifn, *self.released.values()):
            field[:] = 0.0

    def record(self) -> dict[str, float]:
        """The fields' columns of the lesion's row of the time series: their totals."""
        return {
            "antigen": float(self.antigen.sum() + self.released["antigen"].sum()),
            "damps": float(self.damp.sum() + self.released["damp"].sum()),
            "ifn_gamma": float(self.ifn.sum()),
        }
