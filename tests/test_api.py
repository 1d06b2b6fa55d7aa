"""The Python route a script or notebook takes: exports, validated parameter changes, reopening results."""

import hashlib
import subprocess
import sys

import pytest

import abscopal
from abscopal.config import ConfigError, resolve
from conftest import small_config


def test_with_params_validates_like_set_and_records_the_overrides():
    exp = resolve(small_config())
    new = exp.with_params({"immune.kill_probability": 0.2, "arms.cryo_anti_pd1.ablation.margin_mm": 0.5})
    assert all(arm["immune"]["kill_probability"] == 0.2 for arm in new.arms.values())
    assert new.arms["cryo_anti_pd1"]["ablation"]["margin_mm"] == 0.5
    assert new.source["immune"]["kill_probability"] == 0.2  # what the manifest records
    assert exp.arms["control"]["immune"]["kill_probability"] == 0.3  # the original is unchanged
    assert "immune" not in exp.source
    with pytest.raises(ConfigError, match=r"immune.kill_probability.*7\.0") as e:
        exp.with_params({"immune.kill_probability": 7.0})
    assert "\n" not in str(e.value)


def test_with_params_overrides_reach_the_manifest(tmp_path):
    exp = resolve(small_config(end_day=1, readout_day=1, replicates=1)).with_params({"immune.kill_probability": 0.25})
    res = abscopal.run(exp, out=tmp_path / "r")
    assert res.manifest["config"]["immune"]["kill_probability"] == 0.25
    assert res.manifest["arms"]["control"]["immune"]["kill_probability"] == 0.25


def test_repr_of_an_experiment_is_a_short_summary():
    text = repr(resolve(small_config()))
    assert len(text) < 300, text
    for part in ("small", "2 arms", "control", "cryo_anti_pd1", "days -2 to 6", "2 replicates", "seed 3",
                 "index 2 mm", "distant 2 mm"):
        assert part in text, (part, text)


def _fingerprint(folder):
    """Every file's (mtime_ns, sha256) under a folder."""
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_results_open_reads_a_run_folder_and_writes_nothing(tmp_path):
    out = tmp_path / "r"
    ran = abscopal.run(resolve(small_config(start_day=-1, end_day=1, readout_day=1, replicates=1)), out=out)
    before = _fingerprint(out)
    res = abscopal.Results.open(out)
    assert type(res) is abscopal.Results
    assert res.summary.equals(ran.summary)
    assert len(res.timeseries) and len(res.events) and len(res.outcome_table())
    assert _fingerprint(out) == before


def test_results_open_reads_a_sweep_folder_and_writes_nothing(tmp_path):
    out = tmp_path / "s"
    config = small_config(start_day=-1, end_day=1, readout_day=1)
    ran = abscopal.Sweep(config, grid={"immune.kill_probability": [0.1, 0.3]}, replicates=1, seed=6).run(
        out=out, executor="serial")
    before = _fingerprint(out)
    res = abscopal.Results.open(out)
    assert type(res) is abscopal.SweepResults
    assert res.summary.equals(ran.summary) and len(res.points) == 2 and len(res.timeseries(0))
    assert _fingerprint(out) == before


def test_results_open_of_a_folder_without_results_is_one_line(tmp_path):
    with pytest.raises(abscopal.FolderError, match="not a results folder"):
        abscopal.Results.open(tmp_path)


def test_the_package_exports_what_the_readme_uses_without_importing_matplotlib():
    code = ("import sys, abscopal\n"
            "assert 'matplotlib' not in sys.modules, 'import abscopal imported matplotlib'\n"
            "for name in ('load_experiment', 'resolve', 'run', 'Results', 'Sweep', 'SweepResults', 'sensitivity',\n"
            "             'readouts', 'ConfigError', 'FolderError'):\n"
            "    getattr(abscopal, name)\n"
            "abscopal.readouts.lesion_roles, abscopal.readouts.summarise_run\n"
            "assert callable(abscopal.plots.plot_results) and 'matplotlib' in sys.modules\n"
            "print(abscopal.__version__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == abscopal.__version__


SCRIPT_CONFIG = ('{"experiment": {"name": "s", "start_day": -1, "end_day": 1, "readout_day": 1, "replicates": 2, '
                 '"seed": 3}, "lesions": {"index": {"diameter_mm": 2.0, "domain_mm": 4.0}}, "arms": {"control": {}}}')
SCRIPTS = {
    "run, no main guard": f"""
import abscopal
print("top level", flush=True)
res = abscopal.run(abscopal.resolve({SCRIPT_CONFIG}), workers=2)
print(len(res.runs_ok), "ok", len(res.failed), "failed")
""",
    "sweep, main guard": f"""
import abscopal
print("top level", flush=True)
if __name__ == "__main__":
    sweep = abscopal.Sweep({SCRIPT_CONFIG}, grid={{"immune.kill_probability": [0.1, 0.3]}}, replicates=1, seed=1)
    res = sweep.run(executor="process", workers=2)
    print(len(res.runs_ok), "ok", len(res.failed), "failed")
""",
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_script_runs_on_a_process_pool_without_its_workers_rerunning_it(tmp_path, name):
    script = tmp_path / "script.py"
    script.write_text(SCRIPTS[name])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top level", "2 ok 0 failed"], done.stdout + done.stderr


def test_running_and_plotting_leave_matplotlib_global_state_alone(tmp_path):
    code = f"""
import matplotlib as mpl
mpl.use("svg")
mpl.rcParams["font.size"] = 13
mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=["k", "r"])
before = dict(mpl.rcParams)
import abscopal
res = abscopal.run(abscopal.resolve({SCRIPT_CONFIG}), out=r"{tmp_path / 'r'}")
from abscopal import plots
assert plots.plot_results(res.path), "no figure"
fig = plots.burden_figure(res)
assert fig.axes[0].title.get_fontsize() == 8, "the paper style was not applied while drawing"
assert mpl.get_backend() == "svg", mpl.get_backend()
changed = {{k for k, v in mpl.rcParams.items() if before[k] != v}}
assert not changed, changed
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_outcome_table_lists_arms_in_the_configs_order():
    import pandas as pd

    rows = [{"arm": arm, "lesion": "distant", "burden_change_pct": change, "effector_t_cells_peak": 1.0}
            for arm, change in (("anti_pd1", 70.0), ("control", 75.0), ("cryo", 60.0), ("anti_pd1", 72.0))]
    res = abscopal.Results(None, {"arms": {"control": {}, "cryo": {}, "anti_pd1": {}}, "runs": []},
                           {"summary": pd.DataFrame(rows)})
    table = res.outcome_table()
    assert list(table.index.get_level_values("arm")) == ["control", "cryo", "anti_pd1"]
    assert table.loc[("anti_pd1", "distant"), "runs"] == 2 and table.loc[("anti_pd1", "distant"), "median_change_pct"] == 71.0
