"""Speed benchmark: one default run, and Mesa's own Schelling example for comparison.

Prints tumour-cell updates per second, T-cell updates per second, wall seconds and peak memory of one
run of the default experiment's combination arm (two 7 mm lesions, about 1e5 cells each, to day 60
after ablation), and Mesa's Schelling example (100 x 100, one Mesa agent per cell, 20 steps from a
fresh model) in the same process. The machine may be shared, so the two are interleaved: each
repetition alternates the run's days with Schelling's steps, and the figures are medians over the
repetitions (the ratio is taken per repetition, so load affects both sides alike). The last line is
one JSON object with the figures.

    .venv/bin/python experiments/benchmark.py [--arm cryo_anti_pd1] [--end-day 60] [--repetitions 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: no BLAS threads (set before numpy loads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from abscopal.config import load_config, resolve  # noqa: E402
from abscopal.model import AbscopalModel  # noqa: E402
from abscopal.streams import replicate_seed  # noqa: E402

SCHELLING_STEPS = 20


def repetition(arm: str, end_day: float) -> dict:
    """One default run with one Schelling run (20 steps) spread over its days; each side timed alone."""
    from mesa.examples.basic.schelling.model import Schelling, SchellingScenario

    cfg = load_config(Path(__file__).with_name("cryo_checkpoint.toml"), [f"experiment.end_day={end_day}",
                                                                         f"experiment.readout_day={end_day}"])
    exp = resolve(cfg)
    settings, params = exp.settings, exp.arms[arm]
    days = int(round(settings["end_day"] - settings["start_day"]))
    t0, c0 = time.perf_counter(), time.process_time()
    model = AbscopalModel(params, settings, replicate_seed(settings["seed"], 0))
    run_wall, run_cpu = time.perf_counter() - t0, time.process_time() - c0
    schelling = Schelling(SchellingScenario(width=100, height=100, rng=42))
    schelling_wall = 0.0
    steps_done = 0
    for day in range(1, days + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        model.run_until(float(day))
        run_wall, run_cpu = run_wall + time.perf_counter() - t0, run_cpu + time.process_time() - c0
        while steps_done < SCHELLING_STEPS * day // days:
            t0 = time.perf_counter()
            schelling.step()
            schelling_wall += time.perf_counter() - t0
            steps_done += 1
    ts = pd.DataFrame(model.records)
    substeps = 24.0 / settings["time_step_h"]
    lesions = ts[ts["lesion"] != "systemic"]
    cell_updates = lesions["tumor_cells"].sum() * substeps
    t_updates = (lesions["effector_t_cells"] + lesions["exhausted_t_cells"]).sum() * substeps
    start = lesions[lesions["time_day"] == lesions["time_day"].min()]
    schelling_rate = len(schelling.agents) * SCHELLING_STEPS / schelling_wall
    return {
        "arm": arm,
        "days": float(days),
        "initial_cells_per_lesion": start.set_index("lesion")["tumor_cells"].to_dict(),
        "run_wall_s": run_wall,
        "run_cpu_s": run_cpu,
        "cell_updates_per_s": cell_updates / run_wall,
        "t_cell_updates_per_s": t_updates / run_wall,
        "mesa_schelling_agents": len(schelling.agents),
        "mesa_schelling_agent_steps_per_s": schelling_rate,
        "ratio": cell_updates / run_wall / schelling_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", default="cryo_anti_pd1")
    parser.add_argument("--end-day", type=float, default=60.0)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    reps = []
    for i in range(args.repetitions):
        r = repetition(args.arm, args.end_day)
        reps.append(r)
        print(f"repetition {i + 1}: run {r['run_wall_s']:.2f} s, {r['cell_updates_per_s']:.3g} tumour-cell updates/s; "
              f"Schelling {r['mesa_schelling_agent_steps_per_s']:.3g} agent-steps/s; ratio {r['ratio']:.0f}x")
    median = {k: statistics.median(r[k] for r in reps)
              for k in ("run_wall_s", "run_cpu_s", "cell_updates_per_s", "t_cell_updates_per_s", "mesa_schelling_agent_steps_per_s",
                        "ratio")}
    run = {**reps[0], **median}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"abscopal: one run of arm {run['arm']} over {run['days']:g} days took {run['run_wall_s']:.2f} s "
          f"({run['run_cpu_s']:.2f} s CPU; median of {len(reps)}): {run['cell_updates_per_s']:.3g} tumour-cell updates/s, "
          f"{run['t_cell_updates_per_s']:.3g} T-cell updates/s")
    print(f"mesa Schelling 100x100 ({run['mesa_schelling_agents']} agents): "
          f"{run['mesa_schelling_agent_steps_per_s']:.3g} agent-steps/s")
    print(f"ratio {run['ratio']:.0f}x (median of per-repetition ratios), peak memory {peak_mb:.0f} MB")
    out = {**run, "repetitions": len(reps), "ratios": [round(r["ratio"], 1) for r in reps],
           "peak_rss_mb": round(peak_mb)}
    for k in ("run_wall_s", "run_cpu_s", "ratio"):
        out[k] = round(out[k], 2)
    for k in ("cell_updates_per_s", "t_cell_updates_per_s", "mesa_schelling_agent_steps_per_s"):
        out[k] = round(out[k])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
