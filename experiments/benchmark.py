"""Speed benchmark: one default run, and Mesa's own Schelling example for comparison.

Prints tumour-cell updates per second, T-cell updates per second, wall seconds and peak memory of one
run of the default experiment's combination arm (two 7 mm lesions, about 1e5 cells each, to day 60
after ablation), then Mesa's Schelling example (100 x 100, one Mesa agent per cell) in the same
process. The last line is one JSON object with the figures.

    .venv/bin/python experiments/benchmark.py [--arm cryo_anti_pd1] [--end-day 60]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: no BLAS threads (set before numpy loads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from abscopal.config import load_config, resolve
from abscopal.runner import simulate
from abscopal.streams import replicate_seed


def abscopal_run(arm: str, end_day: float) -> dict:
    cfg = load_config(Path(__file__).with_name("cryo_checkpoint.toml"), [f"experiment.end_day={end_day}",
                                                                         f"experiment.readout_day={end_day}"])
    exp = resolve(cfg)
    settings = exp.settings
    t0 = time.perf_counter()
    ts, _, _ = simulate(exp.arms[arm], settings, replicate_seed(settings["seed"], 0))
    wall = time.perf_counter() - t0
    substeps = 24.0 / settings["time_step_h"]
    lesions = ts[ts["lesion"] != "systemic"]
    cell_updates = lesions["tumor_cells"].sum() * substeps
    t_updates = (lesions["effector_t_cells"] + lesions["exhausted_t_cells"]).sum() * substeps
    start = lesions[lesions["time_day"] == lesions["time_day"].min()]
    return {
        "arm": arm,
        "days": float(settings["end_day"] - settings["start_day"]),
        "initial_cells_per_lesion": start.set_index("lesion")["tumor_cells"].to_dict(),
        "run_wall_s": round(wall, 2),
        "cell_updates_per_s": round(cell_updates / wall),
        "t_cell_updates_per_s": round(t_updates / wall),
    }


def schelling(steps: int = 20) -> dict:
    from mesa.examples.basic.schelling.model import Schelling, SchellingScenario

    model = Schelling(SchellingScenario(width=100, height=100, rng=42))
    n_agents = len(model.agents)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    wall = time.perf_counter() - t0
    return {"mesa_schelling_agents": n_agents, "mesa_schelling_agent_steps_per_s": round(n_agents * steps / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", default="cryo_anti_pd1")
    parser.add_argument("--end-day", type=float, default=60.0)
    args = parser.parse_args()
    run = abscopal_run(args.arm, args.end_day)
    print(f"abscopal: one run of arm {run['arm']} over {run['days']:g} days took {run['run_wall_s']} s: "
          f"{run['cell_updates_per_s']:.3g} tumour-cell updates/s, {run['t_cell_updates_per_s']:.3g} T-cell updates/s")
    ref = schelling()
    print(f"mesa Schelling 100x100 ({ref['mesa_schelling_agents']} agents): "
          f"{ref['mesa_schelling_agent_steps_per_s']:.3g} agent-steps/s")
    ratio = run["cell_updates_per_s"] / ref["mesa_schelling_agent_steps_per_s"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"ratio {ratio:.0f}x, peak memory {peak_mb:.0f} MB")
    print(json.dumps({**run, **ref, "ratio": round(ratio, 1), "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
