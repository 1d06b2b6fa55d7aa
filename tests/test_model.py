"""The simulation core: reproducibility, common random numbers, treatments and their biology."""

import math

import numpy as np
import pytest

from abscopal.config import resolve
from abscopal.drugs import Drug
from abscopal.immune.lymph_node import LymphNode, NodeSignals
from abscopal.config import defaults
from abscopal.model import AbscopalModel
from abscopal.runner import simulate
from abscopal.streams import replicate_seed
from conftest import small_config


def run_arm(cfg, arm, replicate=0):
    exp = resolve(cfg)
    ts, events, _ = simulate(exp.arms[arm], exp.settings, replicate_seed(exp.settings["seed"], replicate))
    return ts, events


def lesion_series(ts, lesion, column="tumor_cells"):
    return ts[ts["lesion"] == lesion].set_index("time_day")[column]


def test_same_seed_same_numbers_other_replicate_other_numbers():
    cfg = small_config()
    a, _ = run_arm(cfg, "cryo_anti_pd1", 0)
    b, _ = run_arm(cfg, "cryo_anti_pd1", 0)
    c, _ = run_arm(cfg, "cryo_anti_pd1", 1)
    assert a.equals(b)
    assert not lesion_series(a, "distant").equals(lesion_series(c, "distant"))


def test_arms_share_random_streams_until_treatment():
    """Common random numbers: before day 0 both arms see exactly the same tumour growth."""
    cfg = small_config()
    control, _ = run_arm(cfg, "control")
    treated, _ = run_arm(cfg, "cryo_anti_pd1")
    for lesion in ("index", "distant"):
        before = lesion_series(control, lesion).loc[:0]
        assert before.equals(lesion_series(treated, lesion).loc[:0])
        assert before.iloc[-1] > before.iloc[0]  # lesions grow


def test_record_of_day_zero_is_before_the_ablation():
    ts, events = run_arm(small_config(), "cryo_anti_pd1")
    index = lesion_series(ts, "index")
    assert index.loc[0] > 0 and index.loc[1] < 0.05 * index.loc[0]
    ablation = [e for e in events if e["kind"] == "ablation"][0]
    assert ablation["day"] == 0 and ablation["necrotic"] + ablation["apoptotic"] > 0.95 * index.loc[0]


def test_incomplete_ablation_leaves_a_rim_that_regrows():
    cfg = small_config(end_day=10, readout_day=10)
    cfg["arms"]["cryo_anti_pd1"]["ablation"]["margin_mm"] = -0.4
    cfg["arms"]["cryo_anti_pd1"].pop("drugs")
    ts, _ = run_arm(cfg, "cryo_anti_pd1")
    index = lesion_series(ts, "index")
    assert 0 < index.loc[1] < 0.9 * index.loc[0]
    assert index.loc[10] > index.loc[1] * 1.05


def incomplete_heat(margin_mm=-0.4, per_injury=None):
    cfg = small_config(end_day=8, readout_day=8)
    cfg["arms"]["cryo_anti_pd1"]["ablation"].update(modality="heat", margin_mm=margin_mm)
    cfg["arms"]["cryo_anti_pd1"].pop("drugs")
    if per_injury is not None:
        cfg["arms"]["cryo_anti_pd1"]["inflammation"] = {"per_injury": per_injury}
    ts, _ = run_arm(cfg, "cryo_anti_pd1")
    return ts


def test_incomplete_heat_ablation_inflames_the_residual_which_grows_faster_and_draws_mdscs():
    inflamed, calm = incomplete_heat(), incomplete_heat(per_injury=0.0)
    injury = lesion_series(inflamed, "index", "injury_inflammation")
    assert injury.loc[:0].max() == 0.0 and 0.2 < injury.loc[1] <= 1.0
    assert injury.loc[8] == pytest.approx(injury.loc[1] * math.exp(-0.1 * 7), rel=1e-9)  # resolves at 0.1/day
    assert (lesion_series(calm, "index", "injury_inflammation") == 0.0).all()
    assert (lesion_series(inflamed, "distant", "injury_inflammation") == 0.0).all()
    regrowth = {name: lesion_series(ts, "index").loc[8] / lesion_series(ts, "index").loc[1]
                for name, ts in (("inflamed", inflamed), ("calm", calm))}
    assert regrowth["inflamed"] > 1.05 * regrowth["calm"]
    assert lesion_series(inflamed, "index", "mdscs").loc[3] > 5 * lesion_series(calm, "index", "mdscs").loc[3]


def test_complete_heat_ablation_and_cryoablation_leave_no_injury_inflammation():
    complete = incomplete_heat(margin_mm=1.0)
    assert (lesion_series(complete, "index", "injury_inflammation") == 0.0).all()
    cfg = small_config(end_day=3, readout_day=3)
    cfg["arms"]["cryo_anti_pd1"]["ablation"]["margin_mm"] = -0.4
    cryo, _ = run_arm(cfg, "cryo_anti_pd1")
    assert (lesion_series(cryo, "index", "injury_inflammation") == 0.0).all()


def test_ablation_releases_antigen_primes_t_cells_and_pd_l1_rises():
    cfg = small_config(end_day=12, readout_day=12)
    cfg["arms"]["cryo_anti_pd1"].pop("drugs")
    control, _ = run_arm(cfg, "control")
    cryo, _ = run_arm(cfg, "cryo_anti_pd1")
    assert lesion_series(cryo, "index", "antigen").loc[0.0:1.0].max() > 10 * lesion_series(control, "index", "antigen").max()
    assert lesion_series(cryo, "systemic", "primed_cd8_total").iloc[-1] > 100 * max(
        lesion_series(control, "systemic", "primed_cd8_total").iloc[-1], 1e-3)
    assert lesion_series(cryo, "distant", "effector_t_cells").max() > 10
    assert lesion_series(cryo, "distant", "pd_l1_mean").iloc[-1] > 1.2  # adaptive resistance
    assert lesion_series(control, "distant", "pd_l1_mean").iloc[-1] == pytest.approx(1.0, abs=0.05)


def test_resection_and_new_metastasis():
    cfg = small_config()
    cfg["arms"]["control"]["resection"] = {"lesion": "index", "day": 2}
    cfg["arms"]["control"]["metastases"] = {"liver": {"day": 3, "diameter_mm": 1.0, "domain_mm": 3.0}}
    ts, events = run_arm(cfg, "control")
    index = lesion_series(ts, "index")
    assert index.loc[2] > 0 and index.loc[3:].eq(0).all()
    assert lesion_series(ts, "index", "blood_flow_share").loc[3] == 0
    liver = lesion_series(ts, "liver")
    assert liver.index.min() == 4 and liver.iloc[0] > 500
    assert [e["kind"] for e in events] == ["resection", "metastasis"]


def test_radiotherapy_gives_one_event_per_fraction():
    cfg = small_config()
    cfg["arms"]["control"]["ablation"] = {"modality": "radiotherapy", "lesion": "index", "day": 0,
                                          "dose_per_fraction_gy": 8, "fractions": 3}
    ts, events = run_arm(cfg, "control")
    assert [e["day"] for e in events] == [0, 1, 2]
    # of the cells a fraction dooms, 5 % die now by apoptosis; the others live on, lethally damaged
    first = events[0]
    doomed = first["apoptotic"] + first["lethally_damaged"]
    assert first["apoptotic"] == pytest.approx(0.05 * doomed, abs=4 * math.sqrt(0.05 * doomed))
    assert first["necrotic"] == 0
    index = lesion_series(ts, "index")
    assert index.loc[1] > 0.5 * index.loc[0]  # not sterilised at once
    assert lesion_series(ts, "index", "lethally_damaged_cells").loc[1] > 0.5 * first["lethally_damaged"]


def test_drug_concentration_halves_each_half_life_and_occupancy_is_a_binding_curve():
    pk = {"kd_nm": 2.6, "half_life_days": 2.0, "volume_l_per_kg": 0.08, "molecular_weight_kda": 146.0}
    drug = Drug("anti_pd1", 10.0, pk)
    drug.dose_days.append(0.0)
    c0 = 10.0 / 0.08 / 146000 * 1e6
    assert drug.concentration_nm(0.0) == pytest.approx(c0)
    assert drug.concentration_nm(2.0) == pytest.approx(c0 / 2)
    assert drug.concentration_nm(-0.1) == 0
    c = drug.concentration_nm(20.0)
    assert drug.occupancy(20.0) == pytest.approx(c / (c + 2.6))


def test_lymph_node_each_activated_cell_makes_two_to_the_divisions_effectors():
    p = dict(defaults()["lymph_node"], divisions=5, ctla4_priming_inhibition=0.0, treg_turnover_per_day=0.0)
    ln = LymphNode(p, blood_elimination_per_day=0.0, dc_death_per_day=0.4)
    ln.step(NodeSignals(dt=0.25, mature_dcs_in=1e4, tolerogenic_dcs_in=0.0, recruited=0.0, anti_ctla4_occupancy=0.0))
    for _ in range(200):
        ln.step(NodeSignals(0.25, 0.0, 0.0, 0.0, 0.0))
    activated = p["naive_precursors"] - ln.record()["naive_cd8"]
    assert activated > 1
    assert ln.blood_effectors == pytest.approx(activated * 2**5, rel=1e-3)


def test_halving_the_time_step_does_not_change_the_outcome_beyond_noise():
    """The same individuals at 6 h and 3 h steps (paired: the streams are keyed by day, not by step): the distant
    burden agrees within noise and within 1 %."""
    cfg = small_config(end_day=8, readout_day=8)
    outcomes = {}
    for step_h in (6, 3):
        cfg["experiment"]["time_step_h"] = step_h
        finals = [lesion_series(run_arm(cfg, "cryo_anti_pd1", r)[0], "distant").iloc[-1] for r in range(4)]
        outcomes[step_h] = np.array(finals, float)
    d = outcomes[6] - outcomes[3]
    noise = d.std(ddof=1) / np.sqrt(len(d))
    assert abs(d.mean()) < max(4 * noise, 0.01 * outcomes[3].mean()), outcomes


def test_a_treatment_between_two_records_happens_in_order_with_the_biology(monkeypatch):
    """Radiotherapy fractions 0.4 days apart used to act before the biology of their day (issue 8): now the
    biology is advanced to each fraction's time first, splitting the internal step it falls in."""
    from abscopal import treatments

    cfg = small_config(end_day=2, readout_day=2)
    cfg["arms"]["control"]["ablation"] = {"modality": "radiotherapy", "lesion": "index", "day": 0,
                                          "dose_per_fraction_gy": 2, "fractions": 3, "fraction_interval_days": 0.4}
    exp = resolve(cfg)
    steps, fractions = [], []
    advance, apply = AbscopalModel.advance, treatments.Ablation.apply
    monkeypatch.setattr(AbscopalModel, "advance", lambda self, day, dt: (steps.append((day, dt)), advance(self, day, dt)))
    monkeypatch.setattr(treatments.Ablation, "apply",
                        lambda self: (fractions.append((self.model.day, self.model.biology_day)), apply(self)))
    for arm in ("control", "cryo_anti_pd1"):
        steps.clear()
        model = AbscopalModel(exp.arms[arm], exp.settings, replicate_seed(3, 0))
        model.run(2)
        if arm == "control":
            assert [day for day, _ in fractions] == pytest.approx([0.0, 0.4, 0.8])
            assert all(biology == pytest.approx(day) for day, biology in fractions)
            day0 = [value for d, dt in steps if 0 <= d < 1 for value in (d, dt)]
            assert day0 == pytest.approx([0, 0.25, 0.25, 0.15, 0.4, 0.1, 0.5, 0.25, 0.75, 0.05, 0.8, 0.2])
        else:  # treatments on whole days leave the internal steps as they were
            assert steps == [(-2 + k * 0.25, 0.25) for k in range(16)]
        assert sum(dt for _, dt in steps) == pytest.approx(4.0) and model.biology_day == 2.0


def test_arms_draw_the_same_numbers_on_a_later_day_after_their_histories_diverge(monkeypatch):
    """Common random numbers after treatment: control and cryo + anti-PD-1 diverge on day 0 (different T cells,
    deaths, divisions in the distant lesion), yet on day 3 each lesion and purpose starts from the same draws."""
    from abscopal.lesion import Lesion

    grow, seen = Lesion.grow, {}

    def spy(self, day, dt):
        if self.name == "distant" and day in (3.0, 4.0):
            seen.setdefault(arm, {})[day] = [self.rng[p].random(3).tolist() for p in ("growth", "death", "t_cells")]
        return grow(self, day, dt)

    monkeypatch.setattr(Lesion, "grow", spy)
    cfg = small_config()
    series = {}
    for arm in ("control", "cryo_anti_pd1"):
        series[arm] = lesion_series(run_arm(cfg, arm)[0], "distant", "effector_t_cells")
    assert not series["control"].loc[1:].equals(series["cryo_anti_pd1"].loc[1:])  # the histories diverged
    assert seen["control"] == seen["cryo_anti_pd1"]
    assert seen["control"][3.0] != seen["control"][4.0]  # and each day has its own numbers


@pytest.mark.parametrize("n, m, s", [(1, 1, 1), (16, 8, 4), (3, 30, 50)])
def test_lymph_node_compartments_partition_the_state_vector(n, m, s):
    """Every compartment of the node has its own entries of the state vector, and every entry belongs to one."""
    from abscopal.immune.lymph_node import Compartments

    at = Compartments(n, m, s)
    entries = [at.mature_dcs, at.tolerogenic_dcs, at.naive, at.memory, at.blood, at.treg, at.activated, at.primary,
               at.recalled]
    for chain, length in ((at.generations, n), (at.memory_generations, m), (at.precursor_stages, s)):
        assert chain.stop - chain.start == length
        entries += range(chain.start, chain.stop)
    assert sorted(entries) == list(range(at.size))
