"""Clinical readouts on small hand-built time series with hand-worked answers."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abscopal import readouts as R


def rows(arm, rep, lesion, diam, cells=None, **cols):
    """Records of one lesion: ``diam`` maps day -> longest diameter (mm); cells default to 1000 x mm."""
    cells = cells or {d: 1000.0 * v for d, v in diam.items()}
    out = []
    for day, mm in diam.items():
        rec = {"arm": arm, "replicate": rep, "time_day": float(day), "lesion": lesion,
               "tumor_cells": cells[day], "longest_diameter_mm": float(mm), "effector_t_cells": 0.0,
               "exhausted_t_cells": 0.0, "tregs": 1.0, "pd_l1_mean": 0.0, "antigen": 0.0}
        for name, values in cols.items():
            rec[name] = values[day]
        out.append(rec)
    return out


def systemic(arm, rep, days):
    return [{"arm": arm, "replicate": rep, "time_day": float(d), "lesion": "systemic", "blood_effectors": 1.0,
             "tumor_cells": np.nan, "longest_diameter_mm": np.nan} for d in days]


def frame(*parts):
    return pd.DataFrame([r for part in parts for r in part])


def one(df, **where):
    sel = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        sel &= (df[k] == v).to_numpy()
    assert sel.sum() == 1, (where, df)
    return df[sel].iloc[0]


def responses(df, **where):
    sel = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        sel &= (df[k] == v).to_numpy()
    return list(df.loc[sel, "response"])


# ---- burden --------------------------------------------------------------------------------------
def burden_ts():
    return frame(
        rows("A", 0, "index", {-1: 20, 0: 20, 5: 10, 10: 0}, {-1: 8000, 0: 8000, 5: 1000, 10: 0}),
        rows("A", 0, "distant", {-1: 10, 0: 10, 5: 12, 10: 15}, {-1: 1000, 0: 1000, 5: 1728, 10: 3375}),
        rows("A", 0, "met", {5: 2, 10: 4}, {5: 8, 10: 64}),
        systemic("A", 0, [-1, 0, 5, 10]),
    )


def test_burden_change_at_last_day_with_a_total_and_a_late_metastasis():
    bc = R.burden_change(burden_ts())
    assert list(bc["lesion"]) == ["index", "distant", "met", "total"]  # the systemic rows are not a lesion
    idx = one(bc, lesion="index")
    assert (idx["baseline_day"], idx["day"]) == (0.0, 10.0)
    assert idx["tumor_cells_change_pct"] == -100.0 and idx["longest_diameter_change_pct"] == -100.0
    dist = one(bc, lesion="distant")
    assert dist["tumor_cells_change_pct"] == pytest.approx(237.5)  # 1000 -> 3375
    assert dist["longest_diameter_change_pct"] == pytest.approx(50.0)  # 10 -> 15 mm
    met = one(bc, lesion="met")  # seeded on day 5: measured from its first record (as the summary does)
    assert (met["baseline_day"], met["tumor_cells_baseline"], met["longest_diameter_baseline_mm"]) == (5.0, 8.0, 2.0)
    assert met["tumor_cells_change_pct"] == pytest.approx(700.0)  # 8 -> 64
    tot = one(bc, lesion="total")  # the metastasis was not there at baseline: it adds to the total's change
    assert (tot["tumor_cells_baseline"], tot["tumor_cells"]) == (9000.0, 3439.0)
    assert tot["tumor_cells_change_pct"] == pytest.approx(100 * (3439 - 9000) / 9000)
    assert (tot["longest_diameter_baseline_mm"], tot["longest_diameter_mm"]) == (30.0, 19.0)
    assert tot["longest_diameter_change_pct"] == pytest.approx(100 * (19 - 30) / 30)


def test_burden_change_uses_the_last_record_at_or_before_each_day():
    bc = R.burden_change(burden_ts(), baseline_day=-0.5, day=7)  # records of day -1 and day 5
    idx = one(bc, lesion="index")
    assert (idx["baseline_day"], idx["day"]) == (-1.0, 5.0)
    assert idx["tumor_cells_change_pct"] == pytest.approx(-87.5)
    tot = one(bc, lesion="total")
    assert tot["tumor_cells"] == 1000 + 1728 + 8 and tot["longest_diameter_mm"] == 24.0
    assert tot["longest_diameter_change_pct"] == pytest.approx(-20.0)
    # before the metastasis was seeded it is left out
    assert "met" not in set(R.burden_change(burden_ts(), day=3)["lesion"])


def test_by_columns_must_exist_and_a_sweep_groups_by_its_own_columns():
    ts = burden_ts()
    with pytest.raises(KeyError):
        R.burden_change(ts, by=("arm", "point"))
    sweep = pd.concat([ts.assign(point=0), ts.assign(point=1, longest_diameter_mm=ts["longest_diameter_mm"] * 2)])
    bc = R.burden_change(sweep, by=("point", "arm", "replicate"))
    assert len(bc) == 8
    assert one(bc, point=1, lesion="total")["longest_diameter_mm"] == 38.0


# ---- RECIST 1.1 ----------------------------------------------------------------------------------
def test_recist_exactly_minus_30_pct_is_pr_and_minus_29_9_is_sd():
    ts = frame(
        rows("A", 0, "index", {0: 30, 7: 20}), rows("A", 0, "distant", {0: 20, 7: 15}),  # 50 -> 35 mm
        rows("A", 1, "index", {0: 30, 7: 20}), rows("A", 1, "distant", {0: 20, 7: 15.05}),  # 50 -> 35.05 mm
    )
    rec = R.recist(ts, [7])
    assert list(rec.columns) == ["arm", "replicate", "day", "sum_diameters_mm", "baseline_sum_mm", "nadir_sum_mm",
                                 "change_from_baseline_pct", "change_from_nadir_pct", "new_lesions", "response"]
    pr, sd = one(rec, replicate=0), one(rec, replicate=1)
    assert pr["sum_diameters_mm"] == 35.0 and pr["change_from_baseline_pct"] == pytest.approx(-30.0)
    assert pr["response"] == "PR"
    assert sd["change_from_baseline_pct"] == pytest.approx(-29.9)
    assert sd["response"] == "SD"


def test_recist_pd_needs_20_pct_and_5_mm():
    ts = frame(
        rows("A", 0, "index", {0: 20, 7: 24}),  # +20 % but +4 mm: SD
        rows("A", 1, "index", {0: 20, 7: 25}),  # +25 %, +5 mm: PD
        rows("A", 2, "index", {0: 25, 7: 30}),  # exactly +20 % and +5 mm: PD
        rows("A", 3, "index", {0: 10, 7: 14.9}),  # +49 % but +4.9 mm: SD
    )
    rec = R.recist(ts, [7])
    assert list(rec["response"]) == ["SD", "PD", "PD", "SD"]
    assert one(rec, replicate=0)["change_from_nadir_pct"] == pytest.approx(20.0)


def test_recist_new_lesion_is_pd_even_when_targets_shrink():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 10, 14: 8, 21: 8}), rows("A", 0, "met", {10: 1, 14: 2, 21: 3}))
    rec = R.recist(ts, [7, 14, 21])
    assert list(rec["response"]) == ["PR", "PD", "PD"]
    assert list(rec["new_lesions"]) == [0, 1, 1]
    assert list(rec["sum_diameters_mm"]) == [10.0, 8.0, 8.0]  # a new lesion is not a target
    # the caller can say when a new lesion counts (e.g. when it becomes detectable) ...
    assert responses(R.recist(ts, [7, 14, 21], new_lesion_days={"met": 20})) == ["PR", "PR", "PD"]
    # ... or pass the events frame: its metastasis rows
    events = pd.DataFrame({"arm": ["A", "A"], "kind": ["ablation", "metastasis"], "day": [0.0, 15.0],
                           "lesion": ["index", "met"]})
    assert responses(R.recist(ts, [7, 14, 21], new_lesion_days=events)) == ["PR", "PR", "PD"]


def test_recist_all_targets_at_0_mm_is_cr_unless_a_non_target_is_visible():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 5, 14: 0}), rows("A", 0, "distant", {0: 10, 7: 4, 14: 0}),
               rows("A", 1, "index", {0: 20, 7: 5, 14: 0}), rows("A", 1, "distant", {0: 10, 7: 4, 14: 3}))
    rec = R.recist(ts, [7, 14])
    assert responses(rec, replicate=0) == ["PR", "CR"]
    assert responses(rec, replicate=1) == ["PR", "PR"]  # the distant lesion (3 mm) is a target here
    only_index = R.recist(ts, [7, 14], target_lesions="index")
    assert responses(only_index, replicate=0) == ["PR", "CR"]
    assert responses(only_index, replicate=1) == ["PR", "PR"]  # target CR, non-target still visible: PR
    assert one(only_index, replicate=1, day=14.0)["sum_diameters_mm"] == 0.0


def test_recist_pd_is_measured_from_the_nadir_after_a_response():
    ts = frame(rows("A", 0, "index", {0: 50, 7: 30, 14: 37, 21: 40}))
    rec = R.recist(ts, [7, 14, 21])
    assert list(rec["response"]) == ["PR", "PD", "PD"]
    d14 = one(rec, day=14.0)
    assert d14["nadir_sum_mm"] == 30.0 and d14["change_from_nadir_pct"] == pytest.approx(100 * 7 / 30)
    assert d14["change_from_baseline_pct"] == pytest.approx(-26.0)  # still below baseline, yet PD
    assert list(rec["nadir_sum_mm"]) == [50.0, 30.0, 30.0]


def test_recist_regrowth_after_cr_needs_5_mm():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 0, 14: 4, 21: 6}))
    rec = R.recist(ts, [7, 14, 21])
    assert list(rec["response"]) == ["CR", "PR", "PD"]  # nadir 0 mm: +4 mm is not PD, +6 mm is
    assert math.isnan(one(rec, day=14.0)["change_from_nadir_pct"])


def test_recist_keeps_assessments_after_baseline_and_within_the_run():
    ts = frame(rows("A", 0, "index", {-3: 20, 0: 20, 7: 18, 14: 18}), systemic("A", 0, [-3, 0, 7, 14]))
    rec = R.recist(ts, [0, 7, 14, 100])
    assert list(rec["day"]) == [7.0, 14.0]
    assert list(R.recist(ts, [7], baseline_day=-3)["baseline_sum_mm"]) == [20.0]


def test_recist_on_a_sweep_and_without_assessments():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 26, 14: 18}))
    sweep = pd.concat([ts.assign(point=0), ts.assign(point=1, longest_diameter_mm=20.0)])
    rec = R.recist(sweep, [7, 14], by=("point", "arm", "replicate"))
    assert responses(rec, point=0) == ["PD", "SD"] and responses(rec, point=1) == ["SD", "SD"]
    irec = R.irecist(sweep, [7, 14], by=("point", "arm", "replicate"))
    assert responses(irec, point=0) == ["iUPD", "iSD"]
    assert list(irec["pseudo_progression"]) == [True, True, False, False]
    assert R.recist(ts, []).empty and R.irecist(ts, []).empty


def test_best_overall_response():
    rec = pd.DataFrame({
        "arm": "A", "replicate": [0, 0, 0, 1, 1, 2, 2, 3, 3],
        "day": [7, 14, 21, 7, 14, 7, 14, 7, 14],
        "response": ["SD", "PR", "PD", "PD", "PR", "SD", "CR", "iUPD", "iSD"],
    })
    bor = R.best_overall_response(rec)
    assert list(bor["best_response"]) == ["PR", "PD", "CR", "iSD"]  # PD first stays PD; iUPD first does not
    assert list(bor["best_response_day"]) == [14, 7, 14, 14]
    assert list(bor["n_assessments"]) == [3, 2, 2, 2]


# ---- iRECIST -------------------------------------------------------------------------------------
def test_irecist_pseudo_progression():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 26, 14: 18, 21: 12}))  # +30 %/+6 mm, then shrinks
    rec = R.recist(ts, [7, 14, 21])
    assert list(rec["response"]) == ["PD", "SD", "PR"]
    irec = R.irecist(ts, [7, 14, 21])
    assert list(irec["response"]) == ["iUPD", "iSD", "iPR"]
    assert list(irec["recist_response"]) == ["PD", "SD", "PR"]
    assert irec["pseudo_progression"].all()
    assert list(R.best_overall_response(rec)["best_response"]) == ["PD"]
    assert list(R.best_overall_response(irec)["best_response"]) == ["iPR"]


def test_irecist_confirmed_progression():
    ts = frame(
        rows("A", 0, "index", {0: 20, 7: 26, 14: 31, 21: 10}),  # +5 mm over the iUPD sum: iCPD, and it stays
        rows("A", 1, "index", {0: 20, 7: 26, 14: 25}),  # smaller than at iUPD but still PD vs the nadir: iCPD
        rows("A", 2, "index", {0: 20, 7: 18, 14: 26}),  # iUPD at the last assessment stays unconfirmed
    )
    irec = R.irecist(ts, [7, 14, 21])
    assert responses(irec, replicate=0) == ["iUPD", "iCPD", "iCPD"]
    assert responses(irec, replicate=1) == ["iUPD", "iCPD"]
    assert responses(irec, replicate=2) == ["SD", "iUPD"]
    assert not irec["pseudo_progression"].any()


def test_irecist_new_lesions_reset_after_pseudo_progression():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 16, 14: 14, 21: 12, 28: 10}),
               rows("A", 0, "met", {5: 3, 14: 4, 21: 4, 28: 4}),  # appears, then grows by 1 mm only
               rows("A", 0, "met2", {20: 1, 28: 2}))  # a further new lesion
    irec = R.irecist(ts, [7, 14, 21, 28])
    assert list(irec["recist_response"]) == ["PD"] * 4
    assert list(irec["response"]) == ["iUPD", "iPR", "iUPD", "iPR"]
    assert irec["pseudo_progression"].all()


# ---- abscopal response ---------------------------------------------------------------------------
def abscopal_ts():
    return frame(
        rows("cryo", 0, "index", {0: 20, 28: 0}), rows("cryo", 0, "distant", {0: 20, 28: 14}),  # -30 %: PR
        rows("cryo", 1, "index", {0: 20, 28: 0}), rows("cryo", 1, "distant", {0: 20, 28: 14.02}),  # SD
        rows("cryo", 2, "index", {0: 20, 28: 0}), rows("cryo", 2, "distant", {0: 20, 28: 0}),  # CR
        rows("cryo", 2, "met", {10: 2, 28: 0}),  # seeded after baseline: not assessed
        rows("ctrl", 0, "index", {0: 20, 28: 26}), rows("ctrl", 0, "distant", {0: 20, 28: 26}),  # PD
    )


def test_abscopal_response_per_untreated_lesion():
    ab = R.abscopal_response(abscopal_ts(), criteria="recist")
    distant = ab[ab["lesion"] == "distant"]
    assert list(distant["response"]) == ["PR", "SD", "CR", "PD"]  # groups in their order in the time series
    assert list(distant["responder"]) == [True, False, True, False]
    assert one(ab, arm="cryo", replicate=0, lesion="distant")["longest_diameter_change_pct"] == pytest.approx(-30.0)
    assert set(ab["lesion"]) == {"distant", "any"}  # the index is treated, the metastasis is new
    anyr = ab[ab["lesion"] == "any"]
    assert list(anyr["responder"]) == [True, False, True, False]
    assert one(ab, arm="cryo", replicate=2, lesion="any")["response"] == "CR"


def test_abscopal_response_treated_lesion_from_the_events():
    events = pd.DataFrame({"arm": ["cryo"], "kind": ["ablation"], "day": [0.0], "lesion": ["index"]})
    ab = R.abscopal_response(abscopal_ts(), treated_lesion=events)
    assert set(ab.loc[ab["arm"] == "cryo", "lesion"]) == {"distant", "any"}
    assert set(ab.loc[ab["arm"] == "ctrl", "lesion"]) == {"index", "distant", "any"}  # no ablation: untreated
    # the simulator's event log names the lesion in `target`
    ab = R.abscopal_response(abscopal_ts(), treated_lesion=events.rename(columns={"lesion": "target"}))
    assert set(ab.loc[ab["arm"] == "cryo", "lesion"]) == {"distant", "any"}


def resected_ts():
    """The index lesion of arm "surgery" is resected on day 7 (-100 %); the distant lesion barely changes."""
    return frame(
        rows("surgery", 0, "index", {0: 20, 7: 20, 14: 0, 21: 0}),
        rows("surgery", 0, "distant", {0: 10, 7: 10, 14: 10.5, 21: 11}),
        rows("ctrl", 0, "index", {0: 20, 7: 20, 14: 21, 21: 22}),
        rows("ctrl", 0, "distant", {0: 10, 7: 10, 14: 10.5, 21: 11}),
        systemic("surgery", 0, [0, 7, 14, 21]), systemic("ctrl", 0, [0, 7, 14, 21]),
    )


def resected_events():
    return pd.DataFrame([
        {"arm": "surgery", "replicate": 0, "kind": "resection", "day": 7.0, "target": "index"},
        {"arm": "surgery", "replicate": 0, "kind": "dose", "day": 0.0, "target": "anti_pd1"},
    ])


def test_lesion_roles_from_every_local_event():
    events = pd.DataFrame([
        {"arm": "a", "kind": "ablation", "day": 0.0, "target": "index", "modality": "radiotherapy"},
        {"arm": "a", "kind": "ablation", "day": 1.0, "target": "index", "modality": "radiotherapy"},
        {"arm": "a", "kind": "resection", "day": 30.0, "target": "index"},
        {"arm": "a", "kind": "adjuvant", "day": 0.0, "target": "second"},
        {"arm": "a", "kind": "dose", "day": 0.0, "target": "anti_pd1"},
        {"arm": "a", "kind": "metastasis", "day": 9.0, "target": "lung"},
        {"arm": "b", "kind": "ablation", "day": 0.0, "target": "index", "modality": "cryo"},
        {"arm": "c", "kind": "ablation", "day": 0.0, "target": "index", "modality": "heat"},
    ])
    roles = R.lesion_roles(events, by="arm")
    assert list(roles.columns) == ["arm", "lesion", "local_treatments", "role"]
    got = {(a, lesion): (t, r) for a, lesion, t, r in roles.itertuples(index=False)}
    assert got == {("a", "index"): ("irradiated+resected", "irradiated"), ("a", "second"): ("injected", "injected"),
                   ("b", "index"): ("ablated", "ablated"), ("c", "index"): ("ablated", "ablated")}
    assert R.lesion_roles(pd.DataFrame()).empty


def test_a_resected_lesion_is_no_abscopal_responder():
    """Issue 8: a resected lesion at -100 % was read as an untreated lesion in complete response."""
    ts, events = resected_ts(), resected_events()
    ab = R.abscopal_response(ts, treated_lesion=events, day=21)
    assert set(ab.loc[ab["arm"] == "surgery", "lesion"]) == {"distant", "any"}
    assert not one(ab, arm="surgery", lesion="any")["responder"]
    rate = R.abscopal_response_rate(ts, treated_lesion=events, day=21)
    assert one(rate, arm="surgery", lesion="any")["responders"] == 0
    tte = R.time_to_event(ts, [7, 14, 21], treated_lesion=events, events=events)
    dr = tte[tte["endpoint"] == "distant_response"]
    assert not dr["event"].any()


def test_summarise_run_roles_and_abscopal_responders():
    ts = resected_ts()
    run = ts[ts["arm"] == "surgery"].drop(columns=["arm", "replicate"]).assign(primed_cd8_total=5.0)
    s = R.summarise_run(run, readout_day=21, events=resected_events().to_dict("records")).set_index("lesion")
    assert (s.loc["index", "role"], s.loc["index", "local_treatments"]) == ("resected", "resected")
    assert (s.loc["distant", "role"], s.loc["distant", "local_treatments"]) == ("untreated", "")
    assert s.loc["index", "diameter_change_pct"] == -100.0 and s.loc["index", "response"] == "CR"
    assert pd.isna(s.loc["index", "abscopal_responder"])  # treated locally: not assessed
    assert s.loc["distant", "abscopal_responder"] == False  # noqa: E712 (a nullable boolean)
    assert s.loc["distant", "response"] == "SD" and s.loc["distant", "primed_cd8_total"] == 5.0
    assert (s["readout_status"] == "measured").all() and (s["stop_reason"] == "end_day").all()


def test_summarise_run_baseline_of_a_late_lesion_and_effector_peak_up_to_the_readout():
    ts = frame(rows("A", 0, "index", {0: 20, 5: 20, 10: 20, 20: 20}, effector_t_cells={0: 0, 5: 10, 10: 50, 20: 900}),
               rows("A", 0, "met", {5: 2, 10: 4, 20: 8}, effector_t_cells={5: 0, 10: 3, 20: 0}),
               rows("A", 0, "late", {20: 3}, effector_t_cells={20: 0}),  # seeded after the readout day
               systemic("A", 0, [0, 5, 10, 20])).assign(primed_cd8_total=1.0)
    s = R.summarise_run(ts, readout_day=10).set_index("lesion")
    bc = R.burden_change(ts, day=10).set_index("lesion")
    imm = R.immune_readouts(ts, day=10).set_index("lesion")
    assert s.loc["met", "baseline_day"] == 5.0 and s.loc["met", "tumor_cells_baseline"] == 2000.0
    for lesion in ("index", "met"):
        assert s.loc[lesion, "burden_change_pct"] == bc.loc[lesion, "tumor_cells_change_pct"]
        assert s.loc[lesion, "diameter_change_pct"] == bc.loc[lesion, "longest_diameter_change_pct"]
        assert s.loc[lesion, "effector_t_cells_peak"] == imm.loc[lesion, "effector_t_cells_peak"]
    assert s.loc["index", "effector_t_cells_peak"] == 50.0  # not the 900 of day 20, after the readout
    assert pd.isna(s.loc["met", "abscopal_responder"])  # seeded after baseline: not an abscopal lesion
    late = s.loc["late"]
    assert late["readout_status"] == "seeded_after_readout" and late["role"] == "untreated"
    assert math.isnan(late["tumor_cells_readout"]) and math.isnan(late["burden_change_pct"])
    assert late["response"] == "NE" and pd.isna(late["abscopal_responder"])


def test_lesion_response_thresholds():
    got = R.lesion_response([10, 10, 10, 10, 10, 30, 0, 10], [0, 7, 7.01, 12, 15, 36, 3, np.nan])
    assert list(got) == ["CR", "PR", "SD", "SD", "PD", "PD", "NE", "NE"]


def test_abscopal_response_rate_from_a_time_series():
    rate = R.abscopal_response_rate(abscopal_ts(), criteria="recist")
    cryo = one(rate, arm="cryo", lesion="any")
    assert (cryo["n"], cryo["responders"]) == (3, 2) and cryo["rate"] == pytest.approx(2 / 3)
    assert one(rate, arm="ctrl", lesion="any")["responders"] == 0
    assert cryo["ci_low"] < 2 / 3 < cryo["ci_high"]


def test_wilson_and_clopper_pearson_intervals_for_5_of_19():
    resp = pd.DataFrame({"arm": "A", "replicate": range(19), "lesion": "distant",
                         "responder": [True] * 5 + [False] * 14})
    n, k, z = 19, 5, stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    wilson = one(R.abscopal_response_rate(resp), lesion="distant")
    assert (wilson["n"], wilson["responders"]) == (19, 5) and wilson["rate"] == pytest.approx(5 / 19)
    assert wilson["ci_low"] == pytest.approx(centre - half) and wilson["ci_high"] == pytest.approx(centre + half)
    assert (wilson["ci_low"], wilson["ci_high"]) == pytest.approx((0.118064, 0.487916), abs=1e-6)
    exact = one(R.abscopal_response_rate(resp, method="clopper-pearson"), lesion="distant")
    assert exact["ci_low"] == pytest.approx(stats.beta.ppf(0.025, k, n - k + 1))
    assert exact["ci_high"] == pytest.approx(stats.beta.ppf(0.975, k + 1, n - k))
    assert (exact["ci_low"], exact["ci_high"]) == pytest.approx((0.091466, 0.512029), abs=1e-6)
    assert exact["method"] == "exact"
    narrow = one(R.abscopal_response_rate(resp, confidence=0.8), lesion="distant")
    assert wilson["ci_low"] < narrow["ci_low"] < narrow["ci_high"] < wilson["ci_high"]


# ---- time to event -------------------------------------------------------------------------------
def tte_ts():
    days = [0, 7, 10, 14, 21]
    return frame(
        rows("A", 0, "index", dict(zip(days, [20, 26, 24, 18, 16]))),  # PD at 7 (pseudo-progression)
        rows("A", 0, "distant", dict(zip(days, [10] * 5))),
        rows("A", 1, "index", dict(zip(days, [20] * 5)), dict(zip(days, [1e4, 2e4, 6e4, 6e4, 6e4]))),  # burden
        rows("A", 1, "distant", dict(zip(days, [10, 10, 10, 5, 5]))),  # responds on day 14, after death
        rows("A", 2, "index", dict(zip(days, [20] * 5))),
        rows("A", 2, "distant", dict(zip(days, [10, 10, 10, 6, 6]))),  # responds on day 14
        rows("A", 3, "index", {0: 20, 7: 20, 10: 20}), rows("A", 3, "distant", {0: 10, 7: 10, 10: 10}),
    )


def test_time_to_event_pfs_and_distant_response():
    tte = R.time_to_event(tte_ts(), [7, 14, 21], burden_limit_cells=5e4, criteria="recist")
    assert list(tte.columns) == ["arm", "replicate", "endpoint", "time_day", "event", "cause"]
    pfs = tte[tte["endpoint"] == "pfs"]
    assert list(pfs["time_day"]) == [7.0, 10.0, 21.0, 10.0]
    assert list(pfs["event"]) == [True, True, False, False]
    assert list(pfs["cause"]) == ["progression", "burden", None, None]
    dr = tte[tte["endpoint"] == "distant_response"]
    assert list(dr["time_day"]) == [21.0, 10.0, 14.0, 10.0]  # censored at the last day, or at death
    assert list(dr["event"]) == [False, False, True, False]
    # by iRECIST the pseudo-progression of replicate 0 is no event
    ipfs = R.time_to_event(tte_ts(), [7, 14, 21], burden_limit_cells=5e4, criteria="irecist")
    assert list(ipfs.loc[ipfs["endpoint"] == "pfs", "event"]) == [False, True, False, False]
    # times are counted from the baseline day
    ts = frame(rows("A", 0, "index", {-5: 20, 0: 20, 7: 20}), rows("A", 0, "distant", {-5: 10, 0: 10, 7: 10}))
    shifted = R.time_to_event(ts, [7], baseline_day=-5.0, criteria="recist")
    assert list(shifted["time_day"]) == [12.0, 12.0] and not shifted["event"].any()


def test_time_to_event_irecist_dates_progression_at_the_confirmed_iupd():
    ts = frame(rows("A", 0, "index", {0: 20, 7: 26, 14: 31}))
    tte = R.time_to_event(ts, [7, 14], criteria="irecist")
    assert one(tte, endpoint="pfs")["time_day"] == 7.0 and one(tte, endpoint="pfs")["event"]


def two_arm_tte():
    return pd.DataFrame({"arm": list("AAAAABBBBB"), "replicate": list(range(10)),
                         "time_day": [1, 2, 3, 4, 5, 10, 10, 10, 10, 10],
                         "event": [True] * 5 + [False] * 5})


def test_kaplan_meier_clear_cut_two_arms():
    km = R.kaplan_meier(two_arm_tte())
    a = km[km["arm"] == "A"]
    assert list(a["time_day"]) == [0, 1, 2, 3, 4, 5]
    assert list(a["at_risk"]) == [5, 5, 4, 3, 2, 1]
    assert np.allclose(a["survival"], [1, 0.8, 0.6, 0.4, 0.2, 0.0])
    # exponential Greenwood band at day 1: S = 0.8, Greenwood sum = 1 / (5 x 4)
    z, v = stats.norm.ppf(0.975), math.log(0.8)
    bounds = sorted(math.exp(-math.exp(math.log(-v) + s * z * math.sqrt(0.05) / v)) for s in (1, -1))
    day1 = one(a, time_day=1)
    assert (day1["ci_low"], day1["ci_high"]) == pytest.approx(bounds)
    assert (day1["ci_low"], day1["ci_high"]) == pytest.approx((0.203809, 0.969180), abs=1e-6)  # lifelines
    b = km[km["arm"] == "B"]
    assert list(b["survival"]) == [1.0, 1.0] and list(b["censored"]) == [0, 5] and list(b["at_risk"]) == [5, 5]


def test_kaplan_meier_with_censoring_matches_lifelines():
    tte = pd.DataFrame({"arm": "C", "time_day": [2, 4, 6, 8, 12], "event": [True, False, True, True, False]})
    km = R.kaplan_meier(tte)
    assert np.allclose(km["survival"], [1, 0.8, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3 * 0.5, 0.8 * 2 / 3 * 0.5])
    assert np.allclose(km["ci_low"], [1, 0.203809, 0.203809, 0.068332, 0.009677, 0.009677], atol=1e-6)
    assert np.allclose(km["ci_high"], [1, 0.969180, 0.969180, 0.863071, 0.686136, 0.686136], atol=1e-6)


def test_logrank_clear_cut_two_arms_by_hand():
    lr = R.logrank(two_arm_tte())
    assert list(lr["comparison"]) == ["all", "A vs B"]
    # events of A on days 1..5, one at a time; B (5 patients) censored on day 10
    n_a = np.array([5, 4, 3, 2, 1])
    n = n_a + 5
    expected = (n_a / n).sum()
    var = (n_a * 5 / n**2).sum()
    chi2 = (5 - expected) ** 2 / var
    row = one(lr, comparison="A vs B")
    assert row["test_statistic"] == pytest.approx(chi2) and row["degrees_of_freedom"] == 1
    assert row["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1))
    assert row["p_value"] == pytest.approx(0.001841935, rel=1e-6)  # lifelines.statistics.logrank_test
    assert one(lr, comparison="all")["p_value"] == pytest.approx(row["p_value"])


def test_logrank_three_arms_matches_lifelines_and_runs_per_endpoint():
    tte = pd.concat([two_arm_tte(), pd.DataFrame({"arm": "C", "replicate": range(10, 15),
                                                  "time_day": [2, 4, 6, 8, 12],
                                                  "event": [True, False, True, True, False]})])
    lr = R.logrank(tte)
    overall = one(lr, comparison="all")
    assert overall["degrees_of_freedom"] == 2
    assert overall["test_statistic"] == pytest.approx(14.637557565629693)  # lifelines multivariate_logrank_test
    assert overall["p_value"] == pytest.approx(0.0006629713490499237)
    assert set(lr["comparison"]) == {"all", "A vs B", "A vs C", "B vs C"}
    both = pd.concat([tte.assign(endpoint="pfs"), tte.assign(endpoint="os")])
    per = R.logrank(both)
    assert set(per["endpoint"]) == {"pfs", "os"} and len(per) == 8
    km = R.kaplan_meier(both)
    assert set(km["endpoint"]) == {"pfs", "os"}


def test_logrank_within_sweep_points():
    tte = pd.concat([two_arm_tte().assign(point=0), two_arm_tte().assign(point=1)])
    lr = R.logrank(tte, within="point")
    assert list(lr["point"]) == [0, 0, 1, 1]
    assert lr["p_value"].iloc[0] == pytest.approx(lr["p_value"].iloc[2])


# ---- immune readouts -----------------------------------------------------------------------------
def test_immune_readouts():
    days = [0, 5, 7, 10]
    ts = frame(rows("A", 0, "distant", dict.fromkeys(days, 10.0),
                    effector_t_cells=dict(zip(days, [10.0, 50.0, 50.0, 20.0])),
                    tregs=dict(zip(days, [5.0, 5.0, 5.0, 0.0])),
                    pd_l1_mean=dict(zip(days, [0.1, 0.2, 0.4, 0.3]))),
               systemic("A", 0, days))
    last = R.immune_readouts(ts)
    row = one(last, lesion="distant")
    assert (row["effector_t_cells_peak"], row["effector_peak_day"]) == (50.0, 5.0)  # first day of the peak
    assert row["day"] == 10.0 and math.isnan(row["cd8_treg_ratio"])  # no Tregs: NaN, not inf
    assert row["pd_l1_mean"] == 0.3
    early = one(R.immune_readouts(ts, day=6), lesion="distant")
    assert early["day"] == 5.0 and early["cd8_treg_ratio"] == 10.0 and early["pd_l1_mean"] == 0.2
    assert one(R.immune_readouts(ts, day=2), lesion="distant")["effector_t_cells_peak"] == 10.0
