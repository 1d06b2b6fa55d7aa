"""Running an experiment: the results contract on disk, failed runs, and identical files on any worker count."""

import json

import numpy as np
import pandas as pd
import pytest

import abscopal
from abscopal import runner
from abscopal.config import resolve
from abscopal.cli import main
from conftest import failing, small_config


def test_run_writes_the_results_contract(tmp_path):
    exp = resolve(small_config(end_day=3, readout_day=3))
    res = abscopal.run(exp, replicates=2, out=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {r["status"] for r in manifest["runs"]} == {"ok"} and len(manifest["runs"]) == 4
    assert manifest["versions"]["mesa"].startswith("3.")
    assert manifest["runs"][0]["seed"] == {"entropy": 3, "spawn_key": [0]}
    ts = pd.read_parquet(tmp_path / "runs" / "cryo_anti_pd1__r1.parquet")
    for col in ("time_day", "lesion", "tumor_cells", "effector_t_cells", "exhausted_t_cells", "pd_l1_mean",
                "antigen", "longest_diameter_mm", "blood_effectors", "anti_pd1_nm"):
        assert col in ts.columns
    assert set(ts["lesion"]) == {"index", "distant", "systemic"}
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert len(summary) == 2 * 2 * 2
    treated = summary[(summary.arm == "cryo_anti_pd1") & (summary.lesion == "index")]
    assert (treated["role"] == "ablated").all() and (treated["burden_change_pct"] < -90).all()
    assert (treated["local_treatments"] == "ablated").all() and treated["abscopal_responder"].isna().all()
    assert not (tmp_path / "figures").exists()  # Results draws no figure; the command that asked does
    assert res.timeseries.shape[0] == 4 * ts.shape[0]
    assert set(res.events["kind"]) == {"ablation", "dose"}
    snap = np.load(tmp_path / "snapshots" / "cryo_anti_pd1__r0.npz")
    before, after = snap["index/day0/state"], snap["index/day1/state"]
    assert (before == 1).sum() > 1000 and (after == 1).sum() < 0.05 * (before == 1).sum()
    assert snap["distant/day3/t_cells"].shape[1] == 3 and float(snap["cell_um"]) == 20.0
    assert not (tmp_path / "snapshots" / "cryo_anti_pd1__r1.npz").exists()


def test_a_failed_run_is_recorded_and_the_rest_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "simulate",
                        failing(runner.simulate, lambda params, seed: "ablation" in params and seed.spawn_key == (1,)))
    res = abscopal.run(resolve(small_config(end_day=2, readout_day=2)), replicates=2, out=tmp_path)
    assert [(r["arm"], r["replicate"]) for r in res.failed] == [("cryo_anti_pd1", 1)]
    assert "FloatingPointError: boom" in res.failed[0]["error"]
    assert len(res.runs_ok) == 3 and len(res.summary) == 6


def test_same_files_on_one_or_two_workers(tmp_path):
    exp = resolve(small_config(end_day=2, readout_day=2))
    abscopal.run(exp, replicates=2, workers=1, out=tmp_path / "one")
    abscopal.run(exp, replicates=2, workers=2, out=tmp_path / "two")
    for f in sorted((tmp_path / "one" / "runs").glob("*.parquet")) + [tmp_path / "one" / "summary.parquet"]:
        assert f.read_bytes() == (tmp_path / "two" / f.relative_to(tmp_path / "one")).read_bytes(), f.name


def test_cli_validate_and_errors(tmp_path, capsys):
    cfg = tmp_path / "e.toml"
    cfg.write_text('[experiment]\nname = "e"\n[arms.control]\n[arms.cryo]\nablation = { modality = "cryo" }\n')
    assert main(["validate", str(cfg)]) == 0
    assert "2 arms (control, cryo)" in capsys.readouterr().out
    assert main(["validate", str(cfg), "--set", "immune.kill_probability=2"]) == 2
    err = capsys.readouterr().err
    assert "immune.kill_probability = 2: expected" in err and "[0, 1]" in err


def test_cli_params_lists_every_parameter_with_unit_and_source(capsys):
    assert main(["params", "--format", "tsv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["key", "unit", "default", "range", "source", "meaning"]
    keys = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert keys["immune.kill_probability"][4] == "kather2017"
    assert keys["tumour.growth_rate_per_day"][1] == "1/day"


@pytest.mark.parametrize("argv", [["run", "missing.toml"], ["validate", "missing.toml"]])
def test_cli_missing_config(argv, capsys):
    assert main(argv) == 2
    assert "does not exist" in capsys.readouterr().err
