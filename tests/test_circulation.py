"""The conserved circulation (trafficking.circulation = "conserved", abscopal/immune/circulation.py): every effector is
somewhere or dead, a section's T cell stands for its lesion's scale of cells, lesions short of blood share it, and a
negative count raises."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abscopal.config import ConfigError, defaults, resolve
from abscopal.immune.circulation import Circulation, check_counts, section_scale, share_of_want
from abscopal.immune.lymph_node import LymphNode, NodeSignals
from abscopal.immune.t_cells import EffectorTCells
from abscopal.model import AbscopalModel
from abscopal.runner import simulate
from abscopal.streams import replicate_seed
from conftest import small_config

TRAFFICKING = {"rest_of_body_entry_per_day": 0.3, "rest_of_body_return_per_day": 0.05, "lesion_egress_per_day": 0.05}


def conserved_run(arm: str, end_day: int = 10):
    cfg = small_config(end_day=end_day, readout_day=end_day)
    cfg["trafficking"] = {"circulation": "conserved"}
    cfg["immune"] = {"preexisting_effectors_per_mm2": 20.0}
    # surgery and a new lesion: the resected lesion's effectors die with it, the metastasis recruits from the blood
    cfg["arms"]["cryo_anti_pd1_resection"] = {**cfg["arms"]["cryo_anti_pd1"], "resection": {"lesion": "distant", "day": 7},
                                             "metastases": {"liver": {"day": 8, "diameter_mm": 1.0, "domain_mm": 4.0}}}
    exp = resolve(cfg)
    ts, _, _ = simulate(exp.arms[arm], exp.settings, replicate_seed(exp.settings["seed"], 0))
    return ts


@pytest.mark.parametrize("arm", ["cryo_anti_pd1", "cryo_anti_pd1_resection"])
def test_every_effector_primed_or_seeded_is_somewhere_or_dead_at_every_record(arm):
    ts = conserved_run(arm)
    systemic = ts[ts.lesion == "systemic"].set_index("time_day")
    lesions = ts[ts.lesion != "systemic"].groupby("time_day")[["effectors_whole_lesion", "effectors_died_in_lesion"]].sum()
    sources = systemic.primed_cd8_total + systemic.effectors_born_in_node + systemic.preexisting_effectors_seeded
    held = (systemic.proliferating_cd8 + systemic.memory_cd8 + systemic.blood_effectors
            + systemic.rest_of_body_effectors + lesions.effectors_whole_lesion
            + systemic.effectors_died_in_blood + systemic.effectors_died_in_rest_of_body + lesions.effectors_died_in_lesion)
    assert len(sources) == 13
    np.testing.assert_allclose(held, sources, rtol=1e-9)
    last = systemic.iloc[-1]
    # every compartment took part: primed cells reached the blood, the rest of the body and the lesions, and died
    assert last.primed_cd8_total > 0 and last.effectors_born_in_node > 1e5
    assert min(last.blood_effectors, last.rest_of_body_effectors, last.effectors_died_in_blood,
               last.effectors_died_in_rest_of_body, lesions.iloc[-1].effectors_died_in_lesion) > 0
    assert lesions.iloc[-1].effectors_whole_lesion > 1e4
    assert 0 <= last.memory_derived_rest_of_body_effectors <= last.rest_of_body_effectors
    assert 0 <= last.memory_derived_blood_effectors <= last.blood_effectors


def test_active_effectors_leave_a_lesion_at_the_egress_rate_and_exhausted_ones_stay():
    cells = EffectorTCells({})
    n = 20000
    cells._append(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n), np.full(n, 10.0),
                  np.arange(n) % 4 == 0, np.full(n, 2.0))
    cells.exhausted[: n // 2] = True
    primary, secondary = cells.egress(0.05, 1.0, np.random.default_rng(0))
    left = n - cells.size
    assert left / (n // 2) == pytest.approx(1 - math.exp(-0.05), rel=0.1)
    assert cells.exhausted.sum() == n // 2  # every exhausted one stayed
    assert primary + secondary == 2.0 * left and secondary == pytest.approx(primary / 3, rel=0.2)


def test_a_sections_t_cell_stands_for_a_sphere_over_a_slab_one_cell_thick():
    assert section_scale(math.pi * 3.5**2, 20.0) == pytest.approx(4 * 3.5 / (3 * 0.020))  # 7 mm: about 233
    assert section_scale(math.pi * 3.5**2, 20.0) == pytest.approx(233.3, abs=0.1)
    for r_mm, d_um in ((0.5, 10.0), (2.0, 20.0), (10.0, 15.0)):
        area = math.pi * r_mm**2
        assert section_scale(area, d_um) * area * d_um / 1000 == pytest.approx(4 / 3 * math.pi * r_mm**3)
    assert section_scale(0.0, 20.0) == 0.0
    model = AbscopalModel(config=small_config(), arm="control", overrides={"trafficking.circulation": "conserved",
                                                                            "lesions.index.diameter_mm": 3.5})
    assert model.scale(model.lesions["index"]) == pytest.approx(4 * 1.75 / 0.06, rel=0.02)  # the lattice's disc


def test_an_unknown_circulation_is_refused_naming_the_key_the_value_and_the_choices():
    cfg = small_config()
    cfg["trafficking"] = {"circulation": "conserve"}
    with pytest.raises(ConfigError, match=r"^trafficking.circulation = 'conserve': expected one of \['section_pool', 'conserved'\]$"):
        resolve(cfg)


def test_the_volume_cap_admits_as_many_t_cells_to_a_section_as_the_area_cap():
    models = [AbscopalModel(config=small_config(), arm="control", overrides={"trafficking.circulation": mode})
              for mode in ("section_pool", "conserved")]
    influx = [m.influx_per_day(m.lesions["distant"], 3e5) for m in models]
    assert influx[0] > 0
    assert influx[1] == pytest.approx(influx[0])  # 2500/mm³ over a 20 µm slab = 50/mm²


def blood_node(primary: float, secondary: float) -> LymphNode:
    node = LymphNode(
        {"naive_precursors": 150.0, "divisions": 3, "memory_divisions": 2, "memory_maturation_stages": 2,
         "draining_nodes": "shared"}, 0.2, 0.4, Circulation(TRAFFICKING, 0.2, 0.05))
    node.x[node.at.primary] = primary
    node.x[node.at.blood] = primary + secondary
    return node


def test_lesions_short_of_blood_share_it_in_proportion_to_what_they_want():
    node = blood_node(primary=1000.0, secondary=0.0)
    rngs = {name: np.random.default_rng(1) for name in ("a", "b")}
    got = node.circulation.draw_admissions({"a": (10, 233.0), "b": (5, 100.0)}, 0.0, node.x, node.at, rngs)
    taken = {name: weight.sum() for name, (_, weight) in got.items()}
    assert sum(taken.values()) == pytest.approx(1000.0)  # all the blood, no more
    assert taken["a"] / taken["b"] == pytest.approx(2330 / 500)  # in proportion to 10 x 233 and 5 x 100
    assert node.blood_effectors == pytest.approx(0.0, abs=1e-9)
    # with enough blood each takes its admissions x its scale
    node = blood_node(primary=1e6, secondary=0.0)
    got = node.circulation.draw_admissions({"a": (10, 233.0), "b": (5, 100.0)}, 0.0, node.x, node.at, rngs)
    assert [w.tolist() for _, w in got.values()] == [[233.0] * 10, [100.0] * 5]
    assert node.blood_effectors == pytest.approx(1e6 - 2830)
    assert share_of_want(0.0, 0.0) == 1.0


def test_a_memory_derived_pool_short_of_blood_is_shared_apart_from_the_primary_one():
    node = blood_node(primary=1e6, secondary=50.0)
    rngs = {"a": np.random.default_rng(2)}
    secondary, weight = node.circulation.draw_admissions({"a": (40, 233.0)}, 0.5, node.x, node.at, rngs)["a"]
    assert 0 < secondary.sum() < 40
    assert weight[secondary].sum() == pytest.approx(50.0)  # the memory-derived blood, shared
    assert np.all(weight[~secondary] == 233.0)
    assert node.blood_effectors - node.x[node.at.primary] == pytest.approx(0.0, abs=1e-6)


def test_a_negative_count_raises_naming_the_compartment():
    node = blood_node(primary=100.0, secondary=0.0)
    with pytest.raises(ValueError, match="blood effectors = -1.*cannot be negative"):
        node.circulation.move(node.x, node.at, -101.0, 0.0)
    with pytest.raises(ValueError, match="rest = -5 cells"):
        check_counts({"rest": -5.0}, 1e-9)
    check_counts({"rest": -1e-12}, 1e-9)  # round-off of the exact step is left, not clamped


def books(node: LymphNode) -> tuple[float, float]:
    """(sources, held) of the node's linear system: cells activated or born; cells dividing, memory, in blood and in
    the rest of the body, and dead."""
    x, i = node.x, node.at
    sources = x[i.activated] + x[i.born]
    held = (x[i.generations].sum() + x[i.memory_generations].sum() + x[i.precursor_stages].sum() + x[i.memory]
            + x[i.blood] + x[i.rest] + x[i.died_in_blood] + x[i.died_in_rest])
    return sources, held


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=4, max_size=4), st.lists(st.floats(0, 1), min_size=2, max_size=2),
       st.floats(0, 1), st.floats(0, 5), st.floats(0, 5), st.floats(0, 2), st.floats(0, 1),
       st.sampled_from([1 / 24, 0.125, 0.25, 1.0]), st.floats(0, 2e3), st.floats(0, 1), st.integers(0, 20),
       st.floats(1, 500))
def test_the_books_balance_over_any_step(counts, primary_shares, rest_share, entry, back, elim, memory_fraction, dt,
                                         mature_in, occupancy, admitted, scale):
    node = LymphNode(
        defaults()["lymph_node"] | {"divisions": 4, "memory_fraction": memory_fraction, "memory_maturation_stages": 2,
                                    "memory_divisions": 2}, elim, 0.4,
        Circulation({"rest_of_body_entry_per_day": entry, "rest_of_body_return_per_day": back,
                     "lesion_egress_per_day": 0.05}, elim, memory_fraction))
    x, i = node.x, node.at
    blood, rest, memory, dividing = counts
    primary_share, rest_primary_share = primary_shares
    x[i.blood], x[i.primary] = blood, blood * primary_share
    x[i.rest], x[i.rest_primary] = rest, rest * rest_primary_share
    x[i.memory], x[i.generations.start] = memory, dividing
    start = books(node)
    admissions = node.circulation.draw_admissions({"lesion": (admitted, scale)}, node.secondary_share, x, i,
                                                  {"lesion": np.random.default_rng(admitted)})
    in_lesion = float(admissions["lesion"][1].sum())
    assert in_lesion <= blood * (1 + 1e-12) + 1e-9
    node.step(NodeSignals(dt, mature_in, 10.0, 0.0, occupancy, 5.0, (), rest_share))
    returned = 0.5 * in_lesion  # half leave the lesion again
    node.circulation.move(node.x, i, returned, 0.0)
    sources, held = books(node)
    total = max(held, 1.0)
    assert sources - start[0] >= -1e-9 * total
    assert (held + in_lesion - returned) - (start[1] + sources - start[0]) == pytest.approx(0.0, abs=1e-9 * total)
    assert node.x[i.primary] <= node.x[i.blood] * (1 + 1e-9) + 1e-9
    assert node.x[i.rest_primary] <= node.x[i.rest] * (1 + 1e-9) + 1e-9
