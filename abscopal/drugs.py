"""Checkpoint inhibitors: doses on a schedule, first-order elimination, receptor occupancy.

Concentration after doses at days t_i: C(t) = sum_i C0 * exp(-ln2 (t - t_i) / t_half), with
C0 [nM] = dose [mg/kg] / V [L/kg] / MW [g/mol] * 1e6. Occupancy = C / (C + Kd) (QSP-IO TNBC).
Anti-PD-1 and anti-PD-L1 lift PD-1 inhibition of killing; anti-CTLA-4 lifts CTLA-4's brake on
priming and depletes Tregs.
"""

from __future__ import annotations

import math


class Drug:
    """One antibody in one run: the doses given so far and their pharmacokinetics."""

    def __init__(self, name: str, dose_mg_per_kg: float, pharmacology: dict):
        self.name = name
        self.kd_nm = pharmacology["kd_nm"]
        self.elimination_per_day = math.log(2) / pharmacology["half_life_days"]
        mw_g_per_mol = pharmacology["molecular_weight_kda"] * 1000.0
        self.dose_nm = dose_mg_per_kg / pharmacology["volume_l_per_kg"] / mw_g_per_mol * 1e6
        self.dose_days: list[float] = []

    def concentration_nm(self, day: float) -> float:
        """Plasma concentration in nM at ``day`` from every dose given at or before it."""
        return sum(
            self.dose_nm * math.exp(-self.elimination_per_day * (day - t)) for t in self.dose_days if t <= day
        )

    def occupancy(self, day: float) -> float:
        """Fraction of target receptors bound at ``day`` (0-1)."""
        c = self.concentration_nm(day)
        return c / (c + self.kd_nm)


class Pharmacy:
    """All drugs of a run; occupancy of a drug that is not given is 0."""

    def __init__(self, drugs: dict[str, Drug]):
        self.drugs = drugs

    def occupancy(self, name: str, day: float) -> float:
        drug = self.drugs.get(name)
        return drug.occupancy(day) if drug else 0.0

    def record(self, day: float) -> dict[str, float]:
        out = {}
        for name, drug in self.drugs.items():
            out[f"{name}_nm"] = drug.concentration_nm(day)
            out[f"{name}_occupancy"] = drug.occupancy(day)
        return out
