"""Run an experiment: every arm x replicate, each run to its own file; an experiment is a sweep of one point.

Replicate r of an experiment with seed s runs from ``SeedSequence(s, spawn_key=(r,))`` (what
``SeedSequence(s).spawn(n)[r]`` gives); all arms of a replicate share it, so arms differ by their
treatment, not by noise. How runs are executed, recorded and retried is :mod:`abscopal.execute`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import execute, individual, store
from .config import DRUGS, SECTIONS, Experiment
from .immune import circulation
from .model import AbscopalModel
from .readouts import SYSTEMIC
from .streams import replicate_seed


@dataclass(frozen=True)
class Task:
    """One run: an arm's parameters, a replicate, and its file in the output folder ``out``.

    ``point``: the sweep point it belongs to (None for an experiment); ``snapshots``: keep its lattices.
    """

    arm: str
    replicate: int
    params: dict
    settings: dict
    out: str
    file: str
    point: int | None = None
    snapshots: bool = False


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


#: The drug columns of every run file, in this order at the end of its columns.
DRUG_COLUMNS = [f"{drug}_{what}" for drug in DRUGS for what in ("nm", "occupancy")]


def with_every_column(frame: pd.DataFrame) -> pd.DataFrame:
    """A run's time series with the columns of the conserved circulation (empty without it) and then of every drug
    the package knows (:data:`DRUG_COLUMNS`), in that order at the end, so that every run file has one schema
    whatever its arm: a drug not given is at 0 nM and 0 occupancy on the systemic rows (empty on lesion rows, as
    every systemic column)."""
    systemic = frame["lesion"] == SYSTEMIC
    books = (*circulation.LESION_COLUMNS, *circulation.SYSTEMIC_COLUMNS)
    out = frame.drop(columns=[c for c in (*books, *DRUG_COLUMNS) if c in frame.columns])
    for column in books:
        out[column] = frame[column] if column in frame.columns else np.nan
    for column in DRUG_COLUMNS:
        out[column] = frame[column] if column in frame.columns else np.where(systemic, 0.0, np.nan)
    return out


def run_task(task: Task) -> dict:
    """Run one task in a worker, write its file atomically, and return its manifest entry.

    A model error is recorded in the entry (status "failed", error, traceback), never raised.
    """
    seed = replicate_seed(task.settings["seed"], task.replicate)
    out = Path(task.out)
    entry = {"point": task.point} if task.point is not None else {}
    entry.update({
        "arm": task.arm,
        "replicate": task.replicate,
        "seed": {"entropy": int(seed.entropy), "spawn_key": list(seed.spawn_key)},
        "individual": individual.draw(task.params["individual"], seed),
        "file": task.file,
    })
    start = time.perf_counter()
    try:
        frame, events, snapshots = simulate(task.params, task.settings, seed, snapshots=task.snapshots)
        frame.insert(0, "arm", task.arm)
        frame.insert(1, "replicate", task.replicate)
        store.write_frame(out / task.file, with_every_column(frame))
        entry.update(status="ok", events=events)
        if snapshots:
            snap = store.snapshot_file(out, task.arm, task.replicate)
            store.write_arrays(snap, {"cell_um": np.array(task.params["tumour"]["cell_diameter_um"]), **snapshots})
            entry["snapshots"] = str(snap.relative_to(out))
    except Exception as e:  # a failed run is recorded and the others go on
        entry.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    entry["wall_s"] = round(time.perf_counter() - start, 3)
    return entry


def config_hash(settings: dict, arms: dict) -> str:
    """sha256 of what determines an experiment's files: its settings (seed, replicates) and resolved arms."""
    blob = json.dumps({"settings": settings, "arms": arms}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run(experiment: Experiment, replicates: int | None = None, seed: int | None = None, workers: int = 1,
        out: str | Path | None = None, resume: bool = False, force: bool = False,
        executor: str | None = None, scheduler: str | None = None, progress: bool = True):
    """Run every arm x replicate of ``experiment``; returns a Results object.

    replicates, seed: override the config's (checked against experiment.replicates and experiment.seed).
    workers: 1 runs in this process, more use a process pool (``executor`` "serial", "process" or "dask",
    ``scheduler`` a Dask address). out: the output folder (a temporary one, removed after loading, when None);
    one that holds other results is refused unless ``resume`` (run only the missing or failed runs of the
    same config) or ``force`` (clear it first). progress: a bar of runs done, failed and time left on stderr
    (a widget in Jupyter, plain lines in a log file; :mod:`abscopal.progress`); False for none.
    """
    from .results import Results

    settings = dict(experiment.settings)
    for key, value in (("replicates", replicates), ("seed", seed)):
        if value is not None:
            settings[key] = SECTIONS["experiment"][key].check(f"experiment.{key}", value)
    workers = execute.check_workers(workers)
    keep = out is not None
    out = Path(out) if keep else Path(tempfile.mkdtemp(prefix="abscopal-"))
    tasks = [Task(arm, r, experiment.arms[arm], settings, str(out), str(store.run_file(Path(), arm, r)),
                  snapshots=r == 0)
             for r in range(settings["replicates"]) for arm in sorted(experiment.arms)]
    manifest = {
        "kind": "experiment",
        "experiment": settings["name"],
        "settings": settings,
        "config": experiment.source,
        "config_hash": config_hash(settings, experiment.arms),
        "arms": experiment.arms,
        "workers": workers,
    }
    execute.execute(tasks, run_task, out, manifest, executor or ("serial" if workers == 1 else "process"),
                    workers, scheduler, resume=resume, force=force, progress=progress)
    results = Results.build(out)
    if not keep:
        results = results.in_memory()
        shutil.rmtree(out, ignore_errors=True)
    return results
