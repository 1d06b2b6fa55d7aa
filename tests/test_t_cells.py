"""Effector T cells in a lesion: engagements and kills as processes in time, whatever the step."""

import numpy as np
import pytest

from abscopal.config import resolve
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from conftest import small_config


def steady_influx(step_h: float, seed: int, days: float = 1.0, per_day: float = 1500.0) -> tuple[int, float]:
    """Effectors entering a 3 mm lesion at ``per_day`` for ``days``, through the model's own step (issue 8): their
    kills, and the site-days the cleared victims' sites were free for the tumour's growth (a step's growth
    takes the sites free at its start).

    The tumour neither grows nor dies by itself, and each engagement of a live cell kills it (no PD-1
    inhibition, no kill budget, no exhaustion), so the kills count the engagements that found a live cell."""
    cfg = small_config(start_day=0, end_day=days, readout_day=days, time_step_h=step_h)
    cfg["lesions"] = {"distant": {"diameter_mm": 3.0, "domain_mm": 4.0}}
    cfg["arms"] = {"control": {}}
    cfg["tumour"] = {"growth_rate_per_day": 0.0, "spontaneous_death_per_day": 0.0, "antigenicity_cv": 0.0,
                     "pd_l1_baseline": 0.0}
    cfg["immune"] = {"kill_probability": 1.0, "kill_budget": 1000, "exhaustion_per_inhibited_engagement": 0.0}
    exp = resolve(cfg)
    model = AbscopalModel(exp.arms["control"], exp.settings, replicate_seed(seed, 0))
    model.influx_per_day = lambda lesion, blood: per_day
    model.lymph_node.x[model.lymph_node.at.blood] = 1e9  # blood effectors: never the limit
    lesion = model.lesions["distant"]
    dt, freed_days = step_h / 24.0, 0.0
    for k in range(1, round(days / dt) + 1):
        freed_days += (int(lesion.t_cells.kills.sum()) - lesion.counts()["apoptotic_cells"]) * dt
        model.advance_to(k * dt)
    return int(lesion.t_cells.kills.sum()), freed_days


def test_kills_per_day_of_a_steady_influx_and_their_clearance_do_not_depend_on_the_step():
    """Effectors entering during a step engage from their entry on: at 6 h steps each used to engage as if it had
    been there the whole step (20 % more kills in a day than at 1 h). The cells they kill are cleared as those
    dying otherwise, from the step they die in (the clearance came before the T cells' step: at 6 h their sites
    were freed a step late: a third fewer free site-days than at 1 h)."""
    coarse, fine = (np.mean([steady_influx(step_h, s, days=2.0) for s in range(6)], axis=0) for step_h in (6, 1))
    # an effector entering at t (days) engages 4 (1 - t) times by the day's end: 2 on average
    assert coarse[0] == pytest.approx(fine[0], rel=0.05), (coarse, fine)
    assert coarse[1] == pytest.approx(fine[1], rel=0.05), (coarse, fine)
