"""Peak memory of one run against abscopal.memory's estimate, for lattices of several sizes.

    python experiments/memory_calibration.py                 # the default sizes below, one process each
    python experiments/memory_calibration.py --domain-mm 32 --diameter-mm 20 --days 3

Each size runs in a fresh process: the cryo + anti-PD-1 arm of experiments/cryo_checkpoint.toml (the
ablation's temporaries are a run's largest) from day -1 to ``--days``, both lesions of the given diameter
in a square domain of the given side. Prints the process's peak resident memory (VmHWM, which counts the
interpreter and the imported libraries too) and the estimate.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (domain_mm, diameter_mm, cell_diameter_um, field_resolution_um): the default lesion, a lesion filling
#: most of a larger domain, and a finer lattice and field.
SIZES = [(16, 7, 20, 160), (32, 28, 20, 160), (24, 20, 10, 40)]


def measure(domain_mm: float, diameter_mm: float, cell_um: float, field_um: float, days: int) -> dict:
    from abscopal import memory
    from abscopal.config import load_config, resolve
    from abscopal.runner import simulate
    from abscopal.streams import replicate_seed

    sets = [f"experiment.start_day=-1", f"experiment.end_day={days}", f"experiment.readout_day={days}",
            f"tumour.cell_diameter_um={cell_um}", f"release.field_resolution_um={field_um}"]
    for lesion in ("index", "distant"):
        sets += [f"lesions.{lesion}.domain_mm={domain_mm}", f"lesions.{lesion}.diameter_mm={diameter_mm}"]
    exp = resolve(load_config(ROOT / "experiments" / "cryo_checkpoint.toml", sets))
    params = exp.arms["cryo_anti_pd1"]
    estimate = memory.run_memory_mb(params)
    simulate(params, exp.settings, replicate_seed(exp.settings["seed"], 0))
    return {"domain_mm": domain_mm, "diameter_mm": diameter_mm, "cell_um": cell_um, "field_um": field_um,
            "days": days, "peak_mb": round(peak_mb()), "estimate_mb": round(estimate)}


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux; ru_maxrss would count a parent's peak from before the exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain-mm", type=float)
    parser.add_argument("--diameter-mm", type=float)
    parser.add_argument("--cell-um", type=float, default=20.0)
    parser.add_argument("--field-um", type=float, default=160.0)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    if args.domain_mm is not None:
        print(json.dumps(measure(args.domain_mm, args.diameter_mm, args.cell_um, args.field_um, args.days)))
        return
    for domain, diameter, cell, field in SIZES:
        subprocess.run([sys.executable, __file__, "--domain-mm", str(domain), "--diameter-mm", str(diameter),
                        "--cell-um", str(cell), "--field-um", str(field), "--days", str(args.days)], check=True)


if __name__ == "__main__":
    main()
