"""Sweep at scale: peak memory of the driver and time per run for a sweep of many very short runs.

    python experiments/sweep_scale.py --runs 10000 --workers 2        # peak driver memory, runs/min
    python experiments/sweep_scale.py --runs 400 --overhead           # + the sweep's overhead over the model alone
    python experiments/sweep_scale.py --runs 40 --overhead --days 28 --diameter-mm 4   # longer runs

By default each run is one day of two 0.5 mm lesions at a 24 h step (~0.1 s), so the sweep machinery, not the
model, dominates; ``--days`` and ``--diameter-mm`` make the runs longer (control arm only). The design is a
Latin hypercube over the kill probability and the distant lesion's blood-flow share, two replicates per
point: ``runs / 2`` points. The driver's peak memory is its own maximum resident
set size (``resource.getrusage(RUSAGE_SELF)``, the workers not included). The CPU time per run (driver and
workers, ``RUSAGE_CHILDREN`` once the pool has ended) depends less on a shared machine's load than runs/min. ``--overhead`` runs the same
sweep on the serial executor, timing each run's model (``runner.simulate``: the model and its time-series
frame) inside it, and prints the rest of the sweep's wall time relative to the models' (the same process
and moment, so a busy machine slows both alike). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import abscopal
from abscopal import runner
from abscopal.runner import simulate



def config(days: int = 1, diameter_mm: float = 0.5) -> dict:
    """Control arm only, days -1 .. days - 1; 24 h steps for one-day runs, the default step otherwise."""
    lesion = {"diameter_mm": diameter_mm, "domain_mm": 2 * diameter_mm}
    experiment = {"name": "scale", "start_day": -1, "end_day": days - 1, "readout_day": days - 1}
    if days == 1:
        experiment["time_step_h"] = 24
    return {"experiment": experiment, "lesions": {"index": lesion, "distant": lesion}, "arms": {"control": {}}}


def make_sweep(runs: int, days: int = 1, diameter_mm: float = 0.5) -> abscopal.Sweep:
    return abscopal.Sweep(config(days, diameter_mm), sample={"immune.kill_probability": (0.05, 0.5),
                                          "lesions.distant.blood_flow_share": (0.01, 0.3)},
                          method="lhs", n=max(runs // 2, 1), replicates=2, seed=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children (the pool's workers)."""
    return sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                           resource.RUSAGE_CHILDREN)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executor", default="process")
    ap.add_argument("--overhead", action="store_true", help="also time the runs without the sweep (serial)")
    ap.add_argument("--days", type=int, default=1, help="days simulated per run")
    ap.add_argument("--diameter-mm", type=float, default=0.5, help="diameter of both lesions")
    args = ap.parse_args()
    report = {"runs": args.runs, "workers": args.workers, "executor": args.executor, "days": args.days,
              "diameter_mm": args.diameter_mm}
    with tempfile.TemporaryDirectory(prefix="sweep-scale-") as tmp:
        t0 = time.perf_counter()
        sweep = make_sweep(args.runs, args.days, args.diameter_mm)
        report["design_s"] = round(time.perf_counter() - t0, 2)
        t0, c0 = time.perf_counter(), cpu_s()
        res = sweep.run(out=Path(tmp) / "sweep", executor=args.executor, workers=args.workers, progress=False)
        wall = time.perf_counter() - t0
        report.update(sweep_wall_s=round(wall, 1), runs_per_min=round(60 * args.runs / wall, 1),
                      cpu_s_per_run=round((cpu_s() - c0) / args.runs, 2),
                      ok=len(res.runs_ok), failed=len(res.failed), summary_rows=len(res.summary),
                      driver_peak_rss_mb=round(peak_rss_mb(), 1))
        print(f"sweep: {args.runs} runs in {wall:.1f} s ({report['runs_per_min']} runs/min, "
              f"{report['cpu_s_per_run']} CPU s a run), driver peak {report['driver_peak_rss_mb']} MB")
    if args.overhead:
        model_s = []

        def timed(*a, **k):
            t = time.perf_counter()
            out = simulate(*a, **k)
            model_s.append(time.perf_counter() - t)
            return out

        runner.simulate = timed  # runner.run_task looks it up at each call
        with tempfile.TemporaryDirectory(prefix="sweep-scale-") as tmp:
            t0 = time.perf_counter()
            sweep.run(out=Path(tmp) / "sweep", executor="serial", progress=False)
            swept = time.perf_counter() - t0
        runner.simulate = simulate
        alone = sum(model_s)
        report.update(serial_sweep_s=round(swept, 2), model_alone_s=round(alone, 2),
                      overhead_pct=round(100 * (swept - alone) / alone, 1),
                      overhead_ms_per_run=round(1000 * (swept - alone) / args.runs, 1))
        print(f"serial: sweep {swept:.1f} s, of which the model {alone:.1f} s: overhead {report['overhead_pct']} %")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
