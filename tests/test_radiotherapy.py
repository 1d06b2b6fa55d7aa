"""Radiotherapy as biology: lethally damaged cells live on until a mitosis or delayed apoptosis kills them,
hypoxic cells resist, and the immunogenic yield per death has a TREX1 ceiling at high single doses."""

import math

import numpy as np
import pytest

from abscopal.config import resolve
from abscopal.lesion.tissue import LIVE
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from conftest import small_config


def irradiated(dose_gy=8.0, fractions=1, **sections):
    """A model whose index lesion (2 mm) gets ``fractions`` x ``dose_gy`` on day 0; ``sections`` override the arm's
    parameters (no T-cell killing, no spontaneous death unless given)."""
    cfg = small_config(start_day=-1, end_day=6, readout_day=6)
    arm = {"ablation": {"modality": "radiotherapy", "lesion": "index", "day": 0, "margin_mm": 1.0,
                        "dose_per_fraction_gy": dose_gy, "fractions": fractions},
           "immune": {"kill_probability": 0.0}, "tumour": {"spontaneous_death_per_day": 0.0}}
    for section, values in sections.items():
        arm.setdefault(section, {}).update(values)
    cfg["arms"] = {"rt": arm}
    exp = resolve(cfg)
    return AbscopalModel(exp.arms["rt"], exp.settings, replicate_seed(3, 0))


def damaged_and_live(model):
    tissue = model.lesions["index"].tissue
    live = tissue.state == LIVE
    return int((tissue.lethal_damage[live] > 0).sum()), int(live.sum())


def test_without_division_lethally_damaged_cells_live_until_delayed_apoptosis():
    model = irradiated(tumour={"growth_rate_per_day": 0.0}, radiation_damage={"delayed_apoptosis_per_day": 0.0})
    model.run(1)
    damaged, live = damaged_and_live(model)
    assert damaged > 0.5 * live  # most cells are doomed, yet alive and counted
    model.run(6)
    assert damaged_and_live(model) == (damaged, live)  # they cannot divide, so they do not die

    model = irradiated(tumour={"growth_rate_per_day": 0.0}, radiation_damage={"delayed_apoptosis_per_day": 0.3})
    model.run(1)
    first, _ = damaged_and_live(model)
    model.run(6)
    expected = first * math.exp(-0.3 * 5)
    assert damaged_and_live(model)[0] == pytest.approx(expected, abs=4 * math.sqrt(expected))


def test_lethally_damaged_cells_die_when_they_attempt_mitosis():
    """Without delayed apoptosis, damaged cells die only by dividing (the quiescent core's stay): with abortive
    divisions their damaged daughters first add to the doomed cells, without them the doomed only decline."""
    counts = {}
    for abortive in (0, 2):
        model = irradiated(tumour={"growth_rate_per_day": 1.0},
                           radiation_damage={"delayed_apoptosis_per_day": 0.0, "abortive_divisions": abortive})
        series = []
        for day in range(1, 7):
            model.run(day)
            series.append(damaged_and_live(model)[0])
        counts[abortive] = series
    assert all(b <= a for a, b in zip(counts[0], counts[0][1:])) and counts[0][-1] < 0.9 * counts[0][0]
    # the same cells were damaged (same draws): two abortive divisions first add doomed daughters, who die later
    assert counts[2][0] > 1.2 * counts[0][0]
    assert counts[2][-1] < 0.9 * counts[2][0]


def test_hypoxic_cells_deep_in_the_lesion_survive_more():
    model = irradiated(tumour={"growth_rate_per_day": 0.0}, radiation_damage={"delayed_apoptosis_per_day": 0.0})
    tissue = model.lesions["index"].tissue
    rows, cols = np.nonzero(tissue.state == LIVE)
    depth = tissue.depth_um(rows, cols)
    model.run(1)
    doomed = (tissue.lethal_damage[rows, cols] > 0) | (tissue.state[rows, cols] != LIVE)  # or dead already
    edge, core = depth < 40, depth > 300
    assert doomed[edge].mean() > 0.95  # 8 Gy in well-oxygenated cells: 98 % lethal
    assert doomed[core].mean() == pytest.approx(1 - math.exp(-(0.3 * 8 / 3 + 0.03 * (8 / 3) ** 2)), abs=0.03)


def test_a_single_20_gy_fraction_yields_less_immunogenic_signal_per_death_than_8_gy():
    """TREX1 (Vanpouille-Box 2017): the DAMP yield each doomed cell will release is lower after 20 Gy than 8 Gy."""
    yields = {}
    for dose in (8.0, 20.0):
        model = irradiated(dose, tumour={"growth_rate_per_day": 0.0})
        model.run(1)
        tissue = model.lesions["index"].tissue
        yields[dose] = float(tissue.damage_damp_yield[tissue.lethal_damage > 0].mean())
    assert yields[20.0] < 0.7 * yields[8.0]


@pytest.fixture(scope="module")
def radiotherapy_experiment(tmp_path_factory):
    """experiments/radiotherapy.toml (3 x 8 Gy, 1 x 20 Gy) on the validation individuals."""
    from test_validation import run

    return run(tmp_path_factory, "radiotherapy", arms=("rt_3x8", "rt_1x20"))


@pytest.mark.slow
def test_3x8_gy_shrinks_a_7_mm_lesion_over_weeks_and_it_regrows_without_a_drug(radiotherapy_experiment):
    """The irradiated lesion is not sterilised within 3 days (doomed cells die at mitosis or by delayed apoptosis),
    reaches its smallest between one and five weeks, and regrows in a share of the individuals (CT26 is not cured
    by 3 x 8 Gy)."""
    from test_validation import VALIDATION_REPORT

    ts = radiotherapy_experiment.timeseries
    index = ts[(ts["lesion"] == "index") & (ts["arm"] == "rt_3x8")]
    cells = index.pivot_table(index="time_day", columns="replicate", values="tumor_cells")
    day0, smallest, day_of_smallest = cells.loc[0], cells.loc[1:].min(), cells.loc[1:].idxmin()
    regrown = cells.loc[42] > 1.2 * smallest
    VALIDATION_REPORT.append(
        f"radiotherapy 3 x 8 Gy, index lesion live cells: day 3 {100 * (cells.loc[3] / day0).median():.0f} %, "
        f"smallest {100 * (smallest / day0).median():.0f} % of day 0 on day {day_of_smallest.median():.0f} "
        f"(median; days {day_of_smallest.min():.0f}-{day_of_smallest.max():.0f}), regrown by day 42 in "
        f"{int(regrown.sum())}/{regrown.size} individuals")
    assert (cells.loc[3] > 0.6 * day0).all(), VALIDATION_REPORT[-1]
    assert (smallest < 0.4 * day0).all() and day_of_smallest.between(7, 35).all(), VALIDATION_REPORT[-1]
    assert regrown.mean() >= 0.25, VALIDATION_REPORT[-1]


@pytest.mark.slow
def test_one_20_gy_fraction_primes_fewer_t_cells_than_3x8_gy(radiotherapy_experiment):
    """TREX1 (Vanpouille-Box 2017): 20 Gy kills about as many cells as 3 x 8 Gy, but each death yields less
    cytosolic-DNA signal, so fewer CD8 cells are primed."""
    from test_validation import lower, per_arm

    primed = per_arm(radiotherapy_experiment.summary, "primed_cd8_total")
    lower(primed, "rt_1x20", "rt_3x8", "radiotherapy, CD8 cells primed by day 42, 1 x 20 Gy vs 3 x 8 Gy", 10)
