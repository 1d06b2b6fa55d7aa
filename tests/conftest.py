"""Shared fixtures: small, fast configs built from the defaults."""

import pytest

from abscopal.config import resolve


def small_config(**experiment) -> dict:
    """Two small lesions (2 mm) over a few days: fast enough for unit tests."""
    settings = {"name": "small", "start_day": -2, "end_day": 6, "readout_day": 6, "replicates": 2, "seed": 3,
                "time_step_h": 6}
    settings.update(experiment)
    return {
        "experiment": settings,
        "lesions": {
            "index": {"diameter_mm": 2.0, "domain_mm": 4.0},
            "distant": {"diameter_mm": 2.0, "domain_mm": 4.0},
        },
        "arms": {
            "control": {},
            "cryo_anti_pd1": {
                "ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 1.0},
                "drugs": {"anti_pd1": {"start_day": 0}},
            },
        },
    }


def failing(simulate, when, error: Exception = FloatingPointError("boom")):
    """``simulate`` (runner.simulate) that raises ``error`` in the runs where ``when(params, seed)`` holds."""

    def run(params, settings, seed, snapshots=False):
        if when(params, seed):
            raise error
        return simulate(params, settings, seed, snapshots)

    return run


@pytest.fixture
def small_experiment():
    return resolve(small_config())


#: Lines of the validation report (effect sizes and p-values), printed at the end of the test run.
VALIDATION_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if VALIDATION_REPORT:
        terminalreporter.section("validation: published behaviour, effect sizes over replicates")
        for line in VALIDATION_REPORT:
            terminalreporter.write_line(line)
