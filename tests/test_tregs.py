"""Tregs: their PD-1 support in lesions (anti-CTLA-4's lesion effect) and their induction by DCs carrying
apoptotic-cell antigen (slow freezing raises Tregs)."""

import pytest

from abscopal.config import defaults
from abscopal.immune.dendritic_cells import DCSignals, LesionDendriticCells
from abscopal.immune.lymph_node import LymphNode, NodeSignals
from abscopal.immune.suppressors import Suppressors, SuppressorSignals


def lesion_after(depletion_per_day: float) -> Suppressors:
    """A lesion's suppressors after 20 days of 100 effectors a day entering, 500 CD8 cells present."""
    s = Suppressors(defaults()["suppressors"], injury_capacity_per_mm2=0.0)
    for _ in range(80):
        s.step(SuppressorSignals(dt=0.25, active_effectors=500, cd8=500, entering=25, treg_level=1.0,
                                 treg_depletion_per_day=depletion_per_day, area_mm2=38.0, injury=0.0))
    return s


def test_tregs_sustain_pd1_expression_until_anti_ctla4_depletes_them():
    untreated = lesion_after(0.0)
    depleted = lesion_after(defaults()["suppressors"]["treg_depletion_per_day_max"])
    assert untreated.tregs / 500 > 0.1  # Tregs outlive the effectors: the ratio of untreated infiltrates
    assert untreated.pd1_expression > 0.98
    assert depleted.tregs < untreated.tregs / 10
    assert depleted.pd1_expression < 0.6
    none = Suppressors(dict(defaults()["suppressors"], treg_pd1_share=0.0), injury_capacity_per_mm2=0.0)
    none.step(SuppressorSignals(0.25, 500, 500, 0, 1.0, 0.0, 38.0, 0.0))
    assert none.pd1_expression == 1.0


def test_dcs_carry_apoptotic_cargo_in_proportion_to_the_apoptotic_share_of_antigen():
    out = {}
    for share in (0.0, 0.25, 1.0):
        dcs = LesionDendriticCells(defaults()["dendritic_cells"])
        tolerogenic = apoptotic = 0.0
        for _ in range(40):
            _, t = dcs.step(DCSignals(dt=0.25, antigen=5000.0, damp_at_antigen=0.0, apoptotic_share=share))
            tolerogenic += t
            apoptotic += dcs.apoptotic_tolerogenic_out
        out[share] = (tolerogenic, apoptotic)
    assert out[0.0][1] == 0.0
    assert out[0.25][1] == pytest.approx(0.25 * out[0.25][0], rel=1e-9)
    assert out[1.0][1] == pytest.approx(out[1.0][0], rel=1e-9)


def test_tolerogenic_dcs_with_apoptotic_cargo_raise_tregs_more():
    p = defaults()["lymph_node"]
    level = {}
    for cargo in ("apoptotic", "other"):
        ln = LymphNode(p, blood_elimination_per_day=0.2, dc_death_per_day=0.4)
        for _ in range(40):
            ln.step(NodeSignals(0.25, 0.0, 20.0, 0.0, 0.0, apoptotic_tolerogenic_dcs_in=20.0 if cargo == "apoptotic" else 0.0))
        level[cargo] = ln.treg_level
    assert level["other"] > 1.0
    assert level["apoptotic"] - 1.0 > 2 * (level["other"] - 1.0)
