"""The summary of a real run: its numbers are the readouts' numbers, roles from every local event (issue 8)."""

import math

import pandas as pd
import pytest

import abscopal
from abscopal import readouts
from abscopal.config import resolve
from conftest import small_config

READOUT_DAY = 3


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The small experiment with, in the control arm, a resection of the index lesion on day 1, a metastasis
    seeded on day 1 (after baseline) and one seeded on the readout day (its first record comes after it)."""
    cfg = small_config(end_day=5, readout_day=READOUT_DAY)
    cfg["arms"]["control"]["resection"] = {"lesion": "index", "day": 1}
    cfg["arms"]["control"]["metastases"] = {"lung": {"day": 1, "diameter_mm": 0.5, "domain_mm": 2.0},
                                            "liver": {"day": READOUT_DAY, "diameter_mm": 0.5, "domain_mm": 2.0}}
    return abscopal.run(resolve(cfg), replicates=1, out=tmp_path_factory.mktemp("summary"))


def test_a_metastasis_seeded_after_the_readout_gets_a_row_without_readouts(results):
    """Results.build crashed once every run had finished, so no summary was written."""
    liver = results.summary.set_index(["arm", "lesion"]).loc[("control", "liver")]
    assert liver["readout_status"] == "seeded_after_readout" and liver["role"] == "untreated"
    assert math.isnan(liver["readout_day"]) and math.isnan(liver["burden_change_pct"])
    assert pd.isna(liver["abscopal_responder"])
    assert (results.summary.loc[results.summary["lesion"] != "liver", "readout_status"] == "measured").all()


def test_roles_from_every_local_event(results):
    s = results.summary.set_index(["arm", "lesion"])
    assert s.loc[("control", "index"), "role"] == "resected"
    assert s.loc[("control", "index"), "diameter_change_pct"] == -100.0
    assert pd.isna(s.loc[("control", "index"), "abscopal_responder"])  # a resected lesion is not abscopal
    assert s.loc[("cryo_anti_pd1", "index"), "role"] == "ablated"
    assert s.loc[("control", "distant"), "role"] == "untreated"
    assert not pd.isna(s.loc[("control", "distant"), "abscopal_responder"])


def test_summary_numbers_are_the_readouts_numbers(results):
    ts, events = results.timeseries, results.events
    s = results.summary.set_index(["arm", "replicate", "lesion"])
    keys = ["arm", "replicate", "lesion"]
    bc = readouts.burden_change(ts, baseline_day=0.0, day=READOUT_DAY).set_index(keys)
    imm = readouts.immune_readouts(ts, day=READOUT_DAY).set_index(keys)
    ab = readouts.abscopal_response(ts, treated_lesion=events, day=READOUT_DAY).set_index(keys)
    measured = s[s["readout_status"] == "measured"].index
    assert len(measured) == 5  # control: index, distant, lung; cryo: index, distant
    pairs = {"tumor_cells_baseline": bc["tumor_cells_baseline"], "tumor_cells_readout": bc["tumor_cells"],
             "burden_change_pct": bc["tumor_cells_change_pct"],
             "diameter_change_pct": bc["longest_diameter_change_pct"], "baseline_day": bc["baseline_day"],
             "effector_t_cells_peak": imm["effector_t_cells_peak"], "pd_l1_readout": imm["pd_l1_mean"]}
    for column, expected in pairs.items():
        pd.testing.assert_series_equal(s.loc[measured, column], expected.loc[measured].astype(float),
                                       check_names=False)
    assessed = s[s["abscopal_responder"].notna()]
    assert list(assessed.index) == [i for i in ab.index if i[2] != readouts.ANY]
    assert (assessed["abscopal_responder"].astype(bool) == ab.loc[assessed.index, "responder"]).all()
    assert (assessed["response"] == ab.loc[assessed.index, "response"]).all()
    lung = s.loc[("control", 0, "lung")]
    assert lung["baseline_day"] == 2.0  # seeded on day 1: measured from its first record, as the readouts do
