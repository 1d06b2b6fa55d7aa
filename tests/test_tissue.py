"""Every lesion size from 0 cells up runs, and the tissue's bookkeeping does not depend on growth (issue 8)."""

import numpy as np
import pytest

from abscopal.config import resolve
from abscopal.lesion import Lesion
from abscopal.lesion.geometry import EMPTY
from abscopal.lesion.tissue import LIVE, NECROTIC
from abscopal.model import AbscopalModel
from abscopal.streams import Streams, replicate_seed
from conftest import small_config
from test_model import lesion_series, run_arm


def small_lesions_config(index_mm: float, end_day: float, **tumour) -> dict:
    """An index lesion of ``index_mm`` in a 2 mm domain and a 1 mm distant lesion (fast)."""
    cfg = small_config(end_day=end_day, readout_day=end_day)
    cfg["lesions"] = {"index": {"diameter_mm": index_mm, "domain_mm": 2.0},
                      "distant": {"diameter_mm": 1.0, "domain_mm": 2.0}}
    cfg["arms"]["cryo_anti_pd1"]["ablation"]["margin_mm"] = 0.5
    if tumour:
        cfg["tumour"] = tumour
    return cfg


@pytest.mark.parametrize("arm", ["control", "cryo_anti_pd1"])
def test_a_lesion_of_the_schemas_minimum_size_runs(arm):
    """A 0.1 mm lesion (about 20 cells) crashed on day 1: its tissue window has fewer rows than the rim is deep."""
    ts, _ = run_arm(small_lesions_config(0.1, end_day=20), arm)
    index = lesion_series(ts, "index")
    assert index.index.max() == 20 and index.loc[-2] > 0


def test_an_ablated_lesion_followed_until_its_debris_is_gone_runs():
    """The default experiment failed on day 108, its ablated lesion down to 2 necrotic cells: here a 1 mm
    lesion, completely ablated, followed until its last necrotic cells are cleared (3 times as fast as by default)."""
    cfg = small_lesions_config(1.0, end_day=40)
    cfg["release"] = {"dead_cell_clearance_per_day": 0.3}
    ts, _ = run_arm(cfg, "cryo_anti_pd1")
    tissue = lesion_series(ts, "index", "necrotic_cells") + lesion_series(ts, "index", "apoptotic_cells")
    assert lesion_series(ts, "index").loc[1:].eq(0).all()
    assert tissue.index.max() == 40 and tissue.loc[1] > 500
    assert tissue.isin([1, 2]).any() and tissue.loc[40] == 0


def one_lesion(cells: list[tuple[int, int, int]], growth_rate_per_day: float = 0.4) -> Lesion:
    """The index lesion of the small config with only ``cells`` (row, column, state) on its lattice."""
    cfg = small_config()
    cfg["tumour"] = {"growth_rate_per_day": growth_rate_per_day}
    params = resolve(cfg).arms["control"]
    lesion = Lesion("index", params["lesions"]["index"], params, Streams(replicate_seed(3, 0)), 0.0)
    lesion.state[:] = EMPTY
    for r, c, state in cells:
        lesion.state[r, c] = state
    lesion.tissue._find_box()
    return lesion


@pytest.mark.parametrize("cells", [[], [(100, 100, NECROTIC)], [(100, 100, NECROTIC), (100, 101, NECROTIC)],
                                   [(0, 0, LIVE), (199, 199, LIVE)]])
def test_a_lesion_of_0_to_2_cells_lives_on(cells):
    lesion = one_lesion(cells)
    for k in range(40 * 4):  # 40 days of 6 h steps
        lesion.grow(k / 4, 0.25)
        lesion.spontaneous_death(0.25, lesion.tissue.live_sites())
        lesion.tissue.clear_dead(0.25, lesion.rng["clearance"])
        lesion.counts()


def test_without_growth_the_rim_is_measured_and_t_cells_enter_at_the_edge():
    """growth_rate_per_day = 0 used to skip the daily measurement: every tissue site counted as the edge."""
    cfg = small_config(end_day=2, readout_day=2)
    cfg["tumour"] = {"growth_rate_per_day": 0.0}
    params = resolve(cfg).arms["control"]
    model = AbscopalModel(params, resolve(cfg).settings, replicate_seed(3, 0))
    model.run(-1)
    lesion = model.lesions["distant"]
    rs, cs = lesion.window(pad=0)
    tissue = lesion.state[rs, cs] != EMPTY
    edge = lesion.outer_edge(rs, cs)
    assert 0 < edge.sum() < 0.1 * tissue.sum()  # a ring of a 2 mm disc (100 sites across)
    assert not edge[tissue.shape[0] // 2, tissue.shape[1] // 2]


def test_an_ablated_lesion_that_does_not_grow_involutes():
    """Without growth the holes left by cleared cells still close: the ablated lesion's diameter shrinks."""
    ts, _ = run_arm(small_lesions_config(1.0, end_day=12, growth_rate_per_day=0.0), "cryo_anti_pd1")
    diameter = lesion_series(ts, "index", "longest_diameter_mm")
    assert diameter.loc[-2] == diameter.loc[0]  # no growth before the ablation
    assert diameter.loc[12] < 0.8 * diameter.loc[1]
    assert np.isfinite(diameter).all()
