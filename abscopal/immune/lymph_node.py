"""The tumour-draining lymph node and the blood: priming, clonal expansion, memory, Tregs.

Mature DCs arriving from lesions activate antigen-specific naive CD8 cells (rate up to 23 per day,
QSP-IO TNBC); CTLA-4 and Tregs limit it. An activated cell divides ``divisions`` times at
``proliferation_per_day`` (a chain of generations, 2^divisions effectors each), then the effectors
enter the blood, from which lesions recruit them and where they are eliminated at 0.2 per day
(Kosinsky 2018); a fraction of those become memory precursors (about 5 %, Blattman 2002), which
mature into recall-competent memory cells over weeks (``memory_maturation_days``; Kaech et al.
2002) through ``memory_maturation_stages`` stages (a delay, not a first-order rate), so a response is
not recalled by its own waning antigen. Memory is recalled on antigen
re-encounter: mature DCs reactivate memory cells as they activate naive ones (same thresholds,
Zimmermann et al. 1999; ``memory_immature_dc_weight`` > 0 lets antigen-loaded immature DCs count
too, for the lower need for co-stimulation often claimed), and a reactivated memory cell makes
effectors after fewer divisions (``memory_divisions``: the shorter lag of Veiga-Fernandes et al.
2000; Kedl & Mescher 1998). The
secondary response is larger because the primed pool is many-fold the naive precursors (5-100 fold,
Ahmed & Gray 1996), and its effectors are better killers (``secondary_share``; see
``immune/t_cells.py``). Effectors made by memory cells do not return to memory (the pool is formed by
the primary response only), so recall cannot feed on itself.
Tolerogenic DCs that carry antigen of apoptotic cells raise the Treg level (Kushwah et al. 2010: DCs
that engulfed apoptotic cells converted about 4-5 times more naive CD4 cells to Foxp3+ Tregs); so a slow
freeze, which kills more cells by apoptosis, raises Tregs (Sabel et al. 2010). Anti-CTLA-4 depletes Tregs.
All compartments are counts advanced exactly over each step, with the saturating coefficients taken at the
step's midpoint.
"""

from __future__ import annotations

import numpy as np

from ..odes import hill, linear_step, relax


class LymphNode:
    """Counts of the systemic compartments (cells; Treg level relative to baseline)."""

    def __init__(self, p: dict, blood_elimination_per_day: float):
        self.p = p
        self.elimination = blood_elimination_per_day
        self.n = p["divisions"]
        self.m = p["memory_divisions"]
        self.s = p["memory_maturation_stages"]
        # x = [mature DCs, tolerogenic DCs, naive, memory, generations 0..n-1, blood effectors, Treg level,
        #      activated (cumulative), blood effectors of the primary response, memory generations 0..m-1,
        #      memory reactivated (cumulative), memory precursor stages 0..s-1]
        self.x = np.zeros(9 + self.n + self.m + self.s)
        self.x[2] = p["naive_precursors"]
        self.x[5 + self.n] = 1.0
        self.treg_inducing_dcs = 0.0  # tolerogenic DCs in the node weighted by their Treg induction

    @property
    def blood_effectors(self) -> float:
        return float(self.x[4 + self.n])

    @property
    def secondary_share(self) -> float:
        """Fraction of the blood effectors made by reactivated memory cells (0 while there is less than one)."""
        blood, primary = self.x[4 + self.n], self.x[7 + self.n]
        return float((blood - primary) / blood) if blood - primary >= 1.0 else 0.0

    @property
    def treg_level(self) -> float:
        return float(self.x[5 + self.n])

    def step(self, mature_in: float, tolerogenic_in: float, recruited: float, occ_ctla4: float,
             dc_death_per_day: float, dt: float, apoptotic_tolerogenic_in: float = 0.0) -> None:
        """Advance by dt days.

        mature_in, tolerogenic_in: DCs arriving during the step; recruited: effectors that left the
        blood into lesions during the step; occ_ctla4: anti-CTLA-4 receptor occupancy (0-1);
        apoptotic_tolerogenic_in: the tolerogenic DCs among them that carry apoptotic-cell antigen.
        """
        p, n, m, x = self.p, self.n, self.m, self.x
        blood, treg, activated, primary, recalled = 4 + n, 5 + n, 6 + n, 7 + n, 8 + n + m
        memory_gen, precursors = 8 + n, 9 + n + m  # first generation of reactivated memory cells; first precursor stage
        s = self.s
        priming = (1.0 - p["ctla4_priming_inhibition"] * (1.0 - occ_ctla4)) * (
            p["treg_half_suppression"] / (p["treg_half_suppression"] + x[treg])
        )
        # the DCs present during the step: the mean of the start and the (exactly predicted) end value,
        # so that priming does not lag by a step
        dc_end = relax(x[0], mature_in / dt, dc_death_per_day, dt)
        tol_end = relax(x[1], tolerogenic_in / dt, dc_death_per_day, dt)
        half, immature_weight = p["mature_dc_half_saturation"], p["memory_immature_dc_weight"]
        dc_signal = 0.5 * float(hill(x[0], half) + hill(dc_end, half))
        memory_signal = 0.5 * float(hill(x[0] + immature_weight * x[1], half)
                                    + hill(dc_end + immature_weight * tol_end, half))
        act = p["activation_per_day_max"] * dc_signal * priming
        recall = p["activation_per_day_max"] * memory_signal * priming
        k = p["proliferation_per_day"]
        elim = self.elimination
        out_rate = recruited / dt / x[blood] if x[blood] > 0 else 0.0
        without_cargo = p["treg_induction_without_apoptotic_cargo"]  # Treg induction relative to apoptotic cargo
        inducing_in = without_cargo * tolerogenic_in + (1.0 - without_cargo) * apoptotic_tolerogenic_in
        inducing_end = relax(self.treg_inducing_dcs, inducing_in / dt, dc_death_per_day, dt)
        inducing = 0.5 * (self.treg_inducing_dcs + inducing_end)
        self.treg_inducing_dcs = inducing_end
        treg_target = 1.0 + p["treg_tolerogenic_expansion"] * float(hill(inducing, p["tolerogenic_dc_half_saturation"]))
        a = np.zeros((len(x), len(x)))
        b = np.zeros(len(x))
        a[0, 0] = a[1, 1] = -dc_death_per_day
        b[0], b[1] = mature_in / dt, tolerogenic_in / dt
        a[2, 2] = -act
        a[precursors, primary] = p["memory_fraction"] * elim
        stage = s / p["memory_maturation_days"]  # exit rate of each precursor stage, 1/day
        for j in range(s):
            a[precursors + j, precursors + j] = -stage
            a[precursors + j + 1 if j + 1 < s else 3, precursors + j] = stage
        a[3, 3] = -recall
        a[4, 2] = a[activated, 2] = act
        a[memory_gen, 3] = a[recalled, 3] = recall
        for g in range(n):
            a[4 + g, 4 + g] = -k
            if g:
                a[4 + g, 3 + g] = 2 * k
        for g in range(m):
            a[memory_gen + g, memory_gen + g] = -k
            if g:
                a[memory_gen + g, memory_gen + g - 1] = 2 * k
        a[blood, 3 + n] = a[primary, 3 + n] = 2 * k
        a[blood, memory_gen + m - 1] = 2 * k
        a[blood, blood] = -(elim + out_rate)
        a[primary, primary] = -(elim + out_rate)
        a[treg, treg] = -(p["treg_turnover_per_day"] + p["treg_depletion_per_day_max"] * occ_ctla4)
        b[treg] = p["treg_turnover_per_day"] * treg_target
        self.x = np.maximum(linear_step(a, b, x, dt), 0.0)

    def record(self) -> dict[str, float]:
        x, n, m = self.x, self.n, self.m
        return {
            "ln_mature_dcs": x[0],
            "ln_tolerogenic_dcs": x[1],
            "ln_treg_inducing_dcs": self.treg_inducing_dcs,
            "naive_cd8": x[2],
            "memory_cd8": x[3] + x[9 + n + m :].sum(),
            "recall_competent_memory_cd8": x[3],
            "proliferating_cd8": float(x[4 : 4 + n].sum() + x[8 + n : 8 + n + m].sum()),
            "blood_effectors": x[4 + n],
            "treg_level": x[5 + n],
            "primed_cd8_total": x[6 + n],
            "memory_recalled_total": x[8 + n + m],
        }
