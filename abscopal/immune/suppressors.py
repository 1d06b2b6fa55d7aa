"""Regulatory T cells and MDSCs that gather in inflamed lesions and suppress killing.

Tregs come in with the effectors (a Treg:CD8 ratio of the infiltrate, scaled by the systemic Treg
level) and suppress killing by their ratio to the CD8 cells there, the ratio that predicts outcome
in patients (Sato et al. 2005); anti-CTLA-4 depletes them (Fc-mediated, Simpson et al. 2013). Their
IL-10 and IL-35 also sustain the inhibitory receptors (PD-1 and others) of the CD8 cells there and so their
exhaustion (Sawant et al. 2019): a share of the CD8 cells' PD-1 expression falls with the Treg : CD8 ratio
when Tregs are depleted, which lets anti-CTLA-4 partly lift PD-L1's brake in a lesion. MDSCs
are recruited toward a capacity per mm² of lesion as inflammation (active effectors per mm²) rises,
at the QSP-IO TNBC recruitment and death rates, and suppress killing by their density. Sublethal
injury of the cells that survive an incomplete heat ablation inflames the lesion as well, and
draws myeloid cells toward a larger capacity (incomplete thermal ablation leaves a myeloid-dominated
niche that resists checkpoint blockade: Shi et al. 2019; incomplete microwave ablation, 2022 and 2024).

MDSCs also expand systemically with the tumour burden (``SystemicMDSCs``): tumour-derived factors (GM-CSF, G-CSF,
IL-6, VEGF) drive myelopoiesis, so the MDSCs of blood and spleen rise with the total live tumour volume (Gabrilovich &
Nagaraj 2009; with stage and metastatic burden in patients, Diaz-Montero et al. 2009; they fall again after the
tumour's removal, Sinha et al. 2011). A lesion recruits from that pool, so its MDSC capacity scales with the
circulating level; in lymphoid organs they blunt priming, and they induce Tregs (Huang et al. 2006): see
``immune/lymph_node.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..odes import hill, relax, relax_to_ramp


@dataclass(frozen=True)
class SuppressorSignals:
    """What a lesion's suppressors read over a step of ``dt`` days."""

    dt: float
    active_effectors: int  # active effectors in the lesion
    cd8: int  # all effectors there, exhausted included
    entering: int  # effectors that entered during the step
    treg_level: float  # systemic Treg level (1 = baseline)
    treg_depletion_per_day: float  # Treg depletion in the lesion by anti-CTLA-4, 1/day
    area_mm2: float  # the lesion's tissue area, mm²
    injury: float  # the lesion's injury inflammation (0-1)
    mdsc_level: float = 1.0  # circulating MDSCs relative to a tumour-free individual (``SystemicMDSCs.level``)


class Suppressors:
    """Treg and MDSC counts in one lesion."""

    def __init__(self, p: dict, injury_capacity_per_mm2: float):
        """``injury_capacity_per_mm2``: the MDSCs per mm² that injury inflammation draws toward (section
        ``inflammation``)."""
        self.p = p
        self.injury_capacity_per_mm2 = injury_capacity_per_mm2
        self.tregs = 0.0
        self.mdscs = 0.0
        self.suppression = 0.0  # fraction by which suppressors reduce the kill probability (0-1)
        self.pd1_expression = 1.0  # PD-1 of the lesion's CD8 cells relative to that with abundant Tregs (0-1)

    def step(self, s: SuppressorSignals) -> None:
        """Advance by ``s.dt`` days."""
        p, dt, injury = self.p, s.dt, s.injury
        area = max(s.area_mm2, 1e-9)
        inflammation = float(hill(s.active_effectors / area, p["inflammation_half_effectors_per_mm2"]))
        by_effectors = p["mdsc_recruitment_per_day"] * inflammation  # per day, toward the lesion's capacity
        by_injury = p["mdsc_recruitment_per_day"] * injury
        # the lesion recruits from the circulating pool: its capacity scales with the pool's level
        target = (by_effectors * p["mdsc_capacity_per_mm2"] + by_injury * self.injury_capacity_per_mm2) * area * s.mdsc_level
        recruit = by_effectors + by_injury * (1.0 - inflammation)  # either inflammation recruits
        self.mdscs = relax(self.mdscs, target, recruit + p["mdsc_death_per_day"], dt)
        treg_influx = p["treg_per_recruited_effector"] * s.treg_level * s.entering / dt
        self.tregs = relax(self.tregs, treg_influx, p["treg_death_per_day"] + s.treg_depletion_per_day, dt)
        treg_ratio = self.tregs / max(s.cd8, 1)
        by_tregs = float(hill(treg_ratio, p["treg_ratio_half_suppression"]))
        treg_support = float(hill(treg_ratio, p["treg_ratio_half_pd1"], p["treg_pd1_hill"]))
        self.pd1_expression = 1.0 - p["treg_pd1_share"] * (1.0 - treg_support)
        by_mdscs = float(hill(self.mdscs / area, p["mdsc_half_suppression_per_mm2"]))
        self.suppression = 1.0 - (1.0 - by_tregs) * (1.0 - by_mdscs)

    def record(self) -> dict[str, float]:
        """The suppressors' columns of the lesion's row of the time series (cells)."""
        return {"tregs": self.tregs, "mdscs": self.mdscs}


class SystemicMDSCs:
    """The MDSCs of blood and spleen relative to a tumour-free individual (``level``, 1 without a tumour), which
    approach, at ``turnover_per_day``, 1 + ``max_expansion_fold`` x the total live tumour volume's saturating
    share (half at ``half_burden_mm3``)."""

    def __init__(self, p: dict, burden_mm3: float = 0.0):
        """Starting at the level that ``burden_mm3`` (mm³, the first simulated day's) sustains: the tumours have grown
        for weeks before."""
        self.p = p
        self.level = self.target(burden_mm3)

    def target(self, burden_mm3: float) -> float:
        """The level a total live tumour volume of ``burden_mm3`` (mm³) sustains."""
        return 1.0 + self.p["max_expansion_fold"] * float(hill(burden_mm3, self.p["half_burden_mm3"]))

    def step(self, dt: float, burden_start_mm3: float, burden_end_mm3: float) -> None:
        """Advance by ``dt`` days, the burden going from ``burden_start_mm3`` to ``burden_end_mm3`` (mm³; the target
        taken as moving linearly between the two)."""
        self.level = relax_to_ramp(self.level, self.target(burden_start_mm3), self.target(burden_end_mm3),
                                   self.p["turnover_per_day"], dt)

    def record(self) -> dict[str, float]:
        """The systemic row's column of the circulating MDSCs (relative, 1 = tumour-free)."""
        return {"mdsc_level": self.level}
