"""Dendritic cells of one lesion: antigen uptake, DAMP-driven maturation, migration to the node.

Loaded DCs stay immature (tolerogenic) unless the DAMPs where the antigen is are high, or an adjuvant
(a TLR9 agonist, ``abscopal.adjuvant``) stimulates them, or they are among the share that matures without
danger signals (``steady_state_maturation``, a fraction of the DAMP-driven maximum: CD103+ DCs carry tumour
antigen to the node and prime CD8 cells in the steady state, Roberts et al. 2016, Cancer Cell 30:324; 0, the
default, switches it off until the model is re-calibrated, issue 9); mature DCs
migrate to the tumour-draining lymph node at 4 per day, immature ones slowly (QSP-IO TNBC rates).
Immature DCs whose cargo is antigen of apoptotic cells (taken up without danger signals) are counted
apart: in the node they induce Tregs (DCs that engulf apoptotic cells become tolerogenic and convert
naive CD4 cells to Foxp3+ Tregs: Kushwah et al. 2010; Steinman's steady-state tolerance).
Counts, not agents: the lesion's DC pool is a compartment advanced exactly over each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..odes import hill, linear_step


@dataclass(frozen=True)
class DCSignals:
    """What a lesion's DCs read over a step of ``dt`` days."""

    dt: float
    antigen: float  # the lesion's intact antigen, cell-equivalents
    damp_at_antigen: float  # antigen-weighted DAMP level per lattice site
    apoptotic_share: float = 0.0  # the share of the antigen released by apoptotic cells (0-1)
    adjuvant_signal: float = 0.0  # an adjuvant's maturation signal (0-1), independent of the DAMPs'


class LesionDendriticCells:
    """Antigen-loaded immature and mature DCs in a lesion (cells)."""

    def __init__(self, p: dict):
        self.p = p
        self.immature = 0.0
        self.mature = 0.0
        self.apoptotic_immature = 0.0  # the immature DCs whose cargo is apoptotic-cell antigen
        self.apoptotic_tolerogenic_out = 0.0  # of those, DCs that reached the node during the last step

    def step(self, s: DCSignals) -> tuple[float, float]:
        """Advance by ``s.dt`` days; returns (mature, tolerogenic) DCs that reached the node during the step
        (``apoptotic_tolerogenic_out``: the tolerogenic ones loaded with apoptotic-cell antigen). The adjuvant's
        signal and the steady-state maturation combine with the DAMP signal as independent stimuli."""
        p, antigen, damp_at_antigen, dt = self.p, s.antigen, s.damp_at_antigen, s.dt
        adjuvant_signal, apoptotic_share = s.adjuvant_signal, s.apoptotic_share
        loading = p["loading_per_day_max"] * antigen / (antigen + p["antigen_half_saturation"])
        damp_signal = float(hill(damp_at_antigen, p["damp_half_saturation"], p["damp_hill"]))
        maturation = p["maturation_per_day"] * (1.0 - (1.0 - damp_signal) * (1.0 - adjuvant_signal)
                                                * (1.0 - p["steady_state_maturation"]))
        k_imm, k_mat = p["immature_migration_per_day"], p["mature_migration_per_day"]
        leave = maturation + k_imm + p["immature_death_per_day"]
        # x = [immature, mature, to node mature, to node tolerogenic, immature with apoptotic cargo, its to node]
        a = np.array([
            [-leave, 0, 0, 0, 0, 0],
            [maturation, -(k_mat + p["mature_death_per_day"]), 0, 0, 0, 0],
            [0, k_mat, 0, 0, 0, 0],
            [k_imm, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, -leave, 0],
            [0, 0, 0, 0, k_imm, 0],
        ])
        b = np.array([loading, 0, 0, 0, loading * apoptotic_share, 0])
        x = linear_step(a, b, np.array([self.immature, self.mature, 0, 0, self.apoptotic_immature, 0]), dt)
        self.immature, self.mature, self.apoptotic_immature = x[0], x[1], x[4]
        self.apoptotic_tolerogenic_out = x[5]
        return x[2], x[3]

    def record(self) -> dict[str, float]:
        """The DCs' column of the lesion's row of the time series: antigen-loaded DCs still in the lesion."""
        return {"loaded_dcs": self.immature + self.mature}
