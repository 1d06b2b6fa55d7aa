"""Response criteria of the readouts: volume (Gao 2015 mRECIST, the preclinical default), RECIST 1.1, iRECIST."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abscopal import config
from abscopal import readouts as R

changes = st.floats(min_value=-100.0, max_value=1000.0, allow_nan=False)


@given(changes)
def test_volume_categories_follow_gao_thresholds(change):
    (got,) = R.volume_response([change])
    expected = "CR" if change < -95 else "PR" if change < -50 else "SD" if change < 35 else "PD"
    assert got == expected


@given(st.sampled_from([-95.0, -50.0, 35.0]), st.floats(min_value=1e-9, max_value=1.0))
def test_volume_boundaries_are_strict(bound, eps):
    """Gao's classes are "below" the thresholds: the threshold itself falls in the worse class."""
    below, at = R.volume_response([bound - eps, bound])
    order = ["CR", "PR", "SD", "PD"]
    assert order.index(at) == order.index(below) + 1


@given(st.lists(changes, min_size=2, max_size=12).map(sorted))
def test_volume_categories_never_improve_as_the_volume_grows(ordered):
    rank = {"CR": 0, "PR": 1, "SD": 2, "PD": 3}
    got = [rank[c] for c in R.volume_response(ordered)]
    assert got == sorted(got)


def disc_rows(diameters: dict, arm="A", lesion="distant", cell_mm=0.02, squash=1.0):
    """Records of an elliptic lesion: longest diameter L (mm) per day, width squash x L, tissue cells = its area."""
    out = []
    for day, length in diameters.items():
        cells = math.pi * length * squash * length / 4 / cell_mm**2
        out.append({"arm": arm, "replicate": 0, "time_day": float(day), "lesion": lesion, "tumor_cells": cells,
                    "necrotic_cells": 0.0, "apoptotic_cells": 0.0, "viable_area_mm2": cells * cell_mm**2,
                    "longest_diameter_mm": float(length), "effector_t_cells": 0.0, "exhausted_t_cells": 0.0,
                    "tregs": 0.0, "pd_l1_mean": 1.0})
    return out


@given(st.floats(min_value=0.5, max_value=30.0), st.floats(min_value=0.2, max_value=1.0))
def test_caliper_volume_of_an_elliptic_lesion(length, squash):
    """V = L W² / 2 with W the width of the ellipse of the lesion's length and area."""
    ts = pd.DataFrame(disc_rows({0: length}, squash=squash))
    (volume,) = R.tumour_volume_mm3(ts)
    assert volume == pytest.approx(length * (squash * length) ** 2 / 2, rel=1e-9)


def test_caliper_volume_counts_dead_tissue_and_is_zero_when_cleared():
    ts = pd.DataFrame(disc_rows({0: 7.0, 1: 7.0, 2: 0.0}))
    ts.loc[1, ["necrotic_cells", "tumor_cells", "viable_area_mm2"]] = [ts.loc[1, "tumor_cells"], 0.0, 0.0]
    volumes = R.tumour_volume_mm3(ts)
    assert volumes[1] == pytest.approx(volumes[0]) and volumes[2] == 0.0  # a necrotic lesion is still there


def growing_ts():
    """A 7 mm mouse lesion growing +45 % in diameter by day 30 (volume x 3), next to an ablated one."""
    return pd.DataFrame(disc_rows({0: 7.0, 10: 8.0, 20: 9.0, 30: 10.15})
                        + disc_rows({0: 7.0, 10: 0.0, 20: 0.0, 30: 0.0}, lesion="index"))


def test_pfs_by_volume_sees_the_progression_that_recist_misses():
    """Issue 10: RECIST's +5 mm kept a growing 7 mm lesion at 100 % PFS; by volume it doubles by day 20."""
    days = [10, 20, 30]
    recist = R.time_to_event(growing_ts(), days, treated_lesion="index", criteria="recist")
    volume = R.time_to_event(growing_ts(), days, treated_lesion="index", criteria="volume")
    assert not recist.loc[recist["endpoint"] == "pfs", "event"].any()
    pfs = volume[volume["endpoint"] == "pfs"].iloc[0]
    assert pfs["event"] and pfs["time_day"] == 20.0  # (9 / 7)³ = 2.1 x the baseline volume
    later = R.time_to_event(growing_ts(), days, treated_lesion="index",
                            criteria=R.Criteria(progression_volume_fold=2.5))
    assert later.loc[later["endpoint"] == "pfs", "time_day"].iloc[0] == 30.0


def reference_best(changes_by_day: dict, from_day: float) -> tuple[float, float, str]:
    """Gao 2015 as written: best response and best average response over t >= from_day, then the classes."""
    days = sorted(changes_by_day)
    average = {d: np.mean([0.0] + [changes_by_day[s] for s in days if s <= d]) for d in days}
    window = [d for d in days if d >= from_day] or days
    best, best_average = min(changes_by_day[d] for d in window), min(average[d] for d in window)
    for name, b, a in R.VOLUME_CLASSES:
        if best < b and best_average < a:
            return best, best_average, name
    return best, best_average, "PD"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=4, max_size=4))
def test_best_response_by_volume_is_gaos(factors):
    """Diameters (W = L) scaled by cube roots of volume factors on days 3, 6, 9, 12: Gao's best response."""
    days = [3, 6, 9, 12]
    diameters = {0: 8.0, **{d: 8.0 * f ** (1 / 3) for d, f in zip(days, factors)}}
    ts = pd.DataFrame(disc_rows(diameters))
    best = R.best_response(ts, treated_lesion=None, criteria=R.Criteria(best_response_from_day=6.0)).iloc[0]
    expected = reference_best({d: 100.0 * (f - 1.0) for d, f in zip(days, factors)}, 6.0)
    assert best["best_change_pct"] == pytest.approx(expected[0], abs=1e-6)
    assert best["best_average_change_pct"] == pytest.approx(expected[1], abs=1e-6)
    assert best["best_response"] == expected[2]


def test_best_response_is_not_the_first_assessment_of_a_growing_lesion():
    """Issue 10: the waterfall's best change was the day-3 one of a lesion growing all along."""
    ts = pd.DataFrame(disc_rows({0: 7.0, 3: 7.1, 6: 7.5, 9: 8.0, 12: 8.6, 15: 9.3}))
    best = R.best_response(ts, treated_lesion=None).iloc[0]
    assert best["best_change_day"] == 12.0 and best["best_response"] == "PD"
    early = R.best_response(ts, treated_lesion=None, criteria=R.Criteria(best_response_from_day=0)).iloc[0]
    assert early["best_change_day"] == 3.0


def test_summary_uses_the_configured_criteria():
    systemic = pd.DataFrame({"time_day": [0.0, 10, 20, 30], "lesion": "systemic", "primed_cd8_total": 1.0})
    ts = pd.concat([growing_ts().drop(columns="arm"), systemic], ignore_index=True)
    events = [{"kind": "ablation", "day": 0.0, "target": "index", "modality": "cryo"}]
    by_volume = R.summarise_run(ts, 30, events=events).set_index("lesion")
    by_recist = R.summarise_run(ts, 30, events=events, criteria={"criteria": "recist"}).set_index("lesion")
    assert by_volume.loc["distant", ["criteria", "response", "best_response"]].tolist() == ["volume", "PD", "PD"]
    assert by_recist.loc["distant", ["criteria", "response"]].tolist() == ["recist", "SD"]
    assert by_volume.loc["distant", "volume_change_pct"] == pytest.approx(100 * ((10.15 / 7) ** 3 - 1))


def test_readout_table_in_the_config():
    exp = config.resolve({"readout": {"criteria": "recist", "progression_volume_fold": 3}, "arms": {"a": {}}})
    assert exp.arms["a"]["readout"]["criteria"] == "recist"
    assert R.Criteria.of(exp.arms["a"]["readout"]).progression_volume_fold == 3.0
    assert config.resolve({"arms": {"a": {}}}).arms["a"]["readout"]["criteria"] == "volume"
    with pytest.raises(config.ConfigError, match=r"readout.criteria = 'mrecist': expected one of"):
        config.resolve({"readout": {"criteria": "mrecist"}})
    with pytest.raises(config.ConfigError, match=r"readout.progression_volume_fold = 1: expected a value in"):
        config.resolve({"readout": {"progression_volume_fold": 1}})
    with pytest.raises(config.ConfigError, match=r"arms.a.readout: the response criteria are shared by all arms"):
        config.resolve({"arms": {"a": {"readout": {"criteria": "recist"}}}})
    with pytest.raises(ValueError, match=r"criteria = 'who'"):
        R.Criteria.of("who")
