"""Parameter sweeps: designs, up-front validation, seeds, storage, resume, executors, CLI, sensitivity."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import small_config

import abscopal
from abscopal import runner, store
from abscopal.cli import main
from abscopal.config import ConfigError, resolve
from abscopal.sweep import Sweep, SweepResults, point_seed

KILL = "immune.kill_probability"
MARGIN = "arms.cryo_anti_pd1.ablation.margin_mm"
FLOW = "lesions.distant.blood_flow_share"


def tiny(**experiment):
    """The small config, shortened to days -1..1: a run takes a fraction of a second."""
    settings = {"start_day": -1, "end_day": 1, "readout_day": 1, **experiment}
    return small_config(**settings)


def test_grid_is_the_product_and_any_key_is_an_axis():
    s = Sweep(tiny(), grid={MARGIN: [0.5, 1.0, 1.5], KILL: [0.1, 0.2]}, replicates=2, seed=4)
    assert len(s) == 6 and s.n_runs == 6 * 2 * 2
    assert set(map(tuple, s.points[[MARGIN, KILL]].to_numpy())) == {(m, k) for m in (0.5, 1.0, 1.5) for k in (0.1, 0.2)}
    exp = s.experiments[int(s.points.query(f"`{MARGIN}` == 1.5 and `{KILL}` == 0.2")["point"].iloc[0])]
    assert exp.arms["cryo_anti_pd1"]["ablation"]["margin_mm"] == 1.5
    assert exp.arms["control"]["immune"]["kill_probability"] == 0.2
    assert "ablation" not in exp.arms["control"]


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_sampled_designs_are_seeded_in_range_and_log_uniform(method):
    sample = {KILL: (0.05, 0.5), FLOW: {"low": 0.001, "high": 0.3, "scale": "log"}}
    a = Sweep(tiny(), sample=sample, method=method, n=64, seed=1)
    b = Sweep(tiny(), sample=sample, method=method, n=64, seed=1)
    c = Sweep(tiny(), sample=sample, method=method, n=64, seed=2)
    pd.testing.assert_frame_equal(a.points, b.points)
    assert not a.points.equals(c.points)
    assert len(a) == (64 if method == "lhs" else 64 * (2 + 2))
    assert a.points[KILL].between(0.05, 0.5).all() and a.points[FLOW].between(0.001, 0.3).all()
    # log-uniform: about half the points below the geometric mean of the bounds
    below = (a.points[FLOW] < np.sqrt(0.001 * 0.3)).mean()
    assert 0.35 < below < 0.65
    if method == "lhs":  # one point per stratum of each axis
        strata = np.floor((a.points[KILL] - 0.05) / 0.45 * 64).clip(0, 63)
        assert sorted(strata.astype(int)) == list(range(64))


def test_grid_times_sample_and_integer_ranges():
    s = Sweep(tiny(), grid={MARGIN: [0.5, 1.0]}, sample={"immune.kill_budget": (1, 9)}, method="lhs", n=5, seed=3)
    assert len(s) == 10
    assert s.points["immune.kill_budget"].map(type).eq(int).all()
    assert list(s.points[MARGIN]) == [0.5] * 5 + [1.0] * 5
    # the same sampled points under every grid value
    assert list(s.points["immune.kill_budget"][:5]) == list(s.points["immune.kill_budget"][5:])


def test_morris_design_moves_one_parameter_at_a_time_per_trajectory(tmp_path):
    pytest.importorskip("SALib")
    path = tmp_path / "m.toml"
    path.write_text(
        '[experiment]\nname = "m"\nstart_day = -1\nend_day = 1\nreadout_day = 1\n[arms.control]\n'
        '[sweep]\nmethod = "morris"\nn = 5\nseed = 7\n'
        f'[sweep.grid]\n"{KILL}" = [0.1, 0.2]\n'
        f'[sweep.sample]\n"{FLOW}" = {{ low = 0.001, high = 0.3, scale = "log" }}\n'
        '"immune.kill_budget" = [1, 9]\n"lesions.distant.diameter_mm" = [2.0, 5.0]\n')
    s = abscopal.sweep.load_sweep(path)
    keys = [FLOW, "immune.kill_budget", "lesions.distant.diameter_mm"]
    d, n = len(keys), 5
    assert s.method == "morris" and s.spec["levels"] == 4
    assert len(s) == 2 * n * (d + 1)  # one Morris design per grid value
    design = s.points[keys].astype(float)
    first, second = design.iloc[: n * (d + 1)], design.iloc[n * (d + 1):]
    np.testing.assert_array_equal(first.to_numpy(), second.to_numpy())
    assert set(s.points[KILL][: n * (d + 1)]) == {0.1} and set(s.points[KILL][n * (d + 1):]) == {0.2}
    for t in range(n):  # each trajectory: d steps, each changing exactly one parameter, each parameter once
        steps = first.iloc[t * (d + 1):(t + 1) * (d + 1)].diff().iloc[1:] != 0
        assert steps.sum(axis=1).tolist() == [1] * d and steps.sum(axis=0).tolist() == [1] * d
    # 4 levels on each range: linear, integer (rounded) and log-uniform
    assert set(design["lesions.distant.diameter_mm"].round(9)) <= {2.0, 3.0, 4.0, 5.0}
    assert set(s.points["immune.kill_budget"]) <= {1, 4, 6, 9} and s.points["immune.kill_budget"].map(type).eq(int).all()
    assert set(np.log10(design[FLOW]).round(9)) <= set(np.round(np.linspace(-3, np.log10(0.3), 4), 9))
    # reproducible from the sweep seed, another seed another design
    pd.testing.assert_frame_equal(s.points, abscopal.sweep.load_sweep(path).points)
    assert not s.points.equals(abscopal.sweep.load_sweep(path, ["sweep.seed=8"]).points)


def test_list_design_from_dataframe_and_csv(tmp_path):
    frame = pd.DataFrame({KILL: [0.1, 0.3], MARGIN: [0.5, 1.5]})
    csv = tmp_path / "points.csv"
    frame.to_csv(csv, index=False)
    for given in (frame, csv, str(csv)):
        s = Sweep(tiny(), points=given)
        assert s.method == "list" and len(s) == 2
        assert s.point_values(1) == {KILL: 0.3, MARGIN: 1.5}


@pytest.mark.parametrize("kwargs, message", [
    ({"grid": {"immune.kill_probabilty": [0.1]}}, "immune.kill_probabilty"),
    ({"grid": {KILL: [0.1, 1.5]}}, "immune.kill_probability = 1.5"),
    ({"grid": {"arms.cryo_anti_pdl.ablation.margin_mm": [1.0]}}, "no arm 'cryo_anti_pdl'"),
    ({"grid": {"lesions.distnt.diameter_mm": [1.0]}}, "no lesion 'distnt'"),
    ({"grid": {MARGIN: [0.5], KILL: [0.1, 0.2, 2.0]}, "replicates": 1}, "sweep point 2"),
    ({"sample": {KILL: (0.5, 0.1)}, "method": "lhs", "n": 4}, "low < high"),
    ({"sample": {KILL: (0.0, 0.5)}, "method": "sobol"},
     "sweep.n: missing; expected the number of points (at least 1) that method 'sobol' draws from sweep.sample"),
    ({"sample": {FLOW: {"low": 0, "high": 0.3, "scale": "log"}}, "n": 4}, "log range"),
    ({"grid": {"experiment.seed": [1, 2]}}, "experiment.seed"),
    ({"method": "halton"}, "sweep.method"),
    ({"method": "morris", "n": 4}, "needs sample ranges"),
    ({"sample": {KILL: (0.1, 0.5)}, "n": "ten"}, "sweep.n = 'ten': expected a whole number in [1, 1e+07]"),
    ({"sample": {KILL: (0.1, 0.5)}, "n": 2.5}, "sweep.n = 2.5: expected a whole number"),
    ({"replicates": "two"}, "sweep.replicates = 'two': expected a whole number in [1, 100000]"),
    ({"replicates": 0}, "sweep.replicates = 0"),
    ({"seed": -1}, "sweep.seed = -1: expected a value in [0, 9223372036854775807]"),
    ({"seed": -1.5}, "sweep.seed = -1.5: expected a whole number in [0, 9223372036854775807]"),
    ({"seed": 2**63}, "sweep.seed = 9223372036854775808"),
    ({"sample": {KILL: (0.1, 0.5)}, "method": "sobol", "n": 100}, "sweep.n = 100: a Sobol design needs a power of two; the nearest are 64 and 128"),
    ({"method": ["grid"]}, "sweep.method = ['grid']"),
])
def test_bad_keys_and_values_fail_up_front_naming_them(kwargs, message, monkeypatch):
    monkeypatch.setattr(runner, "simulate", lambda *a, **k: pytest.fail("ran before validating"))
    with pytest.raises(ConfigError, match=re.escape(message)):
        Sweep(tiny(), **kwargs)


@pytest.mark.parametrize("table, message", [
    ("sweep = 5", "sweep = 5: expected a table [sweep]"),
    ("sweep = false", "sweep = False: expected a table [sweep]"),
    ('[sweep]\nmethod = "lhs"\nn = "ten"\n"sample"."immune.kill_probability" = [0.1, 0.5]', "sweep.n = 'ten'"),
    ('[sweep]\nreplicate = 2', "unknown key sweep.replicate (did you mean replicates?)"),
    ('[sweep]\npoints = "p.csv"', "sweep.points = "),
])
def test_bad_sweep_tables_give_one_line_and_exit_2(tmp_path, capsys, table, message):
    path = tmp_path / "s.toml"
    (tmp_path / "p.csv").write_bytes(b"\xff\xfe\x00bad")
    path.write_text(table + '\n[experiment]\nname = "s"\nstart_day = -1\nend_day = 1\nreadout_day = 1\n')
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err


def test_sweep_table_in_the_config_and_set_on_sweep_keys(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[experiment]\nname = "s"\nstart_day = -1\nend_day = 1\nreadout_day = 1\n'
        '[lesions.index]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n[lesions.distant]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n'
        '[arms.control]\n[sweep]\nmethod = "lhs"\nn = 3\nreplicates = 2\nseed = 5\n'
        f'[sweep.grid]\n"{KILL}" = [0.1, 0.2]\n'
        f'[sweep.sample]\n"{FLOW}" = {{ low = 0.01, high = 0.3, scale = "log" }}\n')
    s = abscopal.sweep.load_sweep(path, ["sweep.n=4", "sweep.grid.immune.kill_budget=[2, 3]"])
    assert s.method == "lhs" and len(s) == 2 * 2 * 4 and s.replicates == 2 and s.seed == 5
    assert s.keys == [KILL, "immune.kill_budget", FLOW]


def test_run_writes_the_contract_and_reproduces_by_hand(tmp_path):
    s = Sweep(tiny(), grid={MARGIN: [0.5, 1.5]}, sample={KILL: (0.1, 0.4)}, method="lhs", n=1, replicates=2, seed=9)
    res = s.run(out=tmp_path / "sw", executor="serial")
    out = tmp_path / "sw"
    m = store.read_manifest(out)
    assert m["kind"] == "sweep" and m["config_hash"] == s.config_hash and len(m["points"]) == 2
    assert len(m["runs"]) == 2 * 2 * 2 and all(r["status"] == "ok" for r in m["runs"])
    assert sorted(p.name for p in (out / "runs").iterdir())[0] == "p00000__control__r0.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(out / "points.parquet"), s.points)
    # seeds: point p, replicate r -> SeedSequence(point_seed(seed, p), spawn_key=(r,)); arms share it
    for r in m["runs"]:
        assert r["seed"] == {"entropy": point_seed(9, r["point"]), "spawn_key": [r["replicate"]]}
    assert point_seed(9, 0) != point_seed(9, 1)
    # tidy summary: point x arm x replicate x lesion, parameter columns
    summary = res.summary
    assert len(summary) == 2 * 2 * 2 * 2
    assert {"point", "arm", "replicate", "lesion", "burden_change_pct", MARGIN, KILL} <= set(summary.columns)
    assert (summary.groupby("point")[MARGIN].nunique() == 1).all()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), summary)
    # re-running point 1 by hand, as the sweep module documents: its config (seed included) as an ordinary
    # experiment gives the same bytes and seeds
    hand = abscopal.run(resolve(m["points"][1]["config"]), out=tmp_path / "hand", workers=1)
    assert len(hand.runs_ok) == 4
    for entry in hand.runs_ok:
        mine = next(r for r in m["runs"] if (r["point"], r["arm"], r["replicate"]) == (1, entry["arm"], entry["replicate"]))
        assert entry["seed"] == mine["seed"]
        assert (tmp_path / "hand" / entry["file"]).read_bytes() == (out / mine["file"]).read_bytes()
    # reopening the folder gives the same summary
    pd.testing.assert_frame_equal(SweepResults.open(out).summary, summary)
    pd.testing.assert_frame_equal(SweepResults.build(out).summary, summary)


def test_failed_runs_are_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    real = runner.simulate

    def flaky(params, settings, seed, snapshots=False):
        if params["immune"]["kill_probability"] > 0.25:
            raise RuntimeError("boom")
        return real(params, settings, seed, snapshots)

    monkeypatch.setattr(runner, "simulate", flaky)
    s = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1)
    res = s.run(out=tmp_path / "sw", executor="serial")
    assert len(res.runs_ok) == 2 and len(res.failed) == 2
    assert all("RuntimeError: boom" in r["error"] and "traceback" in r for r in res.failed)
    assert set(res.summary["point"]) == {0}
    # resume after the fix reruns only the failed runs
    monkeypatch.setattr(runner, "simulate", real)
    before = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "sw" / "runs").iterdir()}
    res = s.run(out=tmp_path / "sw", executor="serial", resume=True)
    assert len(res.runs_ok) == 4 and not res.failed
    after = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "sw" / "runs").iterdir()}
    assert all(after[k] == v for k, v in before.items())


def test_interrupted_sweep_resumes_leaving_finished_files_untouched(tmp_path, capsys):
    s = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1, seed=2)
    out = tmp_path / "sw"
    s.run(out=out, executor="serial", stop_after=3)
    first = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in (out / "runs").iterdir()}
    assert len(first) == 3 and len(store.read_manifest(out)["runs"]) == 3
    # one finished file lost as well
    lost = sorted(first)[0]
    (out / "runs" / lost).unlink()
    with pytest.raises(ConfigError, match="resume"):
        s.run(out=out, executor="serial")
    res = s.run(out=out, executor="serial", resume=True, progress=True)
    last = capsys.readouterr().err.splitlines()[-1]
    assert "2/2" in last and "0 failed" in last  # the progress bar counts the 2 runs left
    assert len(res.runs_ok) == 4 and not res.failed and store.read_manifest(out)["resumed"] == 2
    files = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in (out / "runs").iterdir()}
    assert len(files) == 4
    for name, (data, mtime) in first.items():
        assert files[name][0] == data
        if name != lost:
            assert files[name][1] == mtime
    # the same as an uninterrupted sweep
    whole = s.run(out=tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(whole.summary, res.summary)


def _sweep_toml(path: Path, name: str, kills: list[float], replicates: int = 1) -> Path:
    cfg = tiny(name=name)
    text = ["[experiment]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in cfg["experiment"].items()]
    for lesion in ("index", "distant"):
        text += [f"[lesions.{lesion}]", "diameter_mm = 2.0", "domain_mm = 4.0"]
    text += ["[arms.control]", "[sweep]", f"replicates = {replicates}", "[sweep.grid]", f'"{KILL}" = {kills}']
    path.write_text("\n".join(text) + "\n")
    return path


def test_killed_sweep_process_resumes(tmp_path):
    config = _sweep_toml(tmp_path / "k.toml", "killed", [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "abscopal.cli", "sweep", str(config), "--out", str(out), "--executor", "serial"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if (out / "manifest.json").exists() and len(store.read_manifest(out)["runs"]) >= 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = [r for r in store.read_manifest(out)["runs"] if r["status"] == "ok"]
    assert 2 <= len(done) < 8, "the sweep should have been killed part way"
    first = {r["file"]: ((out / r["file"]).read_bytes(), (out / r["file"]).stat().st_mtime_ns) for r in done}
    assert main(["sweep", str(config), "--out", str(out), "--executor", "serial", "--resume"]) == 0
    m = store.read_manifest(out)
    assert len(m["runs"]) == 8 and all(r["status"] == "ok" for r in m["runs"])
    for file, (data, mtime) in first.items():
        assert (out / file).read_bytes() == data and (out / file).stat().st_mtime_ns == mtime
    assert len(pd.read_parquet(out / "summary.parquet")) == 8 * 2


def test_runs_logged_after_the_last_manifest_write_are_not_rerun(tmp_path, monkeypatch):
    s = Sweep(tiny(), grid={KILL: [0.1, 0.2, 0.3]}, replicates=1, seed=6)
    out = tmp_path / "sw"
    writes = []
    real = store.write_json
    monkeypatch.setattr(store, "write_json", lambda path, data: (writes.append(len(data["runs"])), real(path, data)))
    s.run(out=out, executor="serial", stop_after=5)
    assert writes == [0, 1, 2, 4, 5]  # at the start, after 1, 2, 4 runs, at the end: not after every run
    assert not (out / "runs.jsonl").exists()
    # as if the driver was killed after run 5 with the manifest last written after run 2
    m = store.read_manifest(out)
    logged = m["runs"][2:]
    m["runs"] = m["runs"][:2]
    store.write_json(out / "manifest.json", m)
    lines = [json.dumps(e) for e in logged] + ['{"point": 2, "arm": "cont']  # the last line cut by the kill
    (out / "runs.jsonl").write_text("\n".join(lines))
    before = {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()}
    with pytest.raises(ConfigError, match="resume"):
        s.run(out=out, executor="serial")
    res = s.run(out=out, executor="serial", resume=True)
    assert store.read_manifest(out)["resumed"] == 5 and len(res.runs_ok) == 6
    after = {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()}
    assert all(after[k] == v for k, v in before.items()) and len(after) == 6


def test_summary_is_written_in_row_groups_with_one_schema(tmp_path):
    frames = [pd.DataFrame({"point": [p], "x": [0 if p < 3 else 0.5], "arm": ["a"]}) for p in range(7)]
    store.write_frames(tmp_path / "s.parquet", iter(frames), dtypes={"x": "float64"}, frames_per_group=3)
    assert pq.ParquetFile(tmp_path / "s.parquet").num_row_groups == 3
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert back["x"].dtype == "float64" and list(back["x"]) == [0.0] * 3 + [0.5] * 4
    store.write_frames(tmp_path / "empty.parquet", iter([]), columns=["point", "arm"])
    assert list(pd.read_parquet(tmp_path / "empty.parquet").columns) == ["point", "arm"]


def test_an_experiment_or_a_path_is_a_base(tmp_path):
    exp = resolve(tiny())
    s = Sweep(exp, grid={KILL: [0.1, 0.2]}, replicates=1)
    assert len(s) == 2 and set(s.experiments[1].arms) == {"control", "cryo_anti_pd1"}
    config = _sweep_toml(tmp_path / "p.toml", "frompath", [0.1, 0.2, 0.3])
    assert len(Sweep(config)) == 3 and len(Sweep(config, grid={KILL: [0.4]})) == 1


def test_resume_refuses_another_config(tmp_path):
    Sweep(tiny(), grid={KILL: [0.1]}, replicates=1).run(out=tmp_path / "sw", executor="serial")
    with pytest.raises(ConfigError, match="another sweep config"):
        Sweep(tiny(), grid={KILL: [0.2]}, replicates=1).run(out=tmp_path / "sw", executor="serial", resume=True)


def test_process_pool_gives_the_same_files_as_serial(tmp_path):
    s = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1, seed=6)
    serial = s.run(out=tmp_path / "a", executor="serial")
    pool = s.run(out=tmp_path / "b", executor="process", workers=2)
    for r in serial.runs_ok:
        assert (tmp_path / "a" / r["file"]).read_bytes() == (tmp_path / "b" / r["file"]).read_bytes()
    pd.testing.assert_frame_equal(serial.summary, pool.summary)


def test_unknown_executor_and_missing_dask_message(monkeypatch):
    from abscopal import execute

    with pytest.raises(ValueError, match="serial, process, dask"):
        execute.make_executor("threads")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(RuntimeError, match=r"pip install 'abscopal\[dask\]'"):
        execute.make_executor("dask", 1)


def test_cli_sweep_dry_run_run_and_resume(tmp_path, capsys, monkeypatch):
    path = _sweep_toml(tmp_path / "s.toml", "clisweep", [0.1, 0.2, 0.3])
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    text_out = capsys.readouterr().out
    assert "3 points x 1 arms x 1 replicates = 3 runs" in text_out and "estimate" in text_out
    assert not out.exists()
    assert main(["sweep", str(path), "--out", str(out), "--executor", "serial", "--set", "sweep.replicates=2"]) == 0
    assert "6 runs ok, 0 failed" in capsys.readouterr().out
    assert main(["sweep", str(path), "--out", str(out), "--executor", "serial", "--set", "sweep.replicates=2",
                 "--resume"]) == 0
    assert main(["sweep", str(path), "--out", str(out), "--executor", "serial", "--resume"]) == 2
    assert "another sweep config" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(tmp_path / "bad"), "--set", "sweep.grid.immune.kill_budget=[0]"]) == 2
    assert "immune.kill_budget = 0" in capsys.readouterr().err
    # a failed run makes the exit status non-zero
    monkeypatch.setattr(runner, "simulate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    assert main(["sweep", str(path), "--out", str(tmp_path / "fail"), "--executor", "serial"]) == 1
    assert "0 runs ok, 3 failed" in capsys.readouterr().out


def test_shipped_timing_sweep_validates():
    s = abscopal.sweep.load_sweep(Path(__file__).parent.parent / "experiments" / "timing_sweep.toml")
    assert len(s) == 16 and s.replicates == 2 and set(s.experiments[0].arms) == {"cryo", "cryo_anti_pd1"}
    assert s.n_runs == 64


def test_shipped_morris_screen_validates():
    pytest.importorskip("SALib")
    s = abscopal.sweep.load_sweep(Path(__file__).parent.parent / "experiments" / "morris_screen.toml")
    assert s.method == "morris" and len(s.keys) == 7 and len(s) == 8 * (7 + 1) and s.n_runs == 128


def test_sensitivity_of_a_sobol_sweep(tmp_path):
    pytest.importorskip("SALib")
    config = tiny()
    config["arms"] = {"cryo_anti_pd1": config["arms"]["cryo_anti_pd1"]}
    s = Sweep(config, sample={KILL: (0.05, 0.5), FLOW: (0.01, 0.3)}, method="sobol", n=2, replicates=1, seed=1)
    assert len(s) == 2 * (2 + 2)
    res = s.run(executor="serial")
    table = abscopal.sensitivity(res, output="distant_change_pct")
    assert list(table.columns) == ["arm", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert list(table["parameter"]) == [KILL, FLOW] and table[["S1", "ST"]].notna().all().all()
    with pytest.raises(ValueError, match="'sobol' .*or 'morris'"):
        abscopal.sensitivity(Sweep(tiny(), grid={KILL: [0.1]}, replicates=1).run(executor="serial"))


def test_morris_without_salib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "SALib.sample", None)
    with pytest.raises(ConfigError, match=r"sweep.method = 'morris' needs SALib: pip install 'abscopal\[sensitivity\]'"):
        Sweep(tiny(), sample={KILL: (0.05, 0.5)}, method="morris", n=2)


def test_morris_elementary_effects_of_a_known_function():
    """output = 5 * kill * margin + 3 * ln(flow) + 0 * budget: mu* is the change over each whole (log) range."""
    pytest.importorskip("SALib")
    sample = {KILL: (0.05, 0.5), FLOW: {"low": 0.01, "high": 0.3, "scale": "log"}, "immune.kill_budget": (1, 9)}
    s = Sweep(tiny(), grid={MARGIN: [0.5, 1.0]}, sample=sample, method="morris", n=6, seed=3)
    p = s.points
    change = 5 * p[KILL] * p[MARGIN] + 3 * np.log(p[FLOW].astype(float))
    summary = pd.concat([pd.DataFrame({"point": p["point"], "arm": arm, "replicate": 0, "lesion": "distant",
                                       "burden_change_pct": change * sign})
                         for arm, sign in (("cryo", 1.0), ("cryo_anti_pd1", -1.0))])
    res = SimpleNamespace(manifest={"sweep": s.spec, "points": [{"values": s.point_values(i)} for i in range(len(s))]},
                          summary=summary)
    table = abscopal.sensitivity(res, output="distant_change_pct")
    assert list(table.columns) == ["arm", MARGIN, "parameter", "mu", "mu_star", "mu_star_conf", "sigma"]
    assert len(table) == 2 * 2 * 3  # arm x grid value x parameter
    got = table.set_index(["arm", MARGIN, "parameter"])
    for arm, sign in (("cryo", 1.0), ("cryo_anti_pd1", -1.0)):
        for margin in (0.5, 1.0):
            expected = {KILL: 5 * margin * 0.45, FLOW: 3 * np.log(30.0), "immune.kill_budget": 0.0}
            for key, effect in expected.items():
                row = got.loc[(arm, margin, key)]
                assert row["mu_star"] == pytest.approx(effect, abs=1e-9)
                assert row["mu"] == pytest.approx(sign * effect, abs=1e-9)
                assert row["sigma"] == pytest.approx(0.0, abs=1e-9)
    one = abscopal.sensitivity(res, output="distant_change_pct", arm="cryo")
    assert set(one["arm"]) == {"cryo"} and len(one) == 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dask_cluster_of_two_workers(tmp_path):
    pytest.importorskip("dask.distributed")
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("no dask command in the environment")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        s = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1, seed=6)
        res = s.run(out=tmp_path / "dask", executor="dask", scheduler=address)
        assert len(res.runs_ok) == 4 and not res.failed
        serial = s.run(out=tmp_path / "serial", executor="serial")
        for r in serial.runs_ok:
            assert (tmp_path / "dask" / r["file"]).read_bytes() == (tmp_path / "serial" / r["file"]).read_bytes()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
