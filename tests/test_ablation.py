"""Ablation physics: temperature profiles, lethal zones, death modes and input checks."""

import math

import numpy as np
import pytest

from hypothesis import given
from hypothesis import strategies as st

from abscopal.ablation import MODALITIES, AblationZone, cryoablation, heat_ablation, immunogenic_yield, radiotherapy
from abscopal.oxygen import dose_modifying_factor, po2_mmhg

EDGE_MM = 20.0
STEP_MM = 0.01
DISTANCE = np.arange(0.0, 40.0 + STEP_MM / 2, STEP_MM)


def death(zone: AblationZone) -> np.ndarray:
    """Probability of death now or later (radiotherapy's lethally damaged cells die later)."""
    later = 0.0 if zone.lethal_damage is None else zone.lethal_damage
    return zone.necrosis + zone.apoptosis + later


def lethal_radius(zone: AblationZone) -> float:
    """Outermost distance at which death is certain."""
    return float(DISTANCE[death(zone) == 1.0].max())


def at(distance_mm: float) -> int:
    return int(round(distance_mm / STEP_MM))


# ---- cryoablation ---------------------------------------------------------------------------------
def test_cryo_temperature_probe_edge_and_monotone():
    t = cryoablation(DISTANCE, EDGE_MM).temperature_c
    assert t[at(0.0)] == t[at(1.0)] == -140.0
    assert t[at(EDGE_MM)] == pytest.approx(0.0, abs=1e-9)
    frozen = DISTANCE <= EDGE_MM
    assert np.all(np.diff(t[frozen]) >= 0)
    assert np.all(np.diff(t[DISTANCE >= 1.0][: at(EDGE_MM - 1.0)]) > 0)  # strictly warmer outward in the ice
    assert np.all(t[~frozen] == 37.0)


def test_cryo_kills_inside_lethal_isotherm_and_nothing_beyond_ice_edge():
    for rate in (5.0, 15.0, 50.0):
        zone = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=rate, freeze_thaw_cycles=1)
        lethal_c = -40.0 + (math.log(rate) - math.log(5.0)) / (math.log(50.0) - math.log(5.0)) * 20.0
        inside = zone.temperature_c <= lethal_c
        assert np.all(death(zone)[inside] == 1.0)
        assert np.all(death(zone)[~inside] <= 0.5)
        assert np.all(death(zone)[DISTANCE >= EDGE_MM] == 0.0)


def test_cryo_rim_rises_linearly_from_edge_to_lethal_isotherm():
    zone = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=5.0, freeze_thaw_cycles=1, rim_death_max=0.6)
    t = zone.temperature_c
    rim = (t > -40.0) & (t <= 0.0)
    np.testing.assert_allclose(death(zone)[rim], 0.6 * t[rim] / -40.0, atol=1e-12)


def test_fast_freezing_kills_farther_out_than_slow():
    fast = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=50.0)
    slow = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=5.0)
    # linear profile from -140 °C at 1 mm to 0 °C at the edge: the -20 and -40 °C isotherms
    assert lethal_radius(fast) == pytest.approx(1.0 + (EDGE_MM - 1.0) * 120 / 140, abs=STEP_MM)
    assert lethal_radius(slow) == pytest.approx(1.0 + (EDGE_MM - 1.0) * 100 / 140, abs=STEP_MM)
    assert lethal_radius(fast) > lethal_radius(slow) + 2.0
    assert np.all(death(fast) >= death(slow))


def test_freeze_rate_outside_slow_fast_range_is_clipped():
    np.testing.assert_array_equal(death(cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=500.0)),
                                  death(cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=50.0)))
    np.testing.assert_array_equal(death(cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=0.5)),
                                  death(cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=5.0)))


def test_two_cycles_kill_more_than_one_in_the_rim():
    one = cryoablation(DISTANCE, EDGE_MM, freeze_thaw_cycles=1)
    two = cryoablation(DISTANCE, EDGE_MM, freeze_thaw_cycles=2)
    rim = (death(one) > 0) & (death(one) < 1)
    assert rim.sum() > 100
    assert np.all(death(two)[rim] > death(one)[rim])
    np.testing.assert_allclose(death(two), 1 - (1 - death(one)) ** 2, atol=1e-12)


@pytest.mark.parametrize("edge_mm", [10.0, 20.0, 35.0, 50.0])
def test_minus_40_isotherm_lies_about_0_3_r_inside_the_edge(edge_mm):
    """-140 °C at 1 mm to 0 °C at r: -40 °C lies (2/7)(r - 1) inside the edge (about 1 cm for r = 35 mm)."""
    distance = np.arange(0.0, edge_mm + 5.0, STEP_MM)
    zone = cryoablation(distance, edge_mm, freeze_rate_c_per_min=5.0)
    inside_mm = edge_mm - distance[zone.necrosis + zone.apoptosis == 1.0].max()
    assert inside_mm == pytest.approx(2 / 7 * (edge_mm - 1.0), abs=STEP_MM)
    if edge_mm >= 20.0:
        assert inside_mm == pytest.approx(0.3 * edge_mm, rel=0.1)


def test_slow_freezing_gives_larger_apoptotic_share():
    def apoptotic_share(rate):
        zone = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=rate)
        return zone.apoptosis.sum() / death(zone).sum()

    assert apoptotic_share(5.0) > apoptotic_share(15.0) > apoptotic_share(50.0)
    fast = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=50.0)
    assert np.all(fast.apoptosis[fast.temperature_c <= -20.0] == 0.0)  # fast: lethal zone all necrotic
    slow = cryoablation(DISTANCE, EDGE_MM, freeze_rate_c_per_min=5.0)
    lethal = slow.temperature_c <= -40.0
    np.testing.assert_allclose(slow.necrosis[lethal], 0.5)
    rim = (slow.temperature_c > -40.0) & (slow.temperature_c < 0.0)
    np.testing.assert_allclose(slow.apoptosis[rim], 0.7 * death(slow)[rim], atol=1e-12)


# ---- heat -----------------------------------------------------------------------------------------
def test_heat_profile_and_kill():
    zone = heat_ablation(DISTANCE, EDGE_MM)
    t = zone.temperature_c
    assert t[0] == 90.0
    assert t[at(EDGE_MM)] == pytest.approx(55.0)
    assert np.all(np.diff(t) <= 0)
    assert t.min() == 37.0
    inside = DISTANCE <= EDGE_MM
    assert np.all(zone.necrosis[inside] == 1.0) and np.all(zone.apoptosis[inside] == 0.0)
    assert np.all(death(zone)[t < 45.0] == 0.0)
    assert np.all(death(zone)[~inside] < 0.5)
    # 45 °C lies where the same slope (35 °C over 20 mm) has fallen 10 °C more: 20 + 10/1.75 mm
    assert float(DISTANCE[death(zone) > 0].max()) == pytest.approx(EDGE_MM + 10 / 1.75, abs=STEP_MM)
    rim = (t > 45.0) & (t < 55.0)
    np.testing.assert_allclose(death(zone)[rim], 0.5 * (t[rim] - 45.0) / 10.0, atol=1e-12)
    np.testing.assert_allclose(zone.apoptosis[rim], 0.8 * death(zone)[rim], atol=1e-12)


def test_heat_injures_the_sublethal_rim_only_and_other_modalities_do_not():
    zone = heat_ablation(DISTANCE, EDGE_MM)
    t = zone.temperature_c
    assert np.all(zone.injury[t >= 55.0] == 0.0)  # coagulated: dead, not injured
    assert np.all(zone.injury[t <= 45.0] == 0.0)
    rim = (t > 45.0) & (t < 55.0)
    np.testing.assert_allclose(zone.injury[rim], (t[rim] - 45.0) / 10.0, atol=1e-12)
    assert cryoablation(DISTANCE, EDGE_MM).injury is None
    assert radiotherapy(DISTANCE, EDGE_MM).injury is None


# ---- radiotherapy ---------------------------------------------------------------------------------
def test_radiotherapy_linear_quadratic_survival_and_lethal_damage_of_oxic_cells():
    zone = radiotherapy(np.array([0.0, 5.0]), 5.0, dose_per_fraction_gy=2.0, alpha_per_gy=0.3, beta_per_gy2=0.03)
    np.testing.assert_allclose(1.0 - death(zone), math.exp(-0.72))
    # most cells that do not survive are lethally damaged (they die later); a small share dies now by apoptosis
    np.testing.assert_allclose(zone.apoptosis, 0.05 * death(zone))
    np.testing.assert_allclose(zone.lethal_damage, 0.95 * death(zone))
    assert np.all(zone.necrosis == 0.0) and zone.temperature_c is None


@given(dose=st.floats(0.0, 30.0), po2=st.floats(0.0, 200.0), oer=st.floats(1.0, 4.0))
def test_radiotherapy_oxygen_is_a_dose_modifier(dose, po2, oer):
    """A cell at pO2 p survives a dose D as an oxic cell survives D x m(p): alpha is scaled by m and beta by m²;
    an anoxic cell needs OER times the dose of an oxic one for the same survival."""
    def survival(d, p):
        z = radiotherapy(np.zeros(1), 5.0, dose_per_fraction_gy=d, po2_mmhg=p, oer_max=oer)
        return float(1.0 - death(z)[0])

    m = float(dose_modifying_factor(po2, oer, 3.0))
    assert 1.0 / oer - 1e-12 <= m <= 1.0
    assert survival(dose, po2) == pytest.approx(math.exp(-(0.3 * dose * m + 0.03 * (dose * m) ** 2)), rel=1e-9)
    assert survival(oer * dose, 0.0) == pytest.approx(survival(dose, math.inf), rel=1e-9)
    assert survival(dose, po2) <= survival(dose, po2 / 2) + 1e-12  # less oxygen, more survivors


def test_oxygen_falls_from_the_edge_to_none_at_the_diffusion_distance():
    depth = np.array([0.0, 40.0, 80.0, 160.0, 500.0])
    np.testing.assert_allclose(po2_mmhg(depth, 40.0, 160.0), [40.0, 22.5, 10.0, 0.0, 0.0])
    np.testing.assert_allclose(dose_modifying_factor(np.array([0.0, 3.0, np.inf]), 3.0, 3.0), [1 / 3, 2 / 3, 1.0])


def test_radiotherapy_penumbra():
    zone = radiotherapy(np.array([4.0, 5.5, 6.0, 9.0]), 5.0, dose_per_fraction_gy=8.0, penumbra_mm=1.0)
    d = np.array([8.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(death(zone), 1 - np.exp(-(0.3 * d + 0.03 * d**2)))
    np.testing.assert_allclose(zone.damp_yield, immunogenic_yield(d, 0.1, 15.0, 4.0))
    sharp = radiotherapy(np.array([5.0, 5.01]), 5.0, penumbra_mm=0.0)
    assert death(sharp)[0] > 0.9 and death(sharp)[1] == 0.0


def test_trex1_ceiling_a_single_20_gy_fraction_yields_less_per_death_than_8_gy_fractions():
    """Vanpouille-Box 2017: TREX1, induced above 12-18 Gy, clears cytosolic DNA; 8 Gy x 3 was immunogenic, 20 Gy
    was not. Per death, 20 Gy yields less than 8 Gy, whose yield is near the dose-proportional one."""
    y8, y20 = immunogenic_yield(8.0, 0.1, 15.0, 4.0), immunogenic_yield(20.0, 0.1, 15.0, 4.0)
    assert y20 < 0.7 * y8
    assert y8 > 0.9 * 0.8  # TREX1 barely induced at 8 Gy
    assert immunogenic_yield(0.0, 0.1, 15.0, 4.0) == 0.0


@given(low=st.floats(0.0, 10.0), high=st.floats(0.0, 10.0))
def test_immunogenic_yield_rises_below_and_falls_above_the_trex1_threshold(low, high):
    low, high = sorted((low, high))
    peak = 15.0 / 3.0 ** 0.25  # d/dD of D / (1 + (D/h)^4) vanishes at D = h / 3^(1/4)
    y = lambda d: float(immunogenic_yield(d, 0.1, 15.0, 4.0))  # noqa: E731
    assert y(low * peak / 10) <= y(high * peak / 10) + 1e-12
    assert y(peak + low * 3) >= y(peak + high * 3) - 1e-12


# ---- all modalities -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kwargs"), [
    ("cryo", {}), ("cryo", {"freeze_rate_c_per_min": 5.0, "freeze_thaw_cycles": 3, "rim_death_max": 1.0}),
    ("heat", {}), ("heat", {"rim_death_max": 1.0, "rim_apoptosis_fraction": 0.3}),
    ("radiotherapy", {}), ("radiotherapy", {"dose_per_fraction_gy": 30.0, "early_apoptosis_fraction": 0.9}),
    ("radiotherapy", {"po2_mmhg": np.linspace(0.0, 60.0, 2500).reshape(50, 50)}),
])
def test_probabilities_are_valid_everywhere(name, kwargs):
    distance = np.random.default_rng(0).uniform(0.0, 40.0, size=(50, 50))
    zone = MODALITIES[name](distance, EDGE_MM, **kwargs)
    assert zone.necrosis.shape == zone.apoptosis.shape == distance.shape
    assert np.all(zone.necrosis >= 0) and np.all(zone.apoptosis >= 0)
    assert np.all(death(zone) <= 1.0 + 1e-12)  # 1e-12: float rounding of the split
    with pytest.raises(AttributeError):
        zone.necrosis = zone.apoptosis  # frozen


@pytest.mark.parametrize(("function", "edge_mm", "kwargs", "name"), [
    (cryoablation, 20.0, {"freeze_thaw_cycles": 0}, "freeze_thaw_cycles"),
    (cryoablation, 20.0, {"freeze_thaw_cycles": 1.5}, "freeze_thaw_cycles"),
    (cryoablation, 20.0, {"rim_death_max": 1.2}, "rim_death_max"),
    (cryoablation, 20.0, {"rim_apoptosis_fraction": -0.1}, "rim_apoptosis_fraction"),
    (cryoablation, 20.0, {"lethal_zone_necrosis_fraction_slow": float("nan")}, "lethal_zone_necrosis_fraction_slow"),
    (cryoablation, 20.0, {"lethal_temperature_slow_c": -10.0}, "lethal_temperature_slow_c"),
    (cryoablation, 20.0, {"lethal_temperature_fast_c": 5.0}, "lethal_temperature_fast_c"),
    (cryoablation, 20.0, {"probe_temperature_c": 10.0}, "probe_temperature_c"),
    (cryoablation, 20.0, {"slow_freeze_c_per_min": 60.0}, "fast_freeze_c_per_min"),
    (cryoablation, 20.0, {"freeze_rate_c_per_min": 0.0}, "freeze_rate_c_per_min"),
    (heat_ablation, 0.0, {}, "edge_radius_mm"),
    (heat_ablation, 20.0, {"peak_temperature_c": 50.0}, "peak_temperature_c"),
    (heat_ablation, 20.0, {"sublethal_temperature_c": 60.0}, "necrosis_temperature_c"),
    (heat_ablation, 20.0, {"body_temperature_c": 46.0}, "sublethal_temperature_c"),
    (heat_ablation, 20.0, {"rim_apoptosis_fraction": 2.0}, "rim_apoptosis_fraction"),
    (radiotherapy, 20.0, {"dose_per_fraction_gy": -1.0}, "dose_per_fraction_gy"),
    (radiotherapy, 20.0, {"penumbra_mm": -1.0}, "penumbra_mm"),
    (radiotherapy, 20.0, {"early_apoptosis_fraction": 1.5}, "early_apoptosis_fraction"),
    (radiotherapy, 20.0, {"oer_max": 0.5}, "oer_max"),
    (radiotherapy, 20.0, {"oxygen_k_mmhg": 0.0}, "oxygen_k_mmhg"),
    (radiotherapy, 20.0, {"po2_mmhg": -1.0}, "po2_mmhg"),
    (radiotherapy, 20.0, {"trex1_half_dose_gy": 0.0}, "trex1_half_dose_gy"),
    (radiotherapy, 20.0, {"damp_yield_per_gy": -0.1}, "damp_yield_per_gy"),
    (radiotherapy, -1.0, {}, "edge_radius_mm"),
])
def test_bad_input_names_the_parameter(function, edge_mm, kwargs, name):
    with pytest.raises(ValueError, match=name):
        function(DISTANCE, edge_mm, **kwargs)


def test_negative_distance_is_rejected():
    with pytest.raises(ValueError, match="distance_mm"):
        heat_ablation(np.array([-1.0, 2.0]), 5.0)


def test_cryo_edge_inside_the_probe_freezes_only_what_the_probe_touches():
    d = np.array([0.5, 0.99, 1.5, 3.0])
    zone = cryoablation(d, 0.5, probe_radius_mm=1.0)
    assert np.all(zone.necrosis[:2] + zone.apoptosis[:2] == 1.0)
    assert np.all(zone.necrosis[2:] + zone.apoptosis[2:] == 0.0)
