"""Published behaviour the model must show (SCIENCE.md facts 1-4 and 8), over replicates, with effect sizes.

The shipped experiments run with their default parameters; each test compares arms replicate by
replicate and reports the difference, Hedges' g and a one-sided Welch t-test p-value in the
validation section of the test output. Marked slow: `make test` runs them (CI too).
"""

import numpy as np
import pytest
from scipy import stats

import abscopal
from conftest import VALIDATION_REPORT

REPLICATES = 6
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_experiment(tmp_path_factory):
    exp = abscopal.load_experiment("experiments/cryo_checkpoint.toml")
    return abscopal.run(exp, replicates=REPLICATES, workers=2, out=tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def timing_experiment(tmp_path_factory):
    exp = abscopal.load_experiment("experiments/checkpoint_timing.toml")
    exp.arms = {k: exp.arms[k] for k in ("cryo", "pd1_day0", "pd1_day21")}
    return abscopal.run(exp, replicates=REPLICATES, workers=2, out=tmp_path_factory.mktemp("timing"))


def per_arm(summary, column, lesion="distant"):
    s = summary[summary["lesion"] == lesion]
    return {arm: g.sort_values("replicate")[column].to_numpy(float) for arm, g in s.groupby("arm")}


def lower(values, a, b, what, min_difference):
    """Report and check that arm a's values are below arm b's: by min_difference, one-sided p < 0.01."""
    x, y = values[a], values[b]
    diff = y.mean() - x.mean()
    pooled = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    n = len(x) + len(y)
    g = diff / pooled * (1 - 3 / (4 * n - 9)) if pooled > 0 else np.inf
    p = stats.ttest_ind(x, y, equal_var=False, alternative="less").pvalue if pooled > 0 else 0.0
    VALIDATION_REPORT.append(
        f"{what}: {a} {x.mean():.1f} vs {b} {y.mean():.1f} (difference {diff:.1f}, Hedges g {g:.1f}, p {p:.2g}, "
        f"n {len(x)}+{len(y)})"
    )
    assert diff >= min_difference and p < 0.01, VALIDATION_REPORT[-1]


def test_fact1_ablation_alone_primes_but_barely_changes_the_distant_lesion(default_experiment):
    s = default_experiment.summary
    primed = per_arm(s, "primed_cd8_total")
    lower(primed, "control", "cryo", "fact 1, CD8 cells primed by day 30", 10)
    change = per_arm(s, "burden_change_pct")
    growth = change["control"].mean()
    effect = growth - change["cryo"].mean()
    VALIDATION_REPORT.append(
        f"fact 1, distant lesion growth by day 30 (%): control {growth:.1f}, cryo {change['cryo'].mean():.1f}: "
        f"cryoablation alone removes {100 * effect / growth:.0f} % of the distant lesion's growth"
    )
    assert effect < 0.25 * growth, VALIDATION_REPORT[-1]


@pytest.mark.parametrize("drug", ["anti_pd1", "anti_ctla4"])
def test_fact2_ablation_plus_checkpoint_blockade_beats_either_alone(default_experiment, drug):
    change = per_arm(default_experiment.summary, "burden_change_pct")
    combo = f"cryo_{drug}"
    lower(change, combo, "cryo", f"fact 2, distant lesion change by day 30 (%)", 3)
    lower(change, combo, drug, f"fact 2, distant lesion change by day 30 (%)", 3)


def test_fact3_pd_l1_rises_after_ablation_induced_infiltration(default_experiment):
    ts = default_experiment.timeseries
    distant = ts[(ts["lesion"] == "distant") & (ts["time_day"] == 10)]
    pd_l1 = {arm: g.sort_values("replicate")["pd_l1_mean"].to_numpy(float) for arm, g in distant.groupby("arm")}
    lower(pd_l1, "control", "cryo", "fact 3, distant-lesion PD-L1 on day 10 (1 = constitutive)", 1.0)
    change = per_arm(default_experiment.summary, "burden_change_pct")
    lower(change, "cryo_anti_pd1", "cryo", "fact 3, blocking PD-1 lifts the PD-L1 brake: distant change (%)", 20)


def test_fact4_blockade_with_ablation_beats_blockade_weeks_later(timing_experiment):
    change = per_arm(timing_experiment.summary, "burden_change_pct")
    lower(change, "pd1_day0", "pd1_day21", "fact 4, distant change by day 35 (%), anti-PD-1 from day 0 vs day 21", 3)


@pytest.fixture(scope="module")
def rechallenge(tmp_path_factory):
    """experiments/rechallenge.toml: a 5 mm primary removed on day 0 by surgery (the naive control),
    complete cryoablation, or cryoablation + one peritumoral CpG injection; a 1 mm rechallenge on day 30,
    read on day 44 (about 1 min on 2 workers)."""
    return abscopal.run(abscopal.load_experiment("experiments/rechallenge.toml"), replicates=REPLICATES,
                        workers=2, out=tmp_path_factory.mktemp("rechallenge"))


def lower_paired(values, a, b, what, min_difference):
    """Check that arm a's values are below arm b's replicate by replicate: paired one-sided p < 0.01.

    Arms of a replicate share random streams (common random numbers), so their difference is the
    treatment's effect; d_z is the mean paired difference over its standard deviation."""
    d = values[b] - values[a]
    sd = d.std(ddof=1)
    dz = d.mean() / sd if sd > 0 else np.inf
    p = stats.ttest_rel(values[a], values[b], alternative="less").pvalue if sd > 0 else 0.0
    VALIDATION_REPORT.append(
        f"{what}: {a} {values[a].mean():.1f} vs {b} {values[b].mean():.1f} (paired difference {d.mean():.1f}, "
        f"d_z {dz:.1f}, p {p:.2g}, {(d > 0).sum()} of {len(d)} replicates lower)"
    )
    assert d.mean() >= min_difference and p < 0.01, VALIDATION_REPORT[-1]


def test_fact8_cryo_plus_cpg_controls_a_rechallenge_better_than_cryo_alone_and_than_naive(rechallenge):
    growth = per_arm(rechallenge.summary, "burden_change_pct", lesion="rechallenge")
    what = "fact 8, rechallenge growth from seeding (day 30) to day 44 (%)"
    lower_paired(growth, "cryo", "surgery", what, 20)
    lower_paired(growth, "cryo_cpg", "cryo", what, 10)
    lower(growth, "cryo_cpg", "surgery", what, 30)


def test_fact8_cpg_raises_memory_and_the_secondary_response(rechallenge):
    ts = rechallenge.timeseries
    systemic = ts[ts["lesion"] == "systemic"]
    at_rechallenge = systemic[systemic["time_day"] == 30]
    memory = {arm: g.sort_values("replicate")["memory_cd8"].to_numpy(float) for arm, g in at_rechallenge.groupby("arm")}
    lower(memory, "cryo", "cryo_cpg", "fact 8, memory CD8 cells on the day of rechallenge", 1000)
    after = systemic[systemic["time_day"] > 30].groupby(["arm", "replicate"])["blood_effectors"].max().reset_index()
    peak = {arm: g.sort_values("replicate")["blood_effectors"].to_numpy(float) for arm, g in after.groupby("arm")}
    lower(peak, "cryo", "cryo_cpg", "fact 8, peak blood effectors after rechallenge (secondary response)", 1e5)
