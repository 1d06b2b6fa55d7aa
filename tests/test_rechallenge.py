"""Fact 8's parts: a TLR9 agonist matures a lesion's DCs, memory gives a faster and larger secondary
response, a lesion seeded later is a rechallenge, and the adjuvant's config errors."""

import numpy as np
import pytest

from abscopal.config import ConfigError, defaults, resolve
from abscopal.immune.dendritic_cells import DCSignals, LesionDendriticCells
from abscopal.immune.lymph_node import LymphNode, NodeSignals
from abscopal.immune.t_cells import TCellSignals
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from conftest import small_config


def test_adjuvant_signal_matures_loaded_dcs_so_fewer_stay_tolerogenic():
    p = defaults()["dendritic_cells"]
    to_node = {}
    for signal in (0.0, 0.9):
        dcs = LesionDendriticCells(p)
        mature = tolerogenic = 0.0
        for _ in range(20):  # five days of antigen without DAMPs (apoptotic death only)
            m, t = dcs.step(DCSignals(dt=0.25, antigen=5000.0, damp_at_antigen=0.0, adjuvant_signal=signal))
            mature, tolerogenic = mature + m, tolerogenic + t
        to_node[signal] = mature, tolerogenic
    assert to_node[0.0][0] == 0.0
    assert to_node[0.9][0] > 2 * to_node[0.9][1]  # maturation 0.9 x 1.5 per day vs migration 0.4 per day
    assert to_node[0.9][1] < 0.5 * to_node[0.0][1]


def cryo_cpg_config():
    cfg = small_config(end_day=3, readout_day=3)
    cfg["arms"] = {
        "cryo": {"ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 1.0}},
        "cryo_cpg": {"ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 1.0},
                     "adjuvant": {"agent": "cpg", "lesion": "index", "day": 0}},
    }
    return cfg


def test_cpg_in_the_ablated_lesion_raises_mature_dcs_reaching_the_node():
    exp = resolve(cryo_cpg_config())
    models = {}
    for arm, params in exp.arms.items():
        models[arm] = AbscopalModel(params, exp.settings, replicate_seed(3, 0))
        models[arm].run(3)
    node = {arm: m.lymph_node.record() for arm, m in models.items()}
    assert node["cryo_cpg"]["ln_mature_dcs"] > 1.2 * node["cryo"]["ln_mature_dcs"]
    assert node["cryo_cpg"]["ln_tolerogenic_dcs"] < node["cryo"]["ln_tolerogenic_dcs"]
    cpg = models["cryo_cpg"]
    assert [e["kind"] for e in cpg.events] == ["ablation", "adjuvant"]
    half_life = exp.arms["cryo_cpg"]["tlr9_agonist"]["half_life_days"]
    assert cpg.adjuvant_signal("index", half_life) == pytest.approx(0.45)  # 0.9 at injection, halved
    assert cpg.adjuvant_signal("distant", 0.5) == 0.0  # only the injected lesion


def primary_then_secondary(p, dt=0.25):
    """Blood effectors (per step of dt days) after a DC pulse on day 0 and the same pulse on day 100."""
    ln = LymphNode(p, blood_elimination_per_day=0.2, dc_death_per_day=0.4)
    steps = round(1 / dt)
    blood = []
    for i in range(steps * 130):
        pulse = 2000.0 if i in (0, 100 * steps) else 0.0
        ln.step(NodeSignals(dt, pulse, 0.0, 0.0, 0.0))
        blood.append(ln.blood_effectors)
    return np.array(blood), ln


def test_memory_gives_a_faster_and_larger_secondary_expansion_than_naive_priming():
    p = defaults()["lymph_node"]
    blood, ln = primary_then_secondary(p)
    residual = blood[399] * np.exp(-0.2 * 0.25 * np.arange(1, 121))  # primary effectors still circulating
    primary, secondary = blood[:400], blood[400:] - residual
    assert ln.record()["memory_recalled_total"] > 0
    assert secondary.max() > 10 * primary.max()  # more precursors: a larger response
    threshold = 0.1 * primary.max()
    days_to = [np.argmax(series > threshold) / 4 for series in (primary, secondary)]
    assert days_to[1] < days_to[0] - 1.0  # fewer divisions before the effectors leave: a shorter lag


def test_secondary_response_does_not_depend_on_the_time_step():
    p = defaults()["lymph_node"]
    coarse, _ = primary_then_secondary(p, dt=0.25)
    fine, _ = primary_then_secondary(p, dt=0.125)
    assert fine[1::2].max() == pytest.approx(coarse.max(), rel=0.02)
    assert np.argmax(fine[1::2]) == pytest.approx(np.argmax(coarse), abs=1)


def test_memory_needs_time_to_become_recall_competent():
    p = defaults()["lymph_node"]
    ln = LymphNode(p, blood_elimination_per_day=0.2, dc_death_per_day=0.4)
    ln.step(NodeSignals(0.25, 2000.0, 0.0, 0.0, 0.0))
    for _ in range(4 * 12):
        ln.step(NodeSignals(0.25, 0.0, 0.0, 0.0, 0.0))
    rec = ln.record()
    assert rec["memory_cd8"] > 1000  # memory precursors formed by day 12 ...
    assert rec["recall_competent_memory_cd8"] < 0.5 * rec["memory_cd8"]  # ... most not yet recall-competent


def test_a_primary_response_barely_recalls_its_own_memory_through_the_maturation_stages():
    """Memory matures through stages (a delay of weeks): the priming DCs still in the node recall few of them."""
    recalled = {}
    for stages in (1, 4):
        p = dict(defaults()["lymph_node"], memory_maturation_stages=stages)
        ln = LymphNode(p, blood_elimination_per_day=0.2, dc_death_per_day=0.4)
        ln.step(NodeSignals(0.25, 2000.0, 0.0, 0.0, 0.0))
        for _ in range(4 * 30):
            ln.step(NodeSignals(0.25, 0.0, 0.0, 0.0, 0.0))
        recalled[stages] = ln.record()["memory_recalled_total"]
        assert ln.record()["recall_competent_memory_cd8"] > 0.2 * ln.record()["memory_cd8"]  # most mature by week 5
    assert recalled[4] < 0.2 * recalled[1]


def kills_and_exhaustion_at_high_pd_l1(secondary_share):
    """200 effectors admitted into a 2 mm lesion whose PD-L1 is at 5 x baseline, one day of killing."""
    exp = resolve(small_config())
    model = AbscopalModel(exp.arms["control"], exp.settings, replicate_seed(3, 0))
    lesion = model.lesions["distant"]
    lesion.pd_l1[:] = 5.0
    rng = np.random.default_rng(7)
    lesion.t_cells.admit(200, lesion, 0.0, rng, secondary_share)
    lesion.t_cells.step(lesion, TCellSignals(day=0.0, dt=1.0, pd1_free=1.0, suppression=0.0, rng=rng))
    return int(lesion.t_cells.kills.sum()), lesion.t_cells.exhausted_count(), int(lesion.t_cells.secondary.sum())


def test_memory_derived_effectors_kill_more_and_resist_pd1_inhibition():
    primary = kills_and_exhaustion_at_high_pd_l1(0.0)
    secondary = kills_and_exhaustion_at_high_pd_l1(1.0)
    assert primary[2] == 0 and secondary[2] == 200
    assert secondary[0] > 3 * max(primary[0], 1)  # 0.75 x (1 - 0.28) vs 0.3 x (1 - 0.8) per engagement
    assert secondary[1] < primary[1]  # fewer PD-1-inhibited engagements: less exhaustion


def test_a_config_with_one_listed_lesion_gets_only_that_one_and_a_rechallenge_later():
    cfg = small_config(end_day=5, readout_day=5)
    cfg["lesions"] = {"primary": {"diameter_mm": 2.0, "domain_mm": 4.0}}
    cfg["arms"] = {"cryo": {"ablation": {"lesion": "primary", "day": 0, "margin_mm": 1.0},
                            "metastases": {"rechallenge": {"day": 3, "diameter_mm": 0.5, "domain_mm": 2.0,
                                                           "necrotic_fraction": 0.5}}}}
    exp = resolve(cfg)
    assert list(exp.arms["cryo"]["lesions"]) == ["primary"]
    model = AbscopalModel(exp.arms["cryo"], exp.settings, replicate_seed(3, 0))
    model.run(5)
    assert list(model.lesions) == ["primary", "rechallenge"]
    seeded = [e for e in model.events if e["kind"] == "metastasis"][0]
    inoculum = np.pi * (0.5 * 1000 / 2 / 20) ** 2  # cells in a 0.5 mm disc of 20 µm cells
    assert seeded["day"] == 3 and seeded["necrotic"] == pytest.approx(0.5 * inoculum, rel=0.15)  # half die on injection


@pytest.mark.parametrize(
    "adjuvant, words",
    [
        ({"agent": "imiquimod"}, ["adjuvant.agent", "imiquimod", "cpg"]),
        ({"dose_ug": 30}, ["unknown key", "adjuvant.dose_ug", "agent", "injections"]),
        ({"lesion": "liver"}, ["adjuvant.lesion", "liver", "index"]),
        ({"day": 0.5}, ["adjuvant.day", "0.5", "whole days"]),
        ({"injections": 0}, ["adjuvant.injections", "0", "[1, 100]"]),
    ],
)
def test_bad_adjuvant_names_key_value_and_allowed(adjuvant, words):
    cfg = cryo_cpg_config()
    cfg["arms"]["cryo_cpg"]["adjuvant"].update(adjuvant)
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    for word in words:
        assert word in str(err.value)


def test_bad_tlr9_agonist_parameter_is_a_config_error():
    cfg = cryo_cpg_config()
    cfg["tlr9_agonist"] = {"maturation_signal": 1.5}
    with pytest.raises(ConfigError, match=r"tlr9_agonist.maturation_signal = 1.5.*\[0, 1\]"):
        resolve(cfg)
