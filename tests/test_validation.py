"""Published behaviour the model must show (SCIENCE.md facts 1-4, 6 and 8, abscopal response rates), over
replicates, with effect sizes.

The shipped experiments run with their default parameters. A replicate is one individual, the same in every
arm (abscopal/individual.py), so arms are compared individual by individual: the mean paired difference,
Cohen's d of the differences and a one-sided paired t-test p-value, reported in the validation section of the
test output. Marked slow: `make test` runs them (CI too).
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import abscopal
from abscopal import individual, readouts
from conftest import VALIDATION_REPORT

REPLICATES = 6
INDIVIDUALS = 16  # cryo and cryo_anti_pd1: enough individuals for response rates and fact 6
RECHALLENGE_INDIVIDUALS = 12  # fact 8: protection is read per individual
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_experiment(tmp_path_factory):
    """The default experiment: INDIVIDUALS replicates of cryo and cryo_anti_pd1, REPLICATES of the other arms."""
    exp = abscopal.load_experiment("experiments/cryo_checkpoint.toml")
    arms, many = exp.arms, ("cryo", "cryo_anti_pd1")
    parts = []
    for names, n in ((many, INDIVIDUALS), ([a for a in arms if a not in many], REPLICATES)):
        exp.arms = {a: arms[a] for a in names}
        parts.append(abscopal.run(exp, replicates=n, workers=2, out=tmp_path_factory.mktemp("default")))
    return SimpleNamespace(summary=pd.concat([p.summary for p in parts], ignore_index=True),
                           timeseries=pd.concat([p.timeseries for p in parts], ignore_index=True))


@pytest.fixture(scope="module")
def timing_experiment(tmp_path_factory):
    exp = abscopal.load_experiment("experiments/checkpoint_timing.toml")
    exp.arms = {k: exp.arms[k] for k in ("cryo", "pd1_day0", "pd1_day21")}
    return abscopal.run(exp, replicates=REPLICATES, workers=2, out=tmp_path_factory.mktemp("timing"))


def per_arm(summary, column, lesion="distant"):
    """Per arm, the column by replicate (= individual)."""
    s = summary[summary["lesion"] == lesion]
    return {arm: g.set_index("replicate")[column].astype(float).sort_index() for arm, g in s.groupby("arm")}


def lower(values, a, b, what, min_difference):
    """Report and check that arm a's values are below arm b's in the same individuals: by min_difference on
    average, one-sided paired p < 0.01."""
    common = values[a].index.intersection(values[b].index)
    x, y = values[a][common].to_numpy(), values[b][common].to_numpy()
    d = y - x
    diff = d.mean()
    sd = d.std(ddof=1)
    dz = diff / sd if sd > 0 else np.inf
    p = stats.ttest_rel(x, y, alternative="less").pvalue if sd > 0 else (0.0 if diff > 0 else 1.0)
    VALIDATION_REPORT.append(
        f"{what}: {a} {x.mean():.1f} vs {b} {y.mean():.1f} (paired difference {diff:.1f}, Cohen's dz {dz:.1f}, "
        f"p {p:.2g}, n {len(d)} individuals)"
    )
    assert diff >= min_difference and p < 0.01, VALIDATION_REPORT[-1]


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
    capacity = explained.pop("recruitment_capacity")
    assert capacity >= 0.5 and capacity > 2 * max(explained.values()), VALIDATION_REPORT[-len(individual.TRAITS)]


def test_abscopal_responses_need_the_combination(default_experiment):
    """Distant partial responses (diameter -30 % by day 30): rare after cryoablation alone (fact 1), in a clinical
    fraction with checkpoint blockade (Duffy 2017: 5 of 19 patients)."""
    rate = readouts.abscopal_response_rate(default_experiment.timeseries, treated_lesion="index", day=30)
    rate = rate[rate["lesion"] == "any"].set_index("arm")
    for arm, r in rate.iterrows():
        VALIDATION_REPORT.append(
            f"abscopal response rate by day 30, {arm}: {r.responders}/{r.n} = {100 * r.rate:.0f} % "
            f"(95 % Wilson CI {100 * r.ci_low:.0f}-{100 * r.ci_high:.0f} %)"
        )
    cryo, combo, ctla4 = rate.loc["cryo"], rate.loc["cryo_anti_pd1"], rate.loc["cryo_anti_ctla4"]
    p = stats.fisher_exact([[combo.responders, combo.n - combo.responders], [cryo.responders, cryo.n - cryo.responders]],
                           alternative="greater").pvalue
    VALIDATION_REPORT.append(f"abscopal responses, cryo_anti_pd1 vs cryo: one-sided Fisher exact p {p:.2g}")
    assert cryo.rate <= 0.1 and 0.1 <= combo.rate <= 0.5 and combo.responders >= cryo.responders + 2, VALIDATION_REPORT[-1]
    # anti-CTLA-4 too (Duffy 2017 gave tremelimumab): some responders, at most about as often as with anti-PD-1
    assert ctla4.responders >= 1 and ctla4.rate <= 0.5, VALIDATION_REPORT[-2]


@pytest.fixture(scope="module")
def rechallenge(tmp_path_factory):
    """experiments/rechallenge.toml: a 5 mm primary removed on day 0 by surgery (the naive control),
    complete cryoablation, or cryoablation + one peritumoral CpG injection; a 1 mm rechallenge on day 30,
    read on day 44 (about 30 s on 2 workers)."""
    return abscopal.run(abscopal.load_experiment("experiments/rechallenge.toml"), replicates=RECHALLENGE_INDIVIDUALS,
                        workers=2, out=tmp_path_factory.mktemp("rechallenge"))


def test_fact8_cryo_plus_cpg_protects_against_a_rechallenge_and_cryo_alone_partly(rechallenge):
    growth = per_arm(rechallenge.summary, "burden_change_pct", lesion="rechallenge")
    what = "fact 8, rechallenge growth from seeding (day 30) to day 44 (%)"
    lower(growth, "cryo", "surgery", what, 300)
    lower(growth, "cryo_cpg", "cryo", what, 30)
    # controlled: the rechallenge shrinks or stays near its seeding size (at most +50 % live cells, +22 % diameter)
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
