"""Numerical convergence of the default experiment: time step and field resolution, paired by individual.

Runs ``experiments/cryo_checkpoint.toml`` (to day 30) for N individuals at every setting
(``time_step_h`` x ``release.field_resolution_um``) and prints, per arm, the distant lesion's change in live
tumour cells from day 0 to day 30 (mean over individuals), its paired shift against the finest setting (or ``--reference``)
with a 95 % t interval, that shift as a share of the cryo-vs-control effect at that setting, and the mean peak of
active effectors in the distant lesion. The individuals are the same at every setting (same seed), so the
shifts are paired. A second table gives the variance over individuals of paired differences between arms
(common random numbers: the smaller, the fewer individuals an arm comparison needs).

    .venv/bin/python experiments/convergence.py [--replicates 8] [--settings 6:160 3:160 1.5:160 6:80 1.5:80]
                                                [--workers 2] [--arms control cryo cryo_anti_pd1] [--cache DIR]

``--cache DIR`` keeps each setting's summary (CSV) and reuses it on the next call: delete it after a code change.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import abscopal

CONFIG = Path(__file__).with_name("cryo_checkpoint.toml")
PAIRS = (("cryo", "control"), ("cryo_anti_pd1", "cryo"), ("cryo_anti_pd1", "anti_pd1"), ("cryo_anti_ctla4", "cryo"))


def run_setting(step_h: float, resolution_um: float, replicates: int, workers: int, end_day: float,
                arms: list[str] | None) -> pd.DataFrame:
    """Distant-lesion summary (one row per arm x individual) of the default experiment at one setting."""
    sets = [f"experiment.time_step_h={step_h}", f"release.field_resolution_um={resolution_um}",
            f"experiment.end_day={end_day}", f"experiment.readout_day={end_day}"]
    exp = abscopal.load_experiment(CONFIG, sets)
    if arms:
        exp = dataclasses.replace(exp, arms={arm: exp.arms[arm] for arm in arms})
    res = abscopal.run(exp, replicates=replicates, workers=workers)
    s = res.summary
    s = s[s["lesion"] == "distant"]
    return s[["arm", "replicate", "burden_change_pct", "effector_t_cells_peak"]].reset_index(drop=True)


def paired_ci(d: np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences and its 95 % t interval."""
    m = float(d.mean())
    if len(d) < 2 or d.std(ddof=1) == 0:
        return m, m, m
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return m, m - half, m + half


def convergence_table(runs: dict[tuple[float, float], pd.DataFrame], reference: tuple[float, float]) -> pd.DataFrame:
    """Per arm and setting: mean change, paired shift vs the reference setting (95 % CI), % of the cryo effect."""
    wide = {k: v.pivot(index="replicate", columns="arm", values="burden_change_pct") for k, v in runs.items()}
    peaks = {k: v.pivot(index="replicate", columns="arm", values="effector_t_cells_peak") for k, v in runs.items()}
    ref = wide[reference]
    effect = float((ref["cryo"] - ref["control"]).mean())  # cryo vs control at the reference, paired
    rows = []
    for arm in ref.columns:
        for k in sorted(runs, reverse=True):
            mean, lo, hi = paired_ci((wide[k][arm] - ref[arm]).to_numpy())
            rows.append({"arm": arm, "step_h": k[0], "field_um": k[1], "change_pct": wide[k][arm].mean(),
                         "shift": mean, "ci_low": lo, "ci_high": hi, "pct_of_effect": 100 * mean / abs(effect),
                         "peak_effectors": peaks[k][arm].mean()})
    return pd.DataFrame(rows).set_index(["arm", "step_h", "field_um"]), effect


def crn_table(runs: dict[tuple[float, float], pd.DataFrame]) -> pd.DataFrame:
    """Variance over individuals of paired differences between arms (distant change, points²), per setting."""
    rows = []
    for k, v in sorted(runs.items(), reverse=True):
        w = v.pivot(index="replicate", columns="arm", values="burden_change_pct")
        for a, b in PAIRS:
            if a not in w or b not in w:
                continue
            d = w[a] - w[b]
            rows.append({"step_h": k[0], "field_um": k[1], "pair": f"{a} - {b}", "mean_diff": d.mean(),
                         "var_paired": d.var(ddof=1), "var_unpaired": w[a].var(ddof=1) + w[b].var(ddof=1)})
    return pd.DataFrame(rows).set_index(["step_h", "field_um", "pair"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--settings", nargs="+", default=["6:160", "3:160", "1.5:160", "6:80", "1.5:80"],
                    help="time_step_h:field_resolution_um")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--end-day", type=float, default=30)
    ap.add_argument("--arms", nargs="+", help="only these arms (control and cryo are needed for the effect)")
    ap.add_argument("--reference", help="step:field the shifts are measured from (default: the finest of both)")
    ap.add_argument("--cache", type=Path, help="folder keeping each setting's summary between calls")
    args = ap.parse_args()
    if args.arms and not {"control", "cryo"} <= set(args.arms):
        raise SystemExit("convergence: --arms must include control and cryo (the effect the shifts are measured by)")
    runs = {}
    for text in args.settings:
        step_h, res_um = (float(x) for x in text.split(":"))
        name = f"step{step_h:g}h_field{res_um:g}um_n{args.replicates}{'_' + '_'.join(args.arms) if args.arms else ''}.csv"
        cached = args.cache / name if args.cache else None
        if cached and cached.exists():
            runs[step_h, res_um] = pd.read_csv(cached)
            continue
        t0 = time.perf_counter()
        runs[step_h, res_um] = run_setting(step_h, res_um, args.replicates, args.workers, args.end_day, args.arms)
        print(f"step {step_h:g} h, field {res_um:g} µm: {time.perf_counter() - t0:.0f} s", flush=True)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            runs[step_h, res_um].to_csv(cached, index=False)
    ref = tuple(float(x) for x in args.reference.split(":")) if args.reference else (min(k[0] for k in runs),
                                                                                    min(k[1] for k in runs))
    if ref not in runs:
        raise SystemExit(f"convergence: reference {ref[0]:g}:{ref[1]:g} is not among --settings")
    table, effect = convergence_table(runs, ref)
    pd.set_option("display.width", 160)
    print(f"\nDistant lesion, change in live tumour cells day 0 -> {args.end_day:g} (%), {args.replicates} individuals;"
          f" shift: paired vs {ref[0]:g} h, {ref[1]:g} µm (95 % CI); cryo-vs-control effect there {effect:.1f} points")
    print(table.round(2).to_string())
    print("\nCommon random numbers: variance over individuals of paired arm differences (points²)")
    print(crn_table(runs).round(2).to_string())


if __name__ == "__main__":
    main()
