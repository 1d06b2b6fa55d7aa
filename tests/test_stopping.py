"""Early stopping: a run ends when every lesion is cleared or the tumour burden passes a limit."""

import mesa
import pandas as pd
import pytest
from conftest import small_config

import abscopal
from abscopal import readouts
from abscopal.cli import main
from abscopal.config import ConfigError, resolve
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from abscopal.sweep import Sweep

CLEARING = {  # the index lesion ablated with a 5 mm margin, the distant one resected: no tumour left on day 1
    "ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 5.0},
    "resection": {"lesion": "distant", "day": 0},
}


def _total_cells(ts: pd.DataFrame) -> pd.Series:
    return ts[ts["lesion"] != "systemic"].groupby("time_day")["tumor_cells"].sum()


def test_a_cleared_run_stops_the_day_after_and_reads_out_there(tmp_path):
    cfg = small_config(stop_when_cleared=True, end_day=4, readout_day=4, replicates=1)
    cfg["arms"] = {"control": {}, "cleared": CLEARING}
    res = abscopal.run(resolve(cfg), out=tmp_path)
    ts = pd.read_parquet(tmp_path / "runs" / "cleared__r0.parquet")
    assert ts["time_day"].max() == 1.0 and (ts.loc[ts.time_day == 1.0, "lesion"] == "systemic").any()
    assert _total_cells(ts)[1.0] == 0 and _total_cells(ts)[0.0] > 0
    stops = res.events[res.events["kind"] == "stop"]
    assert stops[["arm", "day", "reason"]].values.tolist() == [["cleared", 1.0, "cleared"]]
    s = res.summary.set_index(["arm", "lesion"])
    assert (s.loc["cleared", "stop_reason"] == "cleared").all() and (s.loc["cleared", "stop_day"] == 1.0).all()
    assert (s.loc["cleared", "readout_day"] == 1.0).all() and (s.loc["cleared", "burden_change_pct"] == -100).all()
    assert (s.loc["control", "stop_reason"] == "end_day").all() and (s.loc["control", "stop_day"] == 4.0).all()
    assert (s.loc["control", "readout_day"] == 4.0).all()


def test_a_metastasis_still_to_come_keeps_a_cleared_run_going():
    cfg = small_config(stop_when_cleared=True, end_day=3, readout_day=3)
    cfg["arms"] = {"cleared": {**CLEARING, "metastases": {"liver": {"day": 2, "diameter_mm": 1.0}}}}
    exp = resolve(cfg)
    model = AbscopalModel(exp.arms["cleared"], exp.settings, replicate_seed(1, 0))
    model.run(3)
    assert model.stop is None and model.day == 3


def test_burden_limit_stops_a_run_in_a_sweep_and_counts_as_death_by_burden(tmp_path):
    # two 2 mm lesions hold ~15,700 cells on day -1 and ~17,400 on day 0: a limit of 16,500 stops on day 0
    cfg = small_config(start_day=-1, end_day=1, readout_day=1)
    cfg["arms"] = {"control": {}}
    sweep = Sweep(cfg, grid={"experiment.stop_burden_cells": [0, 16_500]}, replicates=2, seed=5)
    res = sweep.run(out=tmp_path / "sw", executor="serial")
    s = res.summary
    limited = s[s["experiment.stop_burden_cells"] == 16_500]
    assert set(limited["stop_reason"]) == {"burden_limit"} and set(limited["stop_day"]) == {0.0}
    assert set(limited["readout_day"]) == {0.0}
    free = s[s["experiment.stop_burden_cells"] == 0]
    assert set(free["stop_reason"]) == {"end_day"} and set(free["stop_day"]) == {1.0}
    runs = [r for r in res.runs_ok if r["point"] == 1]
    stop = runs[0]["events"][-1]
    assert stop["kind"] == "stop" and stop["reason"] == "burden_limit" and stop["tumor_cells"] > 16_500
    # time_to_event: the burden-limit stop is death by burden, as an explicit limit on the time series says
    events = pd.DataFrame([{"arm": r["arm"], "replicate": r["replicate"], **e} for r in runs for e in r["events"]])
    ts = res.timeseries(1)
    by_stop = readouts.time_to_event(ts, [1], baseline_day=-1.0, events=events)
    by_limit = readouts.time_to_event(ts, [1], baseline_day=-1.0, burden_limit_cells=16_500)
    pfs = by_stop[by_stop["endpoint"] == "pfs"]
    assert pfs["event"].all() and set(pfs["cause"]) == {"burden"} and set(pfs["time_day"]) == {1.0}
    pd.testing.assert_frame_equal(by_stop, by_limit)
    unstopped = readouts.time_to_event(ts, [1], baseline_day=-1.0)
    assert not unstopped.loc[unstopped["endpoint"] == "pfs", "event"].any()


def test_off_by_default_and_unmet_conditions_change_nothing():
    exp = resolve(small_config(end_day=3, readout_day=3))
    assert exp.settings["stop_when_cleared"] is False and exp.settings["stop_burden_cells"] == 0
    params, seed = exp.arms["cryo_anti_pd1"], replicate_seed(3, 0)
    whole = AbscopalModel(params, exp.settings, seed)
    mesa.Model.run_until(whole, whole.time_of(3))  # the whole span in one go, as before early stopping
    daily = AbscopalModel(params, exp.settings, seed)
    daily.run(3)
    unmet = AbscopalModel(params, {**exp.settings, "stop_when_cleared": True, "stop_burden_cells": 10**9}, seed)
    unmet.run(3)
    for model in (daily, unmet):
        pd.testing.assert_frame_equal(pd.DataFrame(model.records), pd.DataFrame(whole.records))
        assert model.events == whole.events and model.stop is None


@pytest.mark.parametrize("key, value, words", [
    ("stop_burden_cells", -1, "[0, 1e+12]"),
    ("stop_burden_cells", 1.5, "whole number"),
    ("stop_when_cleared", "yes", "true or false"),
])
def test_bad_stopping_settings_name_the_key(key, value, words):
    with pytest.raises(ConfigError, match=f"experiment.{key}") as err:
        resolve(small_config(**{key: value}))
    assert words in str(err.value)


def test_cli_run_sets_early_stopping(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[experiment]\nname = "c"\nstart_day = -1\nend_day = 3\nreadout_day = 3\nreplicates = 1\n'
        '[lesions.index]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n[lesions.distant]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n'
        '[arms.cleared]\nablation = { modality = "cryo", lesion = "index", day = 0, margin_mm = 5.0 }\n'
        'resection = { lesion = "distant", day = 0 }\n')
    out = tmp_path / "out"
    argv = ["run", str(config), "--out", str(out), "--workers", "1", "--quiet"]
    assert main([*argv, "--set", "experiment.stop_when_cleared=true"]) == 0
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["stop_reason"]) == {"cleared"} and set(summary["stop_day"]) == {1.0}
