"""Effector T cells in a lesion: engagements and kills as processes in time, whatever the step."""

import numpy as np
import pytest

from abscopal.config import resolve
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from conftest import small_config


def kills_in_a_day_of_steady_influx(step_h: float, seed: int, per_day: float = 1500.0) -> int:
    """Kills in one day by effectors entering a 3 mm lesion at ``per_day``, through the model's own step (issue 8).

    The tumour neither grows nor dies by itself, and each engagement of a live cell kills it (no PD-1
    inhibition, no kill budget, no exhaustion), so the kills count the engagements that found a live cell."""
    cfg = small_config(start_day=0, end_day=1, readout_day=1, time_step_h=step_h)
    cfg["lesions"] = {"distant": {"diameter_mm": 3.0, "domain_mm": 4.0}}
    cfg["arms"] = {"control": {}}
    cfg["tumour"] = {"growth_rate_per_day": 0.0, "spontaneous_death_per_day": 0.0, "antigenicity_cv": 0.0,
                     "pd_l1_baseline": 0.0}
    cfg["immune"] = {"kill_probability": 1.0, "kill_budget": 1000, "exhaustion_per_inhibited_engagement": 0.0}
    exp = resolve(cfg)
    model = AbscopalModel(exp.arms["control"], exp.settings, replicate_seed(seed, 0))
    model.influx_per_day = lambda lesion, blood: per_day
    model.lymph_node.x[4 + model.lymph_node.n] = 1e9  # blood effectors: never the limit
    model.advance_to(1.0)
    return int(model.lesions["distant"].t_cells.kills.sum())


def test_kills_per_day_of_a_steady_influx_do_not_depend_on_the_step():
    """Effectors entering during a step engage from their entry on: at 6 h steps each used to engage as if it had
    been there the whole step (20 % more kills in a day than at 1 h)."""
    coarse = np.mean([kills_in_a_day_of_steady_influx(6, s) for s in range(6)])
    fine = np.mean([kills_in_a_day_of_steady_influx(1, s) for s in range(6)])
    # an effector entering at t (days) engages 4 (1 - t) times by the day's end: 2 on average
    assert coarse == pytest.approx(fine, rel=0.05), (coarse, fine)
