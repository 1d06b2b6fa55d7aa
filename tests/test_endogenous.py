"""Endogenous immunity (issue 9, item 2): untreated lesions prime CD8 cells through DCs that mature without danger
signals (``dendritic_cells.steady_state_maturation``), and lesions carry tumour-specific effectors from the first
simulated day (``immune.preexisting_effectors_per_mm2``, an individual's trait). Both are off by default."""

import math

import numpy as np

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abscopal import individual
from abscopal.config import ConfigError, resolve
from abscopal.immune.dendritic_cells import DCSignals, LesionDendriticCells
from abscopal.model import AbscopalModel
from abscopal.runner import simulate
from abscopal.streams import Streams, replicate_seed
from conftest import small_config

NO_SPREAD = {key: 0.0 for key in individual.TRAITS.values()}


def endogenous_config(maturation: float = 0.05, preexisting: float = 0.0, end_day: float = 14, **tumour) -> dict:
    """Two untreated 3 mm lesions from day -7; control and anti-PD-1 alone (5 doses from day 0)."""
    cfg = small_config(start_day=-7, end_day=end_day, readout_day=end_day)
    for lesion in cfg["lesions"].values():
        lesion.update(diameter_mm=3.0, domain_mm=6.0)
    cfg["dendritic_cells"] = {"steady_state_maturation": maturation}
    cfg["immune"] = {"preexisting_effectors_per_mm2": preexisting}
    cfg["tumour"] = tumour
    cfg["arms"] = {"control": {}, "anti_pd1": {"drugs": {"anti_pd1": {"start_day": 0, "doses": 5}}}}
    return cfg


def run(cfg: dict, arm: str = "control", replicate: int = 0):
    exp = resolve(cfg)
    ts, _, _ = simulate(exp.arms[arm], exp.settings, replicate_seed(exp.settings["seed"], replicate))
    return ts


def primed_by_day(ts, day: float) -> float:
    systemic = ts[ts["lesion"] == "systemic"].set_index("time_day")
    return float(systemic.loc[day, "primed_cd8_total"])


def dcs_to_node(share: float, antigen: float, damp: float, adjuvant: float, days: int = 3) -> float:
    """Mature DCs a lesion's DCs send to the node over ``days`` days of 6 h steps, from none loaded."""
    p = {**resolve(small_config()).arms["control"]["dendritic_cells"], "steady_state_maturation": share}
    dcs, mature = LesionDendriticCells(p), 0.0
    for _ in range(4 * days):
        mature += dcs.step(DCSignals(0.25, antigen, damp, 1.0, adjuvant))[0]
    return mature


@settings(max_examples=60, deadline=None)
@given(share=st.floats(0, 1), more=st.floats(0, 1), antigen=st.floats(0, 1e5), damp=st.floats(0, 1),
       adjuvant=st.floats(0, 1))
def test_a_larger_steady_state_share_sends_more_mature_dcs_and_a_full_one_ignores_danger_signals(
        share, more, antigen, damp, adjuvant):
    low, high = dcs_to_node(share, antigen, damp, adjuvant), dcs_to_node(share + (1 - share) * more, antigen, damp,
                                                                            adjuvant)
    assert high >= low * (1 - 1e-9)
    assert dcs_to_node(1.0, antigen, damp, adjuvant) == pytest.approx(dcs_to_node(1.0, antigen, 0.0, 0.0), rel=1e-9)
    assert dcs_to_node(0.0, antigen, 0.0, 0.0) == 0.0  # no danger signal, no adjuvant, no steady-state share


def test_untreated_lesions_prime_cd8_cells_through_dcs_that_mature_without_danger_signals():
    on = primed_by_day(run(endogenous_config(maturation=0.05)), 14)
    off = primed_by_day(run(endogenous_config(maturation=0.0)), 14)
    unshed = primed_by_day(run(endogenous_config(maturation=0.05, spontaneous_death_per_day=0.0)), 14)
    assert on > 10  # naive cells activated by day 14, each the root of up to 2^16 effectors
    assert off < 0.01  # apoptotic deaths bring too few DAMPs to mature a DC
    assert unshed == 0.0  # no dying cell, no antigen: nothing to prime on


def test_preexisting_effectors_scale_with_the_individuals_trait_and_are_absent_at_zero():
    cfg = endogenous_config(maturation=0.0, preexisting=30.0)
    cfg["individual"] = NO_SPREAD
    exp = resolve(cfg)
    params, seed = exp.arms["control"], replicate_seed(exp.settings["seed"], 0)
    factors = dict.fromkeys(individual.TRAITS, 1.0)
    counts = {}
    for factor in (0.0, 1.0, 3.0):
        model = AbscopalModel(individual.apply(params, {**factors, "preexisting_effectors": factor}), exp.settings, seed)
        lesion = model.lesions["distant"]
        counts[factor] = lesion.t_cells.size
        expected = factor * 30.0 * lesion.tissue.area_mm2()
        assert abs(counts[factor] - expected) <= 4 * math.sqrt(expected) + 1e-9, (factor, counts[factor], expected)
        first = next(row for row in model.records if row["lesion"] == "distant")
        assert first["effector_t_cells"] == counts[factor]  # in the first day's record
    assert counts[0.0] == 0
    # an infiltrate that has been entering at a steady rate: each has a uniform share of its lifespan left, so about
    # half of them are gone half a lifespan later, not all at once after a whole one
    model.run(-7 + 5)
    left = model.lesions["distant"].t_cells.entry_day == -7
    assert 0.35 < left.sum() / counts[3.0] < 0.65


def test_the_new_trait_is_drawn_after_the_others_so_existing_individuals_keep_their_values():
    spread = resolve(small_config()).arms["control"]["individual"]
    for r in range(5):
        seed = replicate_seed(3, r)
        z = Streams(seed).generator("individual").standard_normal(3)  # the draws of the three earlier traits
        drawn = individual.draw(spread, seed)
        for (trait, key), zi in zip(list(individual.TRAITS.items())[:3], z):
            assert drawn[trait] == math.exp(spread[key] * zi)
        assert list(individual.TRAITS)[-1] == "preexisting_effectors"


def test_with_endogenous_immunity_anti_pd1_alone_slows_an_untreated_lesion_in_every_individual():
    """Paired: the same individuals under control and anti-PD-1; the distant lesion's live cells on day 14
    relative to day 0. Without the mechanism the two arms are all but the same."""

    def growth(cfg, arm, replicate):
        distant = run(cfg, arm, replicate)
        distant = distant[distant["lesion"] == "distant"].set_index("time_day")["tumor_cells"]
        return distant.loc[14] / distant.loc[0]

    on, off = endogenous_config(maturation=0.05, preexisting=20.0), endogenous_config(maturation=0.0)
    for replicate in range(3):
        control, blocked = growth(on, "control", replicate), growth(on, "anti_pd1", replicate)
        assert blocked < control - 0.15, (replicate, control, blocked)  # fold growth from day 0
        assert growth(off, "anti_pd1", replicate) == pytest.approx(growth(off, "control", replicate), rel=0.01)


def node_run(lesions: tuple[str, ...], nodes: str):
    """The small cryo + anti-PD-1 run (index ablated on day 0) with only ``lesions``, its systemic rows by day."""
    cfg = small_config()
    cfg["lesions"] = {name: lesion for name, lesion in cfg["lesions"].items() if name in lesions}
    cfg["lymph_node"] = {"draining_nodes": nodes}
    ts = run(cfg, "cryo_anti_pd1")
    return ts[ts["lesion"] == "systemic"].set_index("time_day")


COLUMNS = ["primed_cd8_total", "blood_effectors", "treg_level", "ln_mature_dcs", "ln_treg_inducing_dcs"]


def test_a_node_per_lesion_is_the_shared_node_when_there_is_one_lesion():
    shared, own = node_run(("index",), "shared"), node_run(("index",), "per_lesion")
    assert np.allclose(own[COLUMNS].to_numpy(float), shared[COLUMNS].to_numpy(float), rtol=1e-9, atol=1e-12)


def test_with_a_node_per_lesion_the_ablated_lesions_dcs_prime_in_a_node_the_naive_cells_visit_half_their_time():
    shared, own = node_run(("index", "distant"), "shared"), node_run(("index", "distant"), "per_lesion")
    early = shared.index <= 3  # the same DCs arrive, in two nodes, until the primed effectors differ
    assert np.allclose(own.loc[early, "ln_mature_dcs"], shared.loc[early, "ln_mature_dcs"], rtol=1e-9)
    ratio = own.loc[6, "primed_cd8_total"] / shared.loc[6, "primed_cd8_total"]
    assert 0.4 < ratio < 0.7, ratio  # about half (the distant lesion's node adds little; the DC signal saturates)


def test_draining_nodes_is_shared_or_per_lesion():
    cfg = small_config()
    cfg["lymph_node"] = {"draining_nodes": "both"}
    with pytest.raises(ConfigError, match=r"^lymph_node.draining_nodes = 'both': expected one of \['shared', 'per_lesion'\]$"):
        resolve(cfg)
