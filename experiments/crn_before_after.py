"""Common random numbers before and after a change of the random streams, on the same individuals.

Runs the default experiment (``experiments/cryo_checkpoint.toml`` of each source folder, to day 30) for N
individuals with the abscopal of two source folders (say, two git worktrees of the commits before and after a
change), one after the other, each in its own process that imports abscopal from that folder. It prints, per
pair of arms (each arm minus control, cryo + anti-PD-1 minus cryo), the variance over individuals of the paired
difference of the distant lesion's change in live tumour cells from day 0 to day 30 (points²), before and
after, and the ratio after / before with two 95 % intervals: an F-test interval (which treats the two variances
as independent; they are not, the individuals are the same, so it is too wide) and a paired bootstrap
(individuals resampled together for both sources).

    .venv/bin/python experiments/crn_before_after.py BEFORE_DIR AFTER_DIR [--replicates 16] [--end-day 30]
                                                     [--workers 1] [--cache DIR]

``--cache DIR`` keeps each source's distant-lesion summary (CSV, named by the source's git commit or folder)
and its run files, and reuses the summary on the next call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

CONTROL, PAIRS_EXTRA = "control", (("cryo_anti_pd1", "cryo"),)
COLUMNS = ["arm", "replicate", "burden_change_pct"]


def source_label(source: Path) -> str:
    """The source folder's git commit (short), else its name."""
    out = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else source.name


def run_source(source: Path, replicates: int, end_day: float, workers: int, csv: Path) -> pd.DataFrame:
    """The distant lesion's summary of the default experiment, run by the abscopal of ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(source), "--replicates", str(replicates),
           "--end-day", str(end_day), "--workers", str(workers), "--csv", str(csv)]
    subprocess.run(cmd, env=env, cwd=source, check=True)
    return pd.read_csv(csv)


def child(source: Path, replicates: int, end_day: float, workers: int, csv: Path) -> None:
    """In the child process: check that abscopal comes from ``source``, run, write the distant rows."""
    import abscopal

    where = Path(abscopal.__file__).resolve()
    if source.resolve() not in where.parents:
        sys.exit(f"crn_before_after: abscopal imported from {where}, expected it under {source}")
    print(f"abscopal from {where.parent}", file=sys.stderr)
    sets = [f"experiment.end_day={end_day}", f"experiment.readout_day={end_day}"]
    exp = abscopal.load_experiment(source / "experiments" / "cryo_checkpoint.toml", sets)
    runs = csv.with_name(csv.stem + "-runs")  # the run files, beside the CSV (an older abscopal has no resume)
    s = abscopal.run(exp, replicates=replicates, workers=workers, out=runs).summary
    s[s["lesion"] == "distant"][COLUMNS].to_csv(csv, index=False)


def pairs(arms) -> list[tuple[str, str]]:
    """Each arm minus control, then the extra pairs the experiment has."""
    out = [(a, CONTROL) for a in arms if a != CONTROL]
    return out + [(a, b) for a, b in PAIRS_EXTRA if a in arms and b in arms]


def differences(summary: pd.DataFrame, arm: str, other: str) -> np.ndarray:
    """Paired differences arm - other over individuals (rows by replicate)."""
    w = summary.pivot(index="replicate", columns="arm", values="burden_change_pct").sort_index()
    return (w[arm] - w[other]).to_numpy()


def ratio_intervals(before: np.ndarray, after: np.ndarray, rng: np.random.Generator, draws: int = 10000):
    """Variance ratio after / before with its F-test 95 % interval and paired bootstrap 95 % interval."""
    idx = rng.integers(0, len(before), size=(draws, len(before)))
    with np.errstate(divide="ignore", invalid="ignore"):  # identical arms (before day 0): 0 / 0
        ratio = after.var(ddof=1) / before.var(ddof=1)
        boot = after[idx].var(axis=1, ddof=1) / before[idx].var(axis=1, ddof=1)
    dfa, dfb = len(after) - 1, len(before) - 1
    f_lo, f_hi = ratio / stats.f.ppf(0.975, dfa, dfb), ratio / stats.f.ppf(0.025, dfa, dfb)
    boot = boot[np.isfinite(boot)]
    b_lo, b_hi = np.percentile(boot, [2.5, 97.5]) if boot.size else (np.nan, np.nan)
    return ratio, f_lo, f_hi, b_lo, b_hi


def crn_table(before: pd.DataFrame, after: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Per pair of arms: variance of the paired difference before and after, the ratio and its intervals."""
    rng = np.random.default_rng(seed)
    rows = []
    for arm, other in pairs(list(dict.fromkeys(before["arm"]))):
        db, da = differences(before, arm, other), differences(after, arm, other)
        ratio, f_lo, f_hi, b_lo, b_hi = ratio_intervals(db, da, rng)
        rows.append({"pair": f"{arm} - {other}", "var_before": db.var(ddof=1), "var_after": da.var(ddof=1),
                     "ratio": ratio, "F_low": f_lo, "F_high": f_hi, "boot_low": b_lo, "boot_high": b_hi})
    return pd.DataFrame(rows).set_index("pair")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, nargs="?")
    ap.add_argument("after", type=Path, nargs="?")
    ap.add_argument("--replicates", type=int, default=16)
    ap.add_argument("--end-day", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.replicates, args.end_day, args.workers, args.csv)
        return
    if args.before is None or args.after is None:
        ap.error("expected two source folders, BEFORE and AFTER")
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        frames = []
        for source in (args.before, args.after):
            csv = cache / f"{source_label(source)}_r{args.replicates}_d{args.end_day:g}.csv"
            frames.append(pd.read_csv(csv) if csv.exists() else
                          run_source(source.resolve(), args.replicates, args.end_day, args.workers, csv))
    print(f"variance over {args.replicates} individuals of the paired difference of the distant lesion's change "
          f"in live tumour cells, day 0 to {args.end_day:g} (points²); before {source_label(args.before)}, "
          f"after {source_label(args.after)}; ratio after / before with 95 % intervals (F-test, paired bootstrap):")
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:.3g}".format):
        print(crn_table(*frames))


if __name__ == "__main__":
    main()
