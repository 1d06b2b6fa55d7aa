"""Every bad input of the audit (experiments/bad_inputs.py, issue 8) is refused as the README promises: the
documented exit code (2; 1 for a plot that draws what it can), one line ``abscopal: ...`` on stderr naming the
problem, no traceback, nothing written. The cases run through the CLI in one fresh process (the script), which
forks a child per case; those that need a finished run or sweep are marked slow."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import bad_inputs  # noqa: E402

CASES = bad_inputs.cases()


def outcomes(kind: str) -> dict[str, dict]:
    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "bad_inputs.py"), "--cases", kind, "--json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return {row["id"]: row for row in map(json.loads, out.stdout.splitlines())}


@pytest.fixture(scope="module")
def fast():
    return outcomes("fast")


@pytest.fixture(scope="module")
def slow():
    return outcomes("slow")


def test_the_audit_tries_at_least_the_issues_111_inputs():
    assert len(CASES) >= 111


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.fixture else [])
                                  for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(case, request):
    row = request.getfixturevalue("slow" if case.fixture else "fast")[case.id]
    lines = row["stderr"].splitlines()
    assert row["exit"] == case.exit, row
    assert "Traceback" not in row["stderr"], row["stderr"]
    assert lines and all(line.startswith("abscopal: ") for line in lines), row["stderr"]
    if case.exit == 2:
        assert len(lines) == 1, row["stderr"]
    assert case.match in row["stderr"], row["stderr"]
    assert not any(line.rstrip().endswith(" -") for line in lines), row["stderr"]  # no unit "-" left dangling
    assert row["written"] == [], row["written"]
