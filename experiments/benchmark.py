"""Speed benchmark: one default run, and Mesa's own Schelling example for comparison.

Prints tumour-cell updates per second, T-cell updates per second, wall seconds and peak memory of one
run of the default experiment's combination arm (two 7 mm lesions, about 1e5 cells each, to day 60
after ablation), and Mesa's Schelling example (100 x 100, one Mesa agent per cell, 20 steps from a
fresh model) in the same process. The machine may be shared, so the two are interleaved: each
repetition alternates the run's days with Schelling's steps, and the figures are medians over the
repetitions (the ratio is taken per repetition, so load affects both sides alike). With the compiled
kernels on (numba installed, ``ABSCOPAL_NUMBA`` not 0), each repetition also times the same run on the numpy
code, in a fresh process with ``ABSCOPAL_NUMBA=0``, and the speed-up of the kernels is the median of the
per-repetition ratios. The kernels are loaded (compiled on first use, then from numba's disk cache) by a
one-day warm-up run before the timing. The last line is one JSON object with the figures.

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
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from abscopal import compiled  # noqa: E402
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


def numpy_repetition(arm: str, end_day: float) -> dict:
    """One repetition on the numpy code: this script in a fresh process with ABSCOPAL_NUMBA=0; its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--arm", arm, "--end-day", str(end_day), "--repetitions", "1"],
                          env={**os.environ, "ABSCOPAL_NUMBA": "0"}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def warm_up(arm: str) -> None:
    """Load the compiled kernels (compile them on first use) with a one-day run, outside the timing."""
    cfg = load_config(Path(__file__).with_name("cryo_checkpoint.toml"), ["experiment.start_day=0", "experiment.end_day=1",
                                                                         "experiment.readout_day=1"])
    exp = resolve(cfg)
    AbscopalModel(exp.arms[arm], exp.settings, replicate_seed(exp.settings["seed"], 0)).run(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", default="cryo_anti_pd1")
    parser.add_argument("--end-day", type=float, default=60.0)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    kernels = compiled.KERNELS is not None
    if kernels:
        warm_up(args.arm)
    reps = []
    for i in range(args.repetitions):
        r = repetition(args.arm, args.end_day)
        if kernels:
            numpy_run = numpy_repetition(args.arm, args.end_day)
            r |= {"numpy_run_wall_s": numpy_run["run_wall_s"], "numpy_run_cpu_s": numpy_run["run_cpu_s"],
                  "kernel_speedup": numpy_run["run_cpu_s"] / r["run_cpu_s"]}
        reps.append(r)
        print(f"repetition {i + 1}: run {r['run_wall_s']:.2f} s, {r['cell_updates_per_s']:.3g} tumour-cell updates/s; "
              f"Schelling {r['mesa_schelling_agent_steps_per_s']:.3g} agent-steps/s; ratio {r['ratio']:.0f}x"
              + (f"; numpy code {r['numpy_run_wall_s']:.2f} s" if kernels else ""))
    timed = ["run_wall_s", "run_cpu_s", "cell_updates_per_s", "t_cell_updates_per_s", "mesa_schelling_agent_steps_per_s",
             "ratio"] + (["numpy_run_wall_s", "numpy_run_cpu_s", "kernel_speedup"] if kernels else [])
    median = {k: statistics.median(r[k] for r in reps) for k in timed}
    run = {**reps[0], **median, "kernels": "numba" if kernels else "numpy"}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"abscopal: one run of arm {run['arm']} over {run['days']:g} days took {run['run_wall_s']:.2f} s "
          f"({run['run_cpu_s']:.2f} s CPU; median of {len(reps)}): {run['cell_updates_per_s']:.3g} tumour-cell updates/s, "
          f"{run['t_cell_updates_per_s']:.3g} T-cell updates/s")
    if kernels:
        print(f"on the numpy code (ABSCOPAL_NUMBA=0) the same run took {run['numpy_run_wall_s']:.2f} s "
              f"({run['numpy_run_cpu_s']:.2f} s CPU): the compiled kernels are {run['kernel_speedup']:.2f}x faster "
              "(CPU time, median of per-repetition ratios)")
    else:
        print("compiled kernels off (numba not installed, or ABSCOPAL_NUMBA=0): the numpy code ran")
    print(f"mesa Schelling 100x100 ({run['mesa_schelling_agents']} agents): "
          f"{run['mesa_schelling_agent_steps_per_s']:.3g} agent-steps/s")
    print(f"ratio {run['ratio']:.0f}x (median of per-repetition ratios), peak memory {peak_mb:.0f} MB")
    out = {**run, "repetitions": len(reps), "ratios": [round(r["ratio"], 1) for r in reps],
           "peak_rss_mb": round(peak_mb)}
    for k in ("run_wall_s", "run_cpu_s", "ratio", "numpy_run_wall_s", "numpy_run_cpu_s", "kernel_speedup"):
        if k in out:
            out[k] = round(out[k], 2)
    for k in ("cell_updates_per_s", "t_cell_updates_per_s", "mesa_schelling_agent_steps_per_s"):
        out[k] = round(out[k])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
