"""The one executor layer: output folders never mixed, dead workers survived, runs resumed; the CLI's bad input."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import failing, small_config

import abscopal
from abscopal import memory, runner, store
from abscopal.cli import main
from abscopal.config import ConfigError, resolve
from abscopal.store import FolderError
from abscopal.streams import replicate_seed
from abscopal.sweep import Sweep

KILL = "immune.kill_probability"
REAL_RUN_TASK = runner.run_task


def tiny(**experiment):
    return small_config(**{"start_day": -1, "end_day": 1, "readout_day": 1, **experiment})


def write_config(path: Path, sweep: bool = False, name: str = "e") -> Path:
    """A tiny two-arm experiment as TOML (with a two-point [sweep] table if asked)."""
    text = (f'[experiment]\nname = "{name}"\nstart_day = -1\nend_day = 1\nreadout_day = 1\nreplicates = 1\n'
            '[lesions.index]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n[lesions.distant]\ndiameter_mm = 2.0\n'
            'domain_mm = 4.0\n[arms.control]\n[arms.cryo]\nablation = { modality = "cryo", margin_mm = 1.0 }\n')
    if sweep:
        text += f'[sweep]\n[sweep.grid]\n"{KILL}" = [0.1, 0.3]\n'
    path.write_text(text)
    return path


def killing_run_task(task):
    """runner.run_task, except that the worker of the run named by $ABSCOPAL_TEST_KILL ("file|once|mark" or
    "file|always|mark") kills itself (SIGKILL) before running it: the first time only, or every time."""
    target, mode, mark = os.environ["ABSCOPAL_TEST_KILL"].split("|")
    if task.file == target and (mode == "always" or not Path(mark).exists()):
        Path(mark).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return REAL_RUN_TASK(task)


def kill_worker(monkeypatch, tmp_path, file: str, mode: str) -> None:
    monkeypatch.setenv("ABSCOPAL_TEST_KILL", f"{file}|{mode}|{tmp_path / 'killed.mark'}")
    monkeypatch.setattr(runner, "run_task", killing_run_task)


# ----------------------------------------------------------------------------------------------- one layer


def test_a_run_file_is_the_models_frame_and_nothing_else(tmp_path):
    """The executor layer adds nothing to a run's file: it is the model's frame (arm, replicate first, the columns
    of every drug last: runner.with_every_column) as store.write_frame writes it."""
    exp = resolve(tiny())
    abscopal.run(exp, replicates=1, out=tmp_path / "run")
    frame, _, _ = runner.simulate(exp.arms["cryo_anti_pd1"], exp.settings, replicate_seed(3, 0))
    frame.insert(0, "arm", "cryo_anti_pd1")
    frame.insert(1, "replicate", 0)
    store.write_frame(tmp_path / "direct.parquet", runner.with_every_column(frame))
    assert (tmp_path / "run" / "runs" / "cryo_anti_pd1__r0.parquet").read_bytes() == \
        (tmp_path / "direct.parquet").read_bytes()


def test_running_and_summarising_never_touch_plots(tmp_path):
    """Results draws no figure: running an experiment and reopening it import neither plots nor matplotlib."""
    code = ("import sys; sys.path.insert(0, 'tests'); import abscopal; from conftest import small_config; "
            "from abscopal.config import resolve; "
            "c = small_config(start_day=-1, end_day=1, readout_day=1); "
            f"abscopal.run(resolve(c), replicates=1, out={str(tmp_path / 'out')!r}); "
            f"abscopal.Results.build({str(tmp_path / 'out')!r}).summary; "
            "print(sorted(m for m in ('abscopal.plots', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent).stdout
    assert out.strip() == "[]"
    assert not (tmp_path / "out" / "figures").exists()


# ----------------------------------------------------------------------------------------------- the folder


def test_run_refuses_other_results_and_force_clears_them(tmp_path):
    out = tmp_path / "out"
    abscopal.run(resolve(tiny()), replicates=2, out=out)
    assert len(list((out / "runs").iterdir())) == 4
    other = resolve(tiny(name="other", seed=4))
    with pytest.raises(FolderError, match="holds the results of experiment 'small'.*--force"):
        abscopal.run(other, replicates=1, out=out)
    with pytest.raises(FolderError, match="another experiment config"):
        abscopal.run(other, replicates=1, out=out, resume=True)
    assert store.read_manifest(out)["experiment"] == "small"
    res = abscopal.run(other, replicates=1, out=out, force=True)
    assert len(res.runs_ok) == 2
    assert sorted(f.name for f in (out / "runs").iterdir()) == ["control__r0.parquet", "cryo_anti_pd1__r0.parquet"]
    assert store.read_manifest(out)["experiment"] == "other"


def test_sweep_and_run_refuse_each_others_folder(tmp_path):
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    abscopal.run(resolve(tiny()), replicates=1, out=run_dir)
    sweep = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1)
    sweep.run(out=sweep_dir, executor="serial")
    with pytest.raises(FolderError, match="holds the results of experiment"):
        sweep.run(out=run_dir, executor="serial")
    with pytest.raises(FolderError, match="cannot resume the results of experiment"):
        sweep.run(out=run_dir, executor="serial", resume=True)
    with pytest.raises(FolderError, match="holds the results of sweep"):
        abscopal.run(resolve(tiny()), replicates=1, out=sweep_dir)
    assert "points" in store.read_manifest(sweep_dir) and len(list((sweep_dir / "runs").iterdir())) == 4


def test_a_folder_that_is_not_ours_is_never_cleared(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for force in (False, True):
        with pytest.raises(FolderError, match="holds no abscopal results"):
            abscopal.run(resolve(tiny()), replicates=1, out=tmp_path, force=force)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_run_resume_runs_only_missing_or_failed_runs(tmp_path, monkeypatch):
    real = runner.simulate
    exp, out = resolve(tiny()), tmp_path / "out"
    monkeypatch.setattr(runner, "simulate",
                        failing(real, lambda params, seed: "ablation" in params and seed.spawn_key == (1,)))
    assert len(abscopal.run(exp, replicates=2, out=out).failed) == 1
    monkeypatch.setattr(runner, "simulate", real)
    (out / "runs" / "control__r1.parquet").unlink()
    before = {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()}
    ran = []
    monkeypatch.setattr(runner, "simulate", lambda p, s, seed, snapshots=False: (
        ran.append((p.get("ablation") is not None, seed.spawn_key)), real(p, s, seed, snapshots))[1])
    res = abscopal.run(exp, replicates=2, out=out, resume=True)
    assert sorted(ran) == [(False, (1,)), (True, (1,))] and len(res.runs_ok) == 4 and not res.failed
    assert store.read_manifest(out)["resumed"] == 2
    after = {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()}
    assert all(after[name] == mtime for name, mtime in before.items() if name != "cryo_anti_pd1__r1.parquet")
    whole = abscopal.run(exp, replicates=2, out=tmp_path / "whole")
    pd.testing.assert_frame_equal(res.summary, whole.summary)


def test_cli_run_refuses_a_sweep_folder_and_force_replaces_it(tmp_path, capsys):
    sweep_cfg, run_cfg = write_config(tmp_path / "s.toml", sweep=True), write_config(tmp_path / "r.toml")
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_cfg), "--out", str(out), "--executor", "serial"]) == 0
    capsys.readouterr()
    assert main(["run", str(run_cfg), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("abscopal: output folder") and "--force" in err
    assert main(["run", str(run_cfg), "--out", str(out), "--workers", "1", "--force"]) == 0
    assert "tumour_burden.png" in capsys.readouterr().out and (out / "figures" / "tumour_burden.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["figures", "manifest.json", "runs", "snapshots", "summary.parquet"]
    assert main(["run", str(run_cfg), "--out", str(out), "--workers", "1", "--resume"]) == 0
    assert "2 runs ok, 0 failed" in capsys.readouterr().out
    assert main(["sweep", str(sweep_cfg), "--out", str(out), "--executor", "serial"]) == 2
    assert "holds the results of experiment 'e'" in capsys.readouterr().err


def test_run_and_sweep_name_the_refused_folder_as_given(tmp_path, capsys, monkeypatch):
    """A sweep into a run folder named it by its absolute path where ``run`` gives it as the user did."""
    monkeypatch.chdir(tmp_path)
    sweep_cfg, run_cfg = write_config(tmp_path / "s.toml", sweep=True), write_config(tmp_path / "r.toml")
    assert main(["run", str(run_cfg), "--out", "out", "--workers", "1"]) == 0
    assert main(["sweep", str(sweep_cfg), "--out", "sout", "--executor", "serial"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(sweep_cfg), "--out", "out", "--executor", "serial"]) == 2
    assert capsys.readouterr().err.startswith("abscopal: output folder out: holds the results of experiment")
    assert main(["run", str(run_cfg), "--out", "sout", "--workers", "1"]) == 2
    assert capsys.readouterr().err.startswith("abscopal: output folder sout: holds the results of sweep")


def test_killed_cli_run_resumes(tmp_path):
    config = write_config(tmp_path / "e.toml")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "abscopal.cli", "run", str(config), "--out", str(out), "--workers", "1",
           "--replicates", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "runs.jsonl").exists() and len(store.read_json_lines(out / "runs.jsonl")) >= 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = [r for r in store.read_json_lines(out / "runs.jsonl") if r["status"] == "ok"]
    assert 2 <= len(done) < 6, "the run should have been killed part way"
    first = {r["file"]: (out / r["file"]).stat().st_mtime_ns for r in done}
    assert main(["run", str(config), "--out", str(out), "--workers", "1", "--replicates", "3"]) == 2
    assert main(["run", str(config), "--out", str(out), "--workers", "1", "--replicates", "3", "--resume"]) == 0
    m = store.read_manifest(out)
    assert len(m["runs"]) == 6 and m["resumed"] == len(done) and all(r["status"] == "ok" for r in m["runs"])
    assert all((out / file).stat().st_mtime_ns == mtime for file, mtime in first.items())


def test_cli_interrupt_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(write_config(tmp_path / "e.toml"))]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err


# ----------------------------------------------------------------------------------------------- dead workers


def test_a_killed_worker_is_replaced_and_its_runs_retried(tmp_path, monkeypatch):
    victim = "runs/p00001__control__r0.parquet"
    kill_worker(monkeypatch, tmp_path, victim, "once")
    sweep = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1, seed=6)
    res = sweep.run(out=tmp_path / "sw", executor="process", workers=1)  # a pool of one: 2 runs in flight
    assert (tmp_path / "killed.mark").exists(), "the worker should have been killed"
    assert len(res.runs_ok) == 4 and not res.failed and len(res.summary) == 4 * 2
    serial = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1, seed=6).run(out=tmp_path / "serial",
                                                                              executor="serial")
    assert (tmp_path / "sw" / victim).read_bytes() == (tmp_path / "serial" / victim).read_bytes()
    pd.testing.assert_frame_equal(res.summary, serial.summary)


def test_a_run_that_kills_its_worker_twice_is_failed_and_the_rest_complete(tmp_path, monkeypatch):
    victim = "runs/p00000__cryo_anti_pd1__r0.parquet"
    kill_worker(monkeypatch, tmp_path, victim, "always")
    res = Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1).run(out=tmp_path / "sw", executor="process",
                                                                     workers=1)
    assert [r["file"] for r in res.failed] == [victim]
    assert res.failed[0]["error"].startswith("worker died twice: BrokenProcessPool")
    assert len(res.runs_ok) == 3 and len(res.summary) == 3 * 2
    assert not (tmp_path / "sw" / "runs.jsonl").exists() and store.read_manifest(tmp_path / "sw")["finished"]


def test_cli_run_survives_a_killed_worker(tmp_path, monkeypatch, capsys):
    kill_worker(monkeypatch, tmp_path, "runs/cryo__r0.parquet", "always")
    out = tmp_path / "out"
    assert main(["run", str(write_config(tmp_path / "e.toml")), "--out", str(out), "--executor", "process",
                 "--workers", "1", "--replicates", "1"]) == 1
    text = capsys.readouterr().out
    assert "1 runs ok, 1 failed" in text and "FAILED cryo r0: worker died twice" in text
    assert len(pd.read_parquet(out / "summary.parquet")) == 1 * 2


# ----------------------------------------------------------------------------------------------- CLI bad input


def refused(argv, tmp_path, capsys, monkeypatch, match: str, within_s: float = 60.0) -> None:
    """The command exits 2 with one line on stderr naming the problem, writing nothing."""
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < within_s
    err = capsys.readouterr().err
    assert err.startswith("abscopal: ") and err.count("\n") == 1, err
    assert match in err, err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("case, match", [
    ("folder", "is a folder, expected a TOML file"),
    ("missing", "does not exist"),
    ("latin1", "not UTF-8"),
    ("badtoml", "not valid TOML"),
])
@pytest.mark.parametrize("command", ["run", "validate", "sweep"])
def test_cli_refuses_an_unreadable_config(tmp_path, capsys, monkeypatch, case, match, command):
    config = tmp_path / "c.toml"
    if case == "folder":
        config.mkdir()
    elif case == "latin1":
        config.write_bytes('[experiment]\nname = "tumeur ablée"\n'.encode("latin-1"))
    elif case == "badtoml":
        config.write_text("[experiment\n")
    refused([command, str(config)], tmp_path, capsys, monkeypatch, match)


@pytest.mark.parametrize("args, match", [
    (["--seed", "-1"], "experiment.seed = -1: expected a value in [0, 9223372036854775807]"),
    (["--seed", str(2**70)], "experiment.seed = 1180591620717411303424: expected a value in [0, 9223372036854775807]"),
    (["--replicates", "0"], "experiment.replicates = 0: expected a value in [1, 100000]"),
    (["--workers", "-2"], "workers = -2: expected a whole number of worker processes, at least 1"),
    (["--workers", "0"], "workers = 0"),
    (["--out", "afile"], "is a file, expected a folder"),
    (["--out", "afile/sub"], "cannot write there"),
])
def test_cli_run_refuses_bad_options(tmp_path, capsys, monkeypatch, args, match):
    config = write_config(tmp_path / "e.toml")
    (tmp_path / "afile").write_text("x")
    refused(["run", str(config), *args], tmp_path, capsys, monkeypatch, match)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_cli_run_refuses_a_read_only_folder(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path / "e.toml")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    refused(["run", str(config), "--out", str(locked / "out")], tmp_path, capsys, monkeypatch, "cannot write there")


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_cli_says_within_seconds_that_a_scheduler_does_not_answer(tmp_path, capsys, monkeypatch, command):
    pytest.importorskip("dask.distributed")
    config = write_config(tmp_path / "e.toml", sweep=command == "sweep")
    refused([command, str(config), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1"], tmp_path,
            capsys, monkeypatch, "--scheduler tcp://127.0.0.1:1: no Dask scheduler answered", within_s=5.0)


def test_cli_sweep_refuses_bad_workers(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path / "s.toml", sweep=True)
    refused(["sweep", str(config), "--workers", "0"], tmp_path, capsys, monkeypatch, "workers = 0")


def test_cli_an_unexpected_error_is_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path / "e.toml")
    monkeypatch.setattr(runner, "run", lambda *a, **k: {}["bug"])
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(config)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError: 'bug'" in err
    with pytest.raises(KeyError):
        main(["--debug", "run", str(config)])


# ----------------------------------------------------------------------------------------------- plot


@pytest.mark.parametrize("case, match", [
    ("missing", "no such folder"),
    ("a file", "res: is a file, expected a results folder of abscopal run or sweep"),
    ("empty", "holds no manifest.json"),
    ("truncated", "manifest.json: unreadable"),
])
def test_cli_plot_refuses_a_folder_without_results(tmp_path, capsys, monkeypatch, case, match):
    folder = tmp_path / "res"
    if case == "a file":
        folder.write_text("x")
    elif case != "missing":
        folder.mkdir()
    if case == "truncated":
        (folder / "manifest.json").write_text('{"experiment": "e", "runs": [{"arm": "con')
    refused(["plot", str(folder)], tmp_path, capsys, monkeypatch, match)


def test_cli_plot_refuses_a_figure_folder_that_is_a_file_before_drawing(tmp_path, capsys, monkeypatch):
    abscopal.run(resolve(tiny()), replicates=1, out=tmp_path / "res", progress=False)  # stderr: the command's only
    (tmp_path / "afile").write_text("x")
    refused(["plot", "res", "--out", "afile"], tmp_path, capsys, monkeypatch,
            "abscopal: figure folder afile: is a file, expected a folder\n")


def test_cli_plot_draws_what_is_readable_and_names_what_is_not(tmp_path, capsys):
    out = tmp_path / "res"
    abscopal.run(resolve(tiny()), replicates=2, out=out, progress=False)
    truncated = out / "runs" / "control__r1.parquet"
    truncated.write_bytes(truncated.read_bytes()[:100])
    (out / "runs" / "cryo_anti_pd1__r1.parquet").unlink()
    assert main(["plot", str(out)]) == 1
    captured = capsys.readouterr()
    assert "tumour_burden.png" in captured.out and (out / "figures" / "tumour_burden.png").stat().st_size > 10_000
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all(line.startswith("abscopal: left out, unreadable: runs/") for line in lines)
    assert "control__r1.parquet" in lines[0] + lines[1] and "cryo_anti_pd1__r1.parquet" in lines[0] + lines[1]
    assert "runs/cryo_anti_pd1__r1.parquet: missing (manifest.json lists the run as finished)" in captured.err


def test_api_overrides_are_checked_against_the_schema():
    exp = resolve(tiny())
    with pytest.raises(ConfigError, match="experiment.replicates = 0"):
        abscopal.run(exp, replicates=0)
    with pytest.raises(ConfigError, match="workers = 0"):
        abscopal.run(exp, workers=0)


def test_plot_names_an_unreadable_snapshot_and_a_sweeps_unreadable_summary(tmp_path, capsys):
    out = tmp_path / "res"
    abscopal.run(resolve(tiny()), replicates=1, out=out, progress=False)
    snap = out / "snapshots" / "control__r0.npz"
    snap.write_bytes(snap.read_bytes()[:50])
    assert main(["plot", str(out)]) == 1
    captured = capsys.readouterr()
    assert "snapshots_cryo_anti_pd1__r0.png" in captured.out and "snapshots_control__r0" not in captured.out
    assert captured.err.startswith("abscopal: left out, unreadable: snapshots/control__r0.npz: ")
    assert captured.err.count("\n") == 1
    sweep = tmp_path / "sw"
    Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1).run(out=sweep, executor="serial", progress=False)
    (sweep / "summary.parquet").write_bytes(b"PAR1")
    assert main(["plot", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.parquet: unreadable" in err and "SweepResults.build" in err


def _room_for_one_worker(monkeypatch) -> float:
    """MemAvailable set to one worker's run plus the driver: the size of a run of ``tiny()``."""

    run_mb = memory.run_memory_mb(resolve(tiny()).arms["control"])
    monkeypatch.setattr(memory, "available_mb", lambda: memory.pool_memory_mb(run_mb, 1) + 1)
    return run_mb


def test_workers_that_together_need_more_memory_than_available_are_refused_before_anything_is_written(
        monkeypatch, tmp_path):
    run_mb = _room_for_one_worker(monkeypatch)
    exp = resolve(tiny())
    with pytest.raises(ConfigError, match=rf"^workers = 3: 3 workers x {run_mb:,.0f} MB a run \+ {memory.BASE_MB:,.0f} MB for the "
                                          rf"driver = [\d,]+ MB, the machine has [\d,]+ MB available; expected at "
                                          rf"most 1 worker$"):
        abscopal.run(exp, replicates=1, workers=3, out=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"^workers = 2: 2 workers x"):
        Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1).run(out=tmp_path / "sweep", executor="process", workers=2)
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    abscopal.run(exp, replicates=1, workers=1, out=tmp_path / "serial")  # one run, in this process: it fits
    assert (tmp_path / "serial" / "manifest.json").exists()


def test_too_little_memory_for_even_one_worker_says_to_run_serially(monkeypatch, tmp_path):

    run_mb = _room_for_one_worker(monkeypatch)
    monkeypatch.setattr(memory, "available_mb", lambda: run_mb + 1)  # one run, but not one beside the driver
    with pytest.raises(ConfigError, match=r"^workers = 1: 1 worker x .* expected executor 'serial'"):
        Sweep(tiny(), grid={KILL: [0.1, 0.3]}, replicates=1).run(out=tmp_path / "sweep", executor="process", workers=1)


def test_cli_refuses_workers_that_do_not_fit_in_one_line(monkeypatch, tmp_path, capsys):
    _room_for_one_worker(monkeypatch)
    config = write_config(tmp_path / "c.toml")
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--workers", "2"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("abscopal: config error: workers = 2: 2 workers x ")
    assert not (tmp_path / "out").exists()
