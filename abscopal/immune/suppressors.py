"""Regulatory T cells and MDSCs that gather in inflamed lesions and suppress killing.

Inflammation is the lesion's active effectors as a saturating fraction; MDSCs are recruited toward
the lesion's capacity at the QSP-IO TNBC recruitment rate and die at its death rate; lesion Tregs follow the blood Treg level and are depleted by anti-CTLA-4
(Fc-mediated, Simpson et al. 2013).
"""

from __future__ import annotations

from ..odes import hill, relax


class Suppressors:
    """Treg and MDSC counts in one lesion."""

    def __init__(self, p: dict):
        self.p = p
        self.tregs = 0.0
        self.mdscs = 0.0

    def step(self, effectors: int, treg_level: float, treg_depletion_per_day: float, dt: float) -> None:
        """Advance by dt days given the lesion's active effectors and the systemic Treg level (1 = baseline)."""
        p = self.p
        inflammation = float(hill(effectors, p["inflammation_half_effectors"]))
        recruit = p["mdsc_recruitment_per_day"] * inflammation  # per day, toward the lesion's capacity
        self.mdscs = relax(self.mdscs, recruit * p["mdsc_capacity"], recruit + p["mdsc_death_per_day"], dt)
        self.tregs = relax(
            self.tregs,
            p["treg_recruitment_per_day"] * treg_level * inflammation,
            p["treg_death_per_day"] + treg_depletion_per_day,
            dt,
        )

    @property
    def suppression(self) -> float:
        """Fraction by which suppressors reduce the kill probability (0-1)."""
        return float(hill(self.tregs + self.mdscs, self.p["suppression_half_cells"]))
