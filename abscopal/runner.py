"""Run an experiment: every arm x replicate, serially or on a process pool, each run to its own file.

Replicate r of an experiment with seed s runs from ``SeedSequence(s, spawn_key=(r,))`` (what
``SeedSequence(s).spawn(n)[r]`` gives); all arms of a replicate share it, so arms differ by their
treatment, not by noise. A run that raises is recorded as failed with its error; the others go on.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from . import individual, store
from .config import Experiment
from .model import AbscopalModel
from .streams import replicate_seed


@dataclass(frozen=True)
class Task:
    """One run: an arm's parameters, a replicate, and where to write."""

    arm: str
    replicate: int
    params: dict
    settings: dict
    out: str


def snapshot_days(params: dict, settings: dict) -> tuple[float, ...]:
    """Days whose lattices are kept: just before and a day after the ablation (or day 0), and the readout."""
    day = params["ablation"]["day"] if "ablation" in params else 0.0
    return (day, day + 1, settings["readout_day"])


def simulate(params: dict, settings: dict, seed: np.random.SeedSequence,
             snapshots: bool = False) -> tuple[pd.DataFrame, list[dict], dict]:
    """Run one model to the end day; returns its time series, its event log and its lattice snapshots.

    The replicate's individual (``individual.draw``) scales the arm's parameters first.
    """
    params = individual.apply(params, individual.draw(params["individual"], seed))
    model = AbscopalModel(params, settings, seed, snapshot_days(params, settings) if snapshots else ())
    model.run(settings["end_day"])
    return pd.DataFrame(model.records), model.events, model.snapshots


def execute(task: Task) -> dict:
    """Run one task in a worker, write its file atomically, and return its manifest entry."""
    seed = replicate_seed(task.settings["seed"], task.replicate)
    path = store.run_file(Path(task.out), task.arm, task.replicate)
    entry = {
        "arm": task.arm,
        "replicate": task.replicate,
        "seed": {"entropy": int(seed.entropy), "spawn_key": list(seed.spawn_key)},
        "individual": individual.draw(task.params["individual"], seed),
        "file": str(path.relative_to(task.out)),
    }
    start = time.perf_counter()
    try:
        frame, events, snapshots = simulate(task.params, task.settings, seed, snapshots=task.replicate == 0)
        frame.insert(0, "arm", task.arm)
        frame.insert(1, "replicate", task.replicate)
        store.write_frame(path, frame)
        entry.update(status="ok", events=events)
        if snapshots:
            snap = store.snapshot_file(Path(task.out), task.arm, task.replicate)
            store.write_arrays(snap, {"cell_um": np.array(task.params["tumour"]["cell_diameter_um"]), **snapshots})
            entry["snapshots"] = str(snap.relative_to(task.out))
    except Exception as e:  # a failed run is recorded and the experiment goes on
        entry.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    entry["wall_s"] = round(time.perf_counter() - start, 3)
    return entry


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("abscopal", "mesa", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def run(experiment: Experiment, replicates: int | None = None, seed: int | None = None, workers: int = 1,
        out: str | Path | None = None, log=None):
    """Run every arm x replicate of ``experiment``; returns a Results object.

    replicates, seed: override the config's. workers: 1 runs in this process, more use a process
    pool. out: the output folder (a temporary one, removed after loading, when None).
    """
    from .results import Results

    settings = dict(experiment.settings)
    if replicates is not None:
        settings["replicates"] = int(replicates)
    if seed is not None:
        settings["seed"] = int(seed)
    keep = out is not None
    out = Path(out) if keep else Path(tempfile.mkdtemp(prefix="abscopal-"))
    out.mkdir(parents=True, exist_ok=True)
    tasks = [Task(arm, r, params, settings, str(out))
             for r in range(settings["replicates"]) for arm, params in experiment.arms.items()]
    manifest = {
        "experiment": settings["name"],
        "settings": settings,
        "config": experiment.source,
        "arms": experiment.arms,
        "versions": _versions(),
        "command": sys.argv,
        "started": datetime.now(timezone.utc).isoformat(),
        "workers": workers,
        "runs": [],
    }
    t0 = time.perf_counter()
    entries = []
    for entry in _map(execute, tasks, workers):
        entries.append(entry)
        if log:
            status = "ok" if entry["status"] == "ok" else f"FAILED: {entry['error']}"
            log(f"[{len(entries)}/{len(tasks)}] {entry['arm']} r{entry['replicate']} {entry['wall_s']:.1f}s {status}")
        manifest["runs"] = sorted(entries, key=lambda e: (e["replicate"], e["arm"]))
        store.write_json(out / "manifest.json", manifest)
    manifest.update(finished=datetime.now(timezone.utc).isoformat(), wall_s=round(time.perf_counter() - t0, 3))
    store.write_json(out / "manifest.json", manifest)
    results = Results.build(out)
    if not keep:
        results = results.in_memory()
        shutil.rmtree(out, ignore_errors=True)
    return results


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` fresh processes, each with one BLAS thread.

    The model's linear algebra is on tiny matrices; BLAS threads only spin and steal the other
    workers' cores (measured: two workers ran slower than one). Set the variables yourself to override.
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _map(fn, tasks: list[Task], workers: int):
    """Yield fn(task) for every task as runs finish: in this process, or on a pool of ``workers``."""
    if workers <= 1:
        yield from map(fn, tasks)
        return
    with process_pool(workers) as pool:
        futures = [pool.submit(fn, t) for t in tasks]
        for fut in cf.as_completed(futures):
            yield fut.result()
