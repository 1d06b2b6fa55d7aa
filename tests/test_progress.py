"""The progress bar of runs and sweeps: runs done, failed and time left; lines in a log, redraws in a terminal."""

import importlib.util
import io

from conftest import failing, small_config

import abscopal
from abscopal import progress, runner
from abscopal.cli import main
from abscopal.config import resolve
from abscopal.sweep import Sweep


def tiny() -> dict:
    return small_config(start_day=-1, end_day=1, readout_day=1, replicates=2)


def test_a_run_writes_its_progress_as_plain_lines_to_a_log(tmp_path, capsys):
    abscopal.run(resolve(tiny()), out=tmp_path / "out")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err  # a log file shows lines, not a bar redrawn in place
    assert lines[0].startswith("small:") and "0/4" in lines[0]
    assert "4/4" in lines[-1] and "0 failed" in lines[-1]


def test_the_count_of_failed_runs_is_on_the_last_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "simulate", failing(runner.simulate, lambda params, seed: bool(params.get("drugs"))))
    abscopal.run(resolve(tiny()), out=tmp_path / "out")
    last = capsys.readouterr().err.splitlines()[-1]
    assert "4/4" in last and "2 failed" in last


def test_progress_false_and_quiet_print_nothing(tmp_path, capsys):
    abscopal.run(resolve(tiny()), out=tmp_path / "a", progress=False)
    Sweep(tiny(), grid={"immune.kill_probability": [0.1, 0.2]}, replicates=1).run(
        out=tmp_path / "s", executor="serial", progress=False)
    assert capsys.readouterr().err == ""
    config = tmp_path / "e.toml"
    config.write_text('[experiment]\nname = "e"\nstart_day = -1\nend_day = 1\nreadout_day = 1\nreplicates = 1\n'
                      '[lesions.index]\ndiameter_mm = 2.0\ndomain_mm = 4.0\n[arms.control]\n')
    assert main(["run", str(config), "--out", str(tmp_path / "q"), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["run", str(config), "--out", str(tmp_path / "loud"), "--workers", "1"]) == 0
    assert "1/1" in capsys.readouterr().err


def test_a_sweep_shows_progress(tmp_path, capsys):
    Sweep(tiny(), grid={"immune.kill_probability": [0.1, 0.2]}, replicates=1).run(out=tmp_path / "s",
                                                                                   executor="serial")
    assert "4/4" in capsys.readouterr().err.splitlines()[-1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_the_bar_is_redrawn_in_place():
    term = Terminal()
    bar = progress.bar(3, "x", file=term)
    for failed in (0, 1, 1):
        progress.update(bar, failed)
    bar.close()
    text = term.getvalue()
    assert text.count("\r") >= 2 and "3/3" in text and "1 failed" in text


def test_in_jupyter_the_bar_is_a_widget_or_else_text(monkeypatch):
    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    out = io.StringIO()
    bar = progress.bar(2, "x", file=out)
    progress.update(bar, 0)
    bar.close()
    if importlib.util.find_spec("ipywidgets") is None:
        assert "1/2" in out.getvalue()  # tqdm's text, which Jupyter redraws in place
    else:
        assert type(bar).__module__ == "tqdm.notebook"
