"""Between-individual variability: one individual per replicate, the same in every arm."""

import json

import numpy as np
import pandas as pd
import pytest

import abscopal
from abscopal import individual
from abscopal.config import ConfigError, resolve
from abscopal.model import AbscopalModel
from abscopal.runner import simulate
from abscopal.streams import replicate_seed
from conftest import small_config

NO_SPREAD = {key: 0.0 for key in individual.TRAITS.values()}


def test_draws_are_reproducible_and_differ_between_replicates():
    spread = resolve(small_config()).arms["control"]["individual"]
    a = individual.draw(spread, replicate_seed(3, 0))
    assert a == individual.draw(spread, replicate_seed(3, 0))
    others = [individual.draw(spread, replicate_seed(3, r)) for r in range(1, 6)]
    for trait in individual.TRAITS:
        assert len({a[trait], *(o[trait] for o in others)}) == 6
    capacities = [individual.draw(spread, replicate_seed(3, r))["recruitment_capacity"] for r in range(400)]
    assert np.std(np.log(capacities)) == pytest.approx(spread["recruitment_capacity_sd_log"], rel=0.15)
    assert np.median(np.log(capacities)) == pytest.approx(0.0, abs=0.15)


def test_apply_scales_the_arm_parameters_and_leaves_them_untouched():
    params = resolve(small_config()).arms["cryo_anti_pd1"]
    params["immune"]["preexisting_effectors_per_mm2"] = 10.0
    before = json.dumps(params, sort_keys=True)
    factors = {"recruitment_capacity": 2.0, "naive_precursors": 0.5, "growth_rate": 1.5, "preexisting_effectors": 3.0}
    varied = individual.apply(params, factors)
    assert json.dumps(params, sort_keys=True) == before
    for name, lesion in varied["lesions"].items():
        assert lesion["recruitment_capacity"] == 2.0 * params["lesions"][name]["recruitment_capacity"]
    assert varied["lymph_node"]["naive_precursors"] == 0.5 * params["lymph_node"]["naive_precursors"]
    assert varied["tumour"]["growth_rate_per_day"] == 1.5 * params["tumour"]["growth_rate_per_day"]
    assert varied["immune"]["preexisting_effectors_per_mm2"] == 30.0


def test_a_spread_of_zero_is_the_unvaried_model():
    cfg = small_config(end_day=4, readout_day=4)
    cfg["individual"] = NO_SPREAD
    exp = resolve(cfg)
    seed = replicate_seed(exp.settings["seed"], 1)
    assert set(individual.draw(exp.arms["cryo_anti_pd1"]["individual"], seed).values()) == {1.0}
    varied, _, _ = simulate(exp.arms["cryo_anti_pd1"], exp.settings, seed)
    model = AbscopalModel(exp.arms["cryo_anti_pd1"], exp.settings, seed)  # the model without the individual step
    model.run(exp.settings["end_day"])
    assert varied.equals(pd.DataFrame(model.records))


def test_spreads_are_validated():
    cfg = small_config()
    cfg["individual"] = {"recruitment_capacity_sd_log": -0.1}
    with pytest.raises(ConfigError, match="individual.recruitment_capacity_sd_log"):
        resolve(cfg)


def test_every_arm_of_a_replicate_is_the_same_individual_and_it_is_recorded(tmp_path):
    cfg = small_config(end_day=2, readout_day=2)
    cfg["arms"]["cryo_anti_pd1"]["individual"] = {"growth_rate_sd_log": 0.3}  # an arm may change a spread ...
    res = abscopal.run(resolve(cfg), replicates=3, out=tmp_path)
    runs = pd.DataFrame(res.manifest["runs"])
    drawn = pd.DataFrame(list(runs["individual"])).assign(arm=runs["arm"], replicate=runs["replicate"])
    for r, g in drawn.groupby("replicate"):
        assert g["recruitment_capacity"].nunique() == 1 and g["naive_precursors"].nunique() == 1
        control, treated = (g[g.arm == a]["growth_rate"].item() for a in ("control", "cryo_anti_pd1"))
        assert np.log(treated) == pytest.approx(3 * np.log(control))  # ... the individual's score stays
    assert drawn.groupby("arm")["recruitment_capacity"].nunique().eq(3).all()
    s = res.summary
    for trait in individual.TRAITS:
        column = f"individual_{trait}"
        merged = s.merge(drawn, on=["arm", "replicate"])
        assert np.allclose(merged[column], merged[trait])
