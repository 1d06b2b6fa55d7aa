"""Burden-driven systemic suppression (issue 9, item 4): the circulating MDSCs rise with the total live tumour
volume, off by default; with them on, a larger total burden blunts the same lesion's response to the same treatment
in the same individual."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abscopal.config import defaults, resolve
from abscopal.immune.suppressors import SystemicMDSCs
from abscopal.lesion import Lesion
from abscopal.odes import relax_to_ramp
from abscopal.runner import simulate
from abscopal.streams import Streams, replicate_seed

ON = {"max_expansion_fold": 10.0, "half_burden_mm3": 50.0}


def mdscs(**p) -> SystemicMDSCs:
    return SystemicMDSCs({**defaults()["systemic_mdscs"], **p})


def level_after(m: SystemicMDSCs, days: float, dt: float, burden) -> float:
    """``m``'s level after ``days`` in steps of ``dt`` days, the burden (mm³) a function of the day."""
    steps = round(days / dt)
    for k in range(steps):
        m.step(dt, burden(k * dt), burden((k + 1) * dt))
    return m.level


def test_the_level_rises_with_burden_toward_its_target_and_stays_at_1_when_off():
    levels = [level_after(mdscs(**ON), 60, 0.25, lambda day, b=b: b) for b in (0.0, 10.0, 50.0, 500.0)]
    assert levels[0] == 1.0
    assert levels == sorted(levels) and len(set(levels)) == 4
    assert levels[2] == pytest.approx(1.0 + 10.0 / 2, rel=1e-4)  # half the expansion at the half-burden
    # an individual whose tumours have grown for weeks starts at the level the first day's burden sustains
    assert SystemicMDSCs({**defaults()["systemic_mdscs"], **ON}, burden_mm3=50.0).level == pytest.approx(6.0)
    off = mdscs()  # the defaults
    assert off.p["max_expansion_fold"] == 0.0
    assert level_after(off, 30, 0.25, lambda day: 1e4 * (1 + day)) == 1.0


def test_a_section_stands_for_the_sphere_of_its_live_area():
    p = defaults()
    lesion = Lesion("index", {"diameter_mm": 3.0, "domain_mm": 4.0, "blood_flow_share": 0.05,
                              "recruitment_capacity": 1.0}, p, Streams(np.random.SeedSequence(1)), created_day=0.0)
    assert lesion.tissue.live_volume_mm3() == pytest.approx(math.pi / 6 * 3.0**3, rel=0.03)


@settings(max_examples=200, deadline=None)
@given(level=st.floats(1.0, 11.0), start=st.floats(0.0, 1e4), end=st.floats(0.0, 1e4),
       rate=st.floats(1e-3, 10.0), dt=st.sampled_from([1 / 96, 1 / 24, 0.25, 1.0]))
def test_a_step_stays_between_where_it_was_and_its_targets(level, start, end, rate, dt):
    m = mdscs(**ON, turnover_per_day=rate)
    m.level = level
    targets = m.target(start), m.target(end)
    m.step(dt, start, end)
    assert min(level, *targets) - 1e-9 <= m.level <= max(level, *targets) + 1e-9
    assert 1.0 - 1e-9 <= m.level <= 11.0 + 1e-9


@settings(max_examples=100, deadline=None)
@given(low=st.floats(0.0, 1e4), more=st.floats(0.0, 1e4), rate=st.floats(1e-3, 10.0),
       dt=st.sampled_from([1 / 24, 0.25, 1.0]), days=st.integers(1, 30))
def test_a_larger_burden_sustains_no_lower_level(low, more, rate, dt, days):
    small = level_after(mdscs(**ON, turnover_per_day=rate), days, dt, lambda day: low)
    large = level_after(mdscs(**ON, turnover_per_day=rate), days, dt, lambda day: low + more)
    assert large >= small - 1e-12


@settings(max_examples=100, deadline=None)
@given(start=st.floats(1.0, 2000.0), growth=st.floats(-0.5, 0.5), rate=st.floats(1e-3, 10.0),
       dt=st.sampled_from([1 / 24, 0.25, 0.5, 1.0]))
def test_the_level_does_not_depend_on_the_time_step(start, growth, rate, dt):
    """A tumour burden growing or shrinking exponentially (up to 0.5 per day, CT26 grows at 0.4) for 8 days: the
    level with steps of ``dt`` is within 0.5 % of the maximal expansion of that with steps of 15 minutes (day-long
    steps erred by up to 0.16 % on a grid of these values); with a constant burden the step is exact."""
    def burden(day):
        return start * math.exp(growth * day)

    fine = level_after(mdscs(**ON, turnover_per_day=rate), 8, 1 / 96, burden)
    assert level_after(mdscs(**ON, turnover_per_day=rate), 8, dt, burden) == pytest.approx(fine, abs=0.005 * 10.0)
    steady = [level_after(mdscs(**ON, turnover_per_day=rate), 8, step, lambda day: start) for step in (dt, 8.0)]
    assert steady[0] == pytest.approx(steady[1], rel=1e-9)


def test_relax_to_ramp_is_the_exact_solution():
    """x' = k (T0 + s t - x): x(t) = T(t) - s/k + (x0 - T0 + s/k) e^(-k t)."""
    x0, t0, t1, k, dt = 2.0, 3.0, 7.0, 0.7, 1.5
    s = (t1 - t0) / dt
    exact = t1 - s / k + (x0 - t0 + s / k) * math.exp(-k * dt)
    assert relax_to_ramp(x0, t0, t1, k, dt) == pytest.approx(exact, rel=1e-12)
    assert relax_to_ramp(1.0, 1.0, 1.0, k, dt) == 1.0  # exactly: the mechanism off leaves every number as it was


def distant_growth(extra_lesion: bool, on: bool, replicate: int) -> tuple[float, float]:
    """Cryoablation of the index lesion + anti-PD-1 from day 0: the distant lesion's live cells on day 16 over day 0,
    and the circulating MDSC level on day 16; ``extra_lesion`` adds an untreated 6 mm lesion (more burden)."""
    lesions = {"index": {"diameter_mm": 3.0, "domain_mm": 5.0}, "distant": {"diameter_mm": 3.0, "domain_mm": 5.0}}
    if extra_lesion:
        lesions["bulk"] = {"diameter_mm": 6.0, "domain_mm": 8.0}
    config = {"experiment": {"name": "burden", "start_day": -2, "end_day": 16, "readout_day": 16, "seed": 3},
              "lesions": lesions,
              "arms": {"cryo_anti_pd1": {"ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 1.0},
                                         "drugs": {"anti_pd1": {"start_day": 0}}}}}
    if on:
        config["systemic_mdscs"] = ON
    exp = resolve(config)
    ts, _, _ = simulate(exp.arms["cryo_anti_pd1"], exp.settings, replicate_seed(3, replicate))
    distant = ts[ts["lesion"] == "distant"].set_index("time_day")["tumor_cells"]
    level = ts[ts["lesion"] == "systemic"].set_index("time_day")["mdsc_level"]
    return distant[16] / distant[0], level[16]


@pytest.mark.parametrize("replicate", [0, 1])
def test_a_larger_burden_blunts_the_same_lesions_response_in_the_same_individual(replicate):
    """Paired: the same individual and treatment, with and without an extra untreated lesion. Off, the extra lesion
    changes the distant lesion's growth only through its own DCs (Tregs); on, its burden expands the MDSCs, which
    blunt priming and fill the distant lesion, so the distant lesion grows more, by more than twice as much."""
    off, off_extra = (distant_growth(extra, False, replicate) for extra in (False, True))
    on, on_extra = (distant_growth(extra, True, replicate) for extra in (False, True))
    assert off[1] == off_extra[1] == 1.0
    assert on_extra[1] > on[1] > 1.0
    assert on_extra[0] - on[0] > 2 * (off_extra[0] - off[0]) > 0
