"""Ablation zones: a lesion's geometry turned into per-site death probabilities.

Each modality maps every lattice site's distance from the probe, applicator or beam centre
(``distance_mm``) and the radius of the treated zone's outer edge (``edge_radius_mm``: the
iceball's 0 °C edge, the necrosis isotherm, the radiation field edge) to the probability that a
tumour cell there dies by necrosis and the probability that it dies by apoptosis, and, for heat,
the sublethal injury of a cell that survives there; for radiotherapy, the probability that a cell is
lethally damaged (it dies later) and the DAMP yield of its death. The functions are pure and
deterministic: the caller draws one uniform number per cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import oxygen


@dataclass(frozen=True)
class AblationZone:
    """Per-site death probabilities of one ablation, shaped like ``distance_mm``."""

    necrosis: np.ndarray  # probability that a tumour cell there dies by necrosis (0-1)
    apoptosis: np.ndarray  # probability that it dies by apoptosis; necrosis + apoptosis <= 1
    temperature_c: np.ndarray | None  # the temperature map the kill came from (None for radiotherapy)
    injury: np.ndarray | None = None  # sublethal injury (0-1) of a cell that survives there (heat only)
    # probability that a cell there is lethally damaged, to die later (at a mitosis or by delayed apoptosis;
    # radiotherapy only); necrosis + apoptosis + lethal_damage <= 1
    lethal_damage: np.ndarray | None = None
    damp_yield: np.ndarray | None = None  # DAMPs of a death there, in necrotic deaths' units (radiotherapy)


def _require(ok: bool, name: str, value, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name} = {value!r}: expected {allowed}")


def _probability(name: str, value: float) -> None:
    _require(0.0 <= value <= 1.0, name, value, "a probability in [0, 1]")


def _distances(distance_mm) -> np.ndarray:
    distance = np.asarray(distance_mm, dtype=float)
    if not np.all(distance >= 0.0):
        raise ValueError(f"distance_mm: expected distances >= 0 mm, found {np.min(distance)!r}")
    return distance


def _zone(death: np.ndarray, necrotic_share: np.ndarray | float, temperature: np.ndarray | None,
          injury: np.ndarray | None = None) -> AblationZone:
    necrosis = death * necrotic_share
    return AblationZone(necrosis=necrosis, apoptosis=death - necrosis, temperature_c=temperature,
                        injury=injury)


def cryoablation(
    distance_mm,
    edge_radius_mm: float,
    *,
    probe_temperature_c: float = -140.0,
    probe_radius_mm: float = 1.0,
    lethal_temperature_fast_c: float = -20.0,
    lethal_temperature_slow_c: float = -40.0,
    freeze_rate_c_per_min: float = 50.0,
    fast_freeze_c_per_min: float = 50.0,
    slow_freeze_c_per_min: float = 5.0,
    freeze_thaw_cycles: int = 2,
    rim_death_max: float = 0.5,
    rim_apoptosis_fraction: float = 0.7,
    lethal_zone_necrosis_fraction_slow: float = 0.5,
) -> AblationZone:
    """Cryoablation: an iceball from a probe at ``probe_temperature_c`` (°C) to 0 °C at ``edge_radius_mm``.

    Temperature (°C) is linear in distance (mm) from the probe surface (``probe_radius_mm``; the
    probe temperature inside it) to 0 °C at the ice edge, and 37 °C beyond it (unfrozen: no death).
    An edge at or inside the probe surface (a small lesion with a negative margin) is taken as the
    probe surface itself.
    Probes reach about -140 °C (Littrup et al. 2009, J Vasc Interv Radiol, for iceball sizes).
    Freeze quality q in [0, 1] is where log(``freeze_rate_c_per_min``) lies between the slow and fast
    rates (°C/min). The lethal isotherm runs from ``lethal_temperature_slow_c`` (-40 °C) when slow to
    ``lethal_temperature_fast_c`` (-20 °C, Aarts et al. 2019, Insights Imaging) when fast: fast
    freezing kills at warmer temperatures (Gage & Baust 1998, Cryobiology 37:171). Colder than it one
    cycle kills surely; in the rim up to 0 °C the per-cycle death probability falls linearly from
    ``rim_death_max`` to 0; n freeze-thaw cycles kill with probability 1 - (1 - p1)^n.
    Death mode: the lethal zone's necrotic share is ``lethal_zone_necrosis_fraction_slow`` after
    slow freezing, rising to 1 with q (slow freezing gives more apoptosis and is more tolerogenic:
    Sabel et al. 2010, Ann Surg Oncol); the rim's apoptotic share is ``rim_apoptosis_fraction``.
    No published number splits necrosis from apoptosis across the iceball's zones: these shares
    are assumptions.
    """
    distance = _distances(distance_mm)
    _require(probe_temperature_c < 0.0, "probe_temperature_c", probe_temperature_c, "a temperature below 0 °C")
    _require(probe_radius_mm >= 0.0, "probe_radius_mm", probe_radius_mm, "a radius >= 0 mm")
    # an iceball cannot be smaller than the probe: a zone edge inside it freezes only what the probe touches
    edge_radius_mm = max(edge_radius_mm, probe_radius_mm + 1e-9)
    _require(lethal_temperature_fast_c < 0.0, "lethal_temperature_fast_c", lethal_temperature_fast_c,
             "a temperature below 0 °C")
    _require(lethal_temperature_slow_c <= lethal_temperature_fast_c, "lethal_temperature_slow_c",
             lethal_temperature_slow_c,
             f"a temperature <= lethal_temperature_fast_c = {lethal_temperature_fast_c} °C")
    _require(slow_freeze_c_per_min > 0.0, "slow_freeze_c_per_min", slow_freeze_c_per_min, "a rate > 0 °C/min")
    _require(fast_freeze_c_per_min > slow_freeze_c_per_min, "fast_freeze_c_per_min", fast_freeze_c_per_min,
             f"a rate > slow_freeze_c_per_min = {slow_freeze_c_per_min} °C/min")
    _require(freeze_rate_c_per_min > 0.0, "freeze_rate_c_per_min", freeze_rate_c_per_min, "a rate > 0 °C/min")
    _require(isinstance(freeze_thaw_cycles, Integral) and not isinstance(freeze_thaw_cycles, bool)
             and freeze_thaw_cycles >= 1, "freeze_thaw_cycles", freeze_thaw_cycles, "an integer >= 1")
    _probability("rim_death_max", rim_death_max)
    _probability("rim_apoptosis_fraction", rim_apoptosis_fraction)
    _probability("lethal_zone_necrosis_fraction_slow", lethal_zone_necrosis_fraction_slow)

    frozen_fraction = np.clip((distance - probe_radius_mm) / (edge_radius_mm - probe_radius_mm), 0.0, 1.0)
    temperature = np.where(distance > edge_radius_mm, 37.0, probe_temperature_c * (1.0 - frozen_fraction))

    log_span = math.log(fast_freeze_c_per_min) - math.log(slow_freeze_c_per_min)
    q = min(max((math.log(freeze_rate_c_per_min) - math.log(slow_freeze_c_per_min)) / log_span, 0.0), 1.0)
    lethal_c = lethal_temperature_slow_c + q * (lethal_temperature_fast_c - lethal_temperature_slow_c)

    lethal = temperature <= lethal_c
    # 0 at 0 °C (and in unfrozen tissue), rim_death_max at the lethal isotherm, 1 colder than it.
    one_cycle = np.where(lethal, 1.0, rim_death_max * np.clip(temperature / lethal_c, 0.0, 1.0))
    death = 1.0 - (1.0 - one_cycle) ** freeze_thaw_cycles
    lethal_necrotic = lethal_zone_necrosis_fraction_slow + q * (1.0 - lethal_zone_necrosis_fraction_slow)
    return _zone(death, np.where(lethal, lethal_necrotic, 1.0 - rim_apoptosis_fraction), temperature)


def heat_ablation(
    distance_mm,
    edge_radius_mm: float,
    *,
    peak_temperature_c: float = 90.0,
    necrosis_temperature_c: float = 55.0,
    sublethal_temperature_c: float = 45.0,
    body_temperature_c: float = 37.0,
    rim_death_max: float = 0.5,
    rim_apoptosis_fraction: float = 0.8,
) -> AblationZone:
    """Heat ablation (radiofrequency, microwave) whose necrosis isotherm lies at ``edge_radius_mm``.

    Temperature (°C) falls linearly from ``peak_temperature_c`` at the applicator (distance 0 mm)
    to ``necrosis_temperature_c`` at the edge, and on with the same slope until it reaches
    ``body_temperature_c``. At or above the necrosis temperature cells die by coagulative necrosis
    (50-60 °C in the radiofrequency ablation literature). Between ``sublethal_temperature_c``
    (sublethal injury at 42-46 °C) and the necrosis temperature the death probability rises
    linearly from 0 to ``rim_death_max``, with apoptotic share ``rim_apoptosis_fraction`` (an
    assumption: no published split). Cooler than the sublethal temperature nothing dies.
    A cell that survives the sublethal zone is heat-injured: its injury rises linearly from 0 at
    the sublethal temperature to 1 at the necrosis temperature (the lesion turns it into
    inflammation: ``Lesion.ablate``).
    """
    distance = _distances(distance_mm)
    _require(edge_radius_mm > 0.0, "edge_radius_mm", edge_radius_mm, "a radius > 0 mm")
    _require(sublethal_temperature_c >= body_temperature_c, "sublethal_temperature_c", sublethal_temperature_c,
             f"a temperature >= body_temperature_c = {body_temperature_c} °C")
    _require(necrosis_temperature_c > sublethal_temperature_c, "necrosis_temperature_c", necrosis_temperature_c,
             f"a temperature > sublethal_temperature_c = {sublethal_temperature_c} °C")
    _require(peak_temperature_c > necrosis_temperature_c, "peak_temperature_c", peak_temperature_c,
             f"a temperature > necrosis_temperature_c = {necrosis_temperature_c} °C")
    _probability("rim_death_max", rim_death_max)
    _probability("rim_apoptosis_fraction", rim_apoptosis_fraction)

    slope_c_per_mm = (peak_temperature_c - necrosis_temperature_c) / edge_radius_mm
    temperature = np.maximum(peak_temperature_c - slope_c_per_mm * distance, body_temperature_c)
    coagulated = temperature >= necrosis_temperature_c
    injured = np.clip((temperature - sublethal_temperature_c) / (necrosis_temperature_c - sublethal_temperature_c),
                      0.0, 1.0)
    death = np.where(coagulated, 1.0, rim_death_max * injured)
    return _zone(death, np.where(coagulated, 1.0, 1.0 - rim_apoptosis_fraction), temperature,
                 np.where(coagulated, 0.0, injured))


def radiotherapy(
    distance_mm,
    edge_radius_mm: float,
    *,
    po2_mmhg=math.inf,
    dose_per_fraction_gy: float = 8.0,
    alpha_per_gy: float = 0.3,
    beta_per_gy2: float = 0.03,
    penumbra_mm: float = 1.0,
    oer_max: float = 3.0,
    oxygen_k_mmhg: float = 3.0,
    early_apoptosis_fraction: float = 0.05,
    damp_yield_per_gy: float = 0.1,
    trex1_half_dose_gy: float = 15.0,
    trex1_hill: float = 4.0,
) -> AblationZone:
    """One radiotherapy fraction with its field edge at ``edge_radius_mm``.

    Dose (Gy) is ``dose_per_fraction_gy`` inside the field and falls linearly to 0 over
    ``penumbra_mm`` (mm) outside it. Linear-quadratic survival S = exp(-(alpha D + beta D^2)) of the
    dose D a cell effectively receives: its dose times the oxygen's dose-modifying factor at its
    ``po2_mmhg`` (mmHg; ``oxygen.dose_modifying_factor``: 1/``oer_max`` when anoxic; inf = fully oxic).
    alpha = 0.3 /Gy and beta = 0.03 /Gy^2 give alpha/beta = 10 Gy, typical of tumours (van Leeuwen
    et al. 2018, Radiat Oncol 13:96).
    A cell that does not survive is lethally damaged: it dies at once by apoptosis with probability
    ``early_apoptosis_fraction`` (interphase apoptosis, a small share in solid tumours), else later, at
    a mitosis or by delayed apoptosis (``lethal_damage``: the lesion carries it out).
    Each death of a cell damaged by this fraction releases ``damp_yield`` DAMPs (in units of a necrotic
    death's, whatever its mode; see ``immunogenic_yield``): rising with the cell's dose, falling above the
    TREX1 threshold.
    There is no temperature map and no immediate necrosis.
    """
    distance = _distances(distance_mm)
    _require(edge_radius_mm >= 0.0, "edge_radius_mm", edge_radius_mm, "a radius >= 0 mm")
    _require(dose_per_fraction_gy >= 0.0, "dose_per_fraction_gy", dose_per_fraction_gy, "a dose >= 0 Gy")
    _require(alpha_per_gy >= 0.0, "alpha_per_gy", alpha_per_gy, "a value >= 0 /Gy")
    _require(beta_per_gy2 >= 0.0, "beta_per_gy2", beta_per_gy2, "a value >= 0 /Gy^2")
    _require(penumbra_mm >= 0.0, "penumbra_mm", penumbra_mm, "a width >= 0 mm")
    _require(oer_max >= 1.0, "oer_max", oer_max, "a ratio >= 1")
    _require(oxygen_k_mmhg > 0.0, "oxygen_k_mmhg", oxygen_k_mmhg, "a pressure > 0 mmHg")
    _probability("early_apoptosis_fraction", early_apoptosis_fraction)
    po2 = np.asarray(po2_mmhg, dtype=float)
    _require(bool(np.all(po2 >= 0.0)), "po2_mmhg", float(np.min(po2)), "pressures >= 0 mmHg")

    outside_mm = np.maximum(distance - edge_radius_mm, 0.0)
    if penumbra_mm > 0.0:
        relative_dose = np.clip(1.0 - outside_mm / penumbra_mm, 0.0, 1.0)
    else:
        relative_dose = (outside_mm == 0.0).astype(float)
    dose = dose_per_fraction_gy * relative_dose
    effective = dose * oxygen.dose_modifying_factor(po2, oer_max, oxygen_k_mmhg)
    lethal = -np.expm1(-(alpha_per_gy * effective + beta_per_gy2 * effective**2))
    early = lethal * early_apoptosis_fraction
    return AblationZone(necrosis=np.zeros_like(lethal), apoptosis=early, temperature_c=None,
                        lethal_damage=lethal - early,
                        damp_yield=immunogenic_yield(dose, damp_yield_per_gy, trex1_half_dose_gy, trex1_hill))


def immunogenic_yield(dose_gy, damp_yield_per_gy: float, trex1_half_dose_gy: float, trex1_hill: float) -> np.ndarray:
    """DAMPs released by the death of a cell lethally damaged by a fraction of ``dose_gy`` (Gy), in units of
    a necrotic death's, whether it dies by apoptosis or necrosis (immunogenic cell death).

    The cytosolic DNA that an irradiated cell accumulates, and senses through cGAS-STING, rises with the
    dose (``damp_yield_per_gy`` per Gy); above 12-18 Gy in a single fraction the cell induces the
    exonuclease TREX1, which degrades it (Vanpouille-Box et al. 2017, Nat Commun 8:15618), so the yield
    is multiplied by 1 / (1 + (dose / ``trex1_half_dose_gy``)^``trex1_hill``): it peaks near
    ``trex1_half_dose_gy`` and falls at higher single doses (one 20 Gy fraction yields less per death
    than an 8 Gy one).
    """
    _require(damp_yield_per_gy >= 0.0, "damp_yield_per_gy", damp_yield_per_gy, "a yield >= 0 /Gy")
    _require(trex1_half_dose_gy > 0.0, "trex1_half_dose_gy", trex1_half_dose_gy, "a dose > 0 Gy")
    _require(trex1_hill > 0.0, "trex1_hill", trex1_hill, "a Hill coefficient > 0")
    dose = np.asarray(dose_gy, dtype=float)
    return damp_yield_per_gy * dose / (1.0 + (dose / trex1_half_dose_gy) ** trex1_hill)


MODALITIES = {"cryo": cryoablation, "heat": heat_ablation, "radiotherapy": radiotherapy}
