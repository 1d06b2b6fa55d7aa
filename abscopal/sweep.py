"""Parameter sweeps: one experiment config run over many points of its parameter space.

    sweep = Sweep(config, grid={"arms.cryo.ablation.margin_mm": [0, 5]},
                  sample={"immune.kill_probability": (0.05, 0.5)}, method="lhs", n=32, replicates=2, seed=1)
    res = sweep.run(out="results/my_sweep", executor="process", workers=2)
    res.summary    # one row per point x arm x replicate x lesion, the swept parameters as columns

Designs (``method``):
  grid    the full product of the ``grid`` axes (``sample`` ranges, if any, get ``n`` evenly spaced levels,
          log-spaced for ``scale = "log"``)
  lhs     ``n`` Latin-hypercube points over the ``sample`` ranges (scipy.stats.qmc, seeded)
  sobol   a Saltelli design for Sobol indices: ``n`` base points of a scrambled Sobol sequence (a power
          of two; others are refused), ``n * (d + 2)`` points for d sampled parameters, in the row order SALib's
          ``sobol.analyze(..., calc_second_order=False)`` expects (see :func:`abscopal.sensitivity`)
  morris  ``n`` Morris elementary-effects trajectories over the ``sample`` ranges (SALib, 4 levels, seeded):
          ``n * (d + 1)`` points, each trajectory changing one parameter at a time by 2/3 of its (unit) range
  list    explicit points: ``points`` is a DataFrame or a CSV file, one column per key
``grid`` axes combine with the sampled (or listed) points as a product. A range is ``(low, high)``
(uniform) or ``{"low": .., "high": .., "scale": "log"}`` (log-uniform); when both bounds are integers the
sampled values are rounded to integers. Any config key can be an axis, arm keys included
(``arms.cryo.ablation.margin_mm``). Every point's config is built (``set_key`` on a deep copy) and validated
(``resolve``) before anything runs: a bad key or value fails up front, naming the point and the key.

Seeds: the sweep seed s gives point p the experiment seed
``s_p = SeedSequence(s, spawn_key=(p,)).generate_state(1, uint64)[0] >> 1`` and replicate r of that point
runs from ``SeedSequence(s_p, spawn_key=(r,))``, exactly as ``abscopal run`` seeds replicate r of an
experiment with ``experiment.seed = s_p``. All arms of a point and replicate share that seed (common random
numbers). So a point is an ordinary experiment. To re-run point p by hand (same bytes as the sweep's
``runs/<point>__<arm>__r<r>.parquet``, which is ``runs/p00007__cryo__r1.parquet`` for point 7)::

    m = json.load(open("DIR/manifest.json"))
    abscopal.run(abscopal.resolve(m["points"][7]["config"]), out="rerun")   # rerun/runs/cryo__r1.parquet

``points[p]["config"]`` is the point's full config (seed and replicates included; also
``Sweep.point_config(p)``); ``points[p]["seed"]`` is s_p, so from the shell it is
``abscopal run BASE.toml --seed S_P --replicates R --set KEY=VALUE ...`` with the sweep's base config
(without its ``[sweep]`` table) and the point's values.

Output folder:
  manifest.json       sweep spec, config as given, config hash, points (id, values, seed, config), one entry per
                      run (point, arm, replicate, seed, file, status, error, wall_s, events); written as
                      abscopal.execute says (after 1, 2, 4, 8, ... finished runs, at least every 30 s, at the end)
  runs.jsonl          while the sweep runs: each finished run's manifest entry, appended as it finishes (so a
                      killed sweep loses none); folded into manifest.json and removed at the end
  points.parquet      point id and the value of every axis
  runs/<point>__<arm>__r<rep>.parquet   one run's time series (the format of ``abscopal run``), written by the worker
  summary.parquet     one row per point x arm x replicate x lesion (readouts.summarise_run) plus the axis values
A folder holding other results is refused unless ``force`` (``--force``: cleared first) or ``resume``.
Resume (``run(..., resume=True)``, ``abscopal sweep --resume``) runs only runs that are missing or failed
(by manifest.json and runs.jsonl), and refuses when the folder was written for another config (its hash differs).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import itertools
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import runner, store
from .config import SECTIONS, ConfigError, Experiment, Param, did_you_mean, load_config, resolve, set_key
from .execute import check_workers, execute
from .runner import Task
from .results import StoredResults, summarise_file

METHODS = ("grid", "lhs", "sobol", "morris", "list")
#: Levels of a Morris design on each sampled range: 4, so each step moves 2/3 of the range (the usual choice,
#: Saltelli et al. 2008, Global Sensitivity Analysis: The Primer, ch. 3).
MORRIS_LEVELS = 4
#: The sweep's counts, checked like any config value: replicates and seed as the experiment's.
SWEEP_COUNTS = {
    "n": Param(1, "points", "sampled points (lhs), base points (sobol), trajectories (morris) or levels per range (grid)",
               "-", 1, 1e7),
    "replicates": SECTIONS["experiment"]["replicates"],
    "seed": SECTIONS["experiment"]["seed"],
}
#: Keys a sweep sets itself on every point.
RESERVED = ("experiment.seed", "experiment.replicates")


# ----------------------------------------------------------------------------------------------- design


def _range(key: str, spec: Any) -> tuple[float, float, str, bool]:
    """(low, high, scale, integer) of a sampled axis, or ConfigError naming the key."""
    scale = "linear"
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "scale"}
        if unknown or not {"low", "high"} <= set(spec):
            raise ConfigError(f"sweep.sample.{key} = {spec!r}: expected {{low, high}} and optionally scale")
        low, high, scale = spec["low"], spec["high"], spec.get("scale", "linear")
    elif isinstance(spec, (list, tuple)) and len(spec) == 2:
        low, high = spec
    else:
        raise ConfigError(f"sweep.sample.{key} = {spec!r}: expected [low, high] or {{low, high, scale}}")
    if scale not in ("linear", "log"):
        raise ConfigError(f"sweep.sample.{key}.scale = {scale!r}: expected 'linear' or 'log'")
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"sweep.sample.{key} = {spec!r}: bounds must be finite numbers")
    if not low < high:
        raise ConfigError(f"sweep.sample.{key} = {spec!r}: expected low < high")
    if scale == "log" and low <= 0:
        raise ConfigError(f"sweep.sample.{key} = {spec!r}: a log range needs low > 0")
    integer = isinstance(low, int) and isinstance(high, int)
    return float(low), float(high), scale, integer


def _scale(unit: np.ndarray, ranges: list[tuple[float, float, str, bool]]) -> np.ndarray:
    """Map points of the unit cube onto the ranges (uniform or log-uniform); object array of Python values."""
    out = np.empty(unit.shape, dtype=object)
    for j, (low, high, scale, integer) in enumerate(ranges):
        u = unit[:, j]
        col = np.exp(np.log(low) + u * (np.log(high) - np.log(low))) if scale == "log" else low + u * (high - low)
        col = np.clip(col, low, high)
        out[:, j] = [int(round(v)) if integer else float(v) for v in col]
    return out


def _power_of_two(n: int) -> None:
    """A Sobol design needs a power-of-two n: other sizes break the sequence's balance (scipy warns) and bias the
    indices. Refused rather than rounded, so that the design run is the one asked for."""
    if n & (n - 1):
        low = 1 << (n.bit_length() - 1)
        raise ConfigError(f"sweep.n = {n}: a Sobol design needs a power of two; the nearest are {low} and {2 * low}")


def saltelli(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A Saltelli design on the unit cube: n base rows -> n * (d + 2) rows (A, AB_1..AB_d, B per base row)."""
    from scipy.stats import qmc

    base = qmc.Sobol(2 * d, scramble=True, rng=rng).random(n)  # n a power of two (Sweep refuses others)
    a, b = base[:, :d], base[:, d:]
    rows = []
    for j in range(n):
        rows.append(a[j])
        for i in range(d):
            ab = a[j].copy()
            ab[i] = b[j, i]
            rows.append(ab)
        rows.append(b[j])
    return np.array(rows)


def morris(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Morris trajectories on the unit cube (SALib, ``MORRIS_LEVELS`` levels): n blocks of d + 1 rows, one factor
    changing between consecutive rows of a block; SALib's seed is drawn from ``rng``."""
    try:
        from SALib.sample import morris as salib_morris
    except ImportError:
        raise ConfigError("sweep.method = 'morris' needs SALib: pip install 'abscopal[sensitivity]'") from None
    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return salib_morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=int(rng.integers(2**63 - 1)))


def _flatten(table: dict, leaf, prefix: str = "") -> dict:
    """{"immune": {"kill_probability": [..]}} -> {"immune.kill_probability": [..]} (TOML tables, --set)."""
    if not isinstance(table, dict):
        raise ConfigError(f"sweep axes = {table!r}: expected a table of key = values")
    out = {}
    for key, value in table.items():
        if leaf(value):
            out[prefix + key] = value
        else:
            out.update(_flatten(value, leaf, f"{prefix}{key}."))
    return out


def _python(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def point_seed(sweep_seed: int, point: int) -> int:
    """The experiment seed of point ``point``: child ``(point,)`` of the sweep's SeedSequence, 63 bits."""
    state = np.random.SeedSequence(int(sweep_seed), spawn_key=(int(point),)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


# ----------------------------------------------------------------------------------------------- tasks


def run_file(point: int, arm: str, replicate: int) -> str:
    return f"runs/{point_name(point)}__{arm}__r{replicate}.parquet"


def point_name(point: int) -> str:
    return f"p{point:05d}"


# ----------------------------------------------------------------------------------------------- the sweep


def _split(config: Any) -> tuple[dict, dict]:
    """(experiment config without [sweep], the [sweep] table) from a path, raw dict or Experiment."""
    if isinstance(config, Experiment):
        raw = copy.deepcopy(config.source)
    elif isinstance(config, (str, Path)):
        raw = load_config(config)
    elif isinstance(config, dict):
        raw = copy.deepcopy(config)
    else:
        raise TypeError(f"expected a config path, dict or Experiment, got {type(config).__name__}")
    spec = raw.pop("sweep", {})
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep = {spec!r}: expected a table [sweep]")
    return raw, spec


class Sweep:
    """A design over an experiment config; every point is validated when the Sweep is made."""

    def __init__(self, config: Any, grid: dict | None = None, sample: dict | None = None,
                 method: str | None = None, n: int | None = None, replicates: int | None = None,
                 seed: int | None = None, points: pd.DataFrame | str | Path | None = None):
        base, spec = _split(config)
        known = {"method", "n", "replicates", "seed", "grid", "sample", "points"}
        for key in spec:
            if key not in known:
                raise ConfigError(f"unknown key sweep.{key}{did_you_mean(key, known)}; valid keys: {', '.join(sorted(known))}")
        self.base = base
        self.grid = _flatten(spec.get("grid", {}) if grid is None else grid, leaf=lambda v: not isinstance(v, dict))
        self.sample = _flatten(spec.get("sample", {}) if sample is None else sample,
                               leaf=lambda v: not isinstance(v, dict) or {"low", "high"} <= set(v))
        self.method = method or spec.get("method") or ("list" if (points is not None or "points" in spec) else
                                                      "lhs" if self.sample else "grid")
        given_points = points if points is not None else spec.get("points")
        experiment = base.get("experiment", {})
        if not isinstance(experiment, dict):
            experiment = {}  # resolve names the error
        self.replicates = SWEEP_COUNTS["replicates"].check("sweep.replicates", replicates if replicates is not None
                                                           else spec.get("replicates", experiment.get("replicates", 1)))
        self.seed = SWEEP_COUNTS["seed"].check("sweep.seed", seed if seed is not None
                                               else spec.get("seed", experiment.get("seed", 1)))
        self.n = n if n is not None else spec.get("n")
        if self.n is not None:
            self.n = SWEEP_COUNTS["n"].check("sweep.n", self.n)
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ConfigError(f"sweep.method = {self.method!r}: expected one of {', '.join(METHODS)}")
        self._list = self._read_points(given_points) if self.method == "list" else None
        self.points = self._design()
        self.keys = [c for c in self.points.columns if c != "point"]
        self.experiments = [self._validate(p) for p in range(len(self.points))]

    # -- design ----------------------------------------------------------------------------------

    @staticmethod
    def _read_points(points) -> pd.DataFrame:
        if points is None:
            raise ConfigError("sweep.method = 'list' needs points (a DataFrame or a CSV file)")
        if isinstance(points, (str, Path)):
            try:
                points = pd.read_csv(points)
            except FileNotFoundError:
                raise ConfigError(f"sweep.points: file {points} does not exist") from None
            except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
                raise ConfigError(f"sweep.points = {str(points)!r}: not a readable CSV file ({e})") from None
        if not isinstance(points, pd.DataFrame) or points.empty:
            raise ConfigError("sweep.points: expected a non-empty DataFrame or CSV file, one column per key")
        return points.drop(columns=[c for c in ("point",) if c in points.columns]).reset_index(drop=True)

    def _design(self) -> pd.DataFrame:
        self.grid = {k: [_python(v) for v in vs] if isinstance(vs, (np.ndarray, pd.Series)) else vs
                     for k, vs in self.grid.items()}
        for key, values in self.grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"sweep.grid.{key} = {values!r}: expected a non-empty list of values")
        if self.method == "list":
            if self.sample:
                raise ConfigError("sweep.method = 'list' takes points, not sample ranges")
            inner = self._list
        else:
            ranges = [_range(k, v) for k, v in self.sample.items()]
            d = len(ranges)
            if self.method in ("lhs", "sobol", "morris") and not d:
                raise ConfigError(f"sweep.method = {self.method!r} needs sample ranges ([sweep.sample])")
            if d and self.n is None:
                raise ConfigError(f"sweep.n: missing; expected the number of points (at least 1) that method "
                                  f"{self.method!r} draws from sweep.sample")
            if d and self.method == "sobol":
                _power_of_two(self.n)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5EED5]))  # the design's own stream
            if not d:
                unit = np.empty((1, 0))
            elif self.method == "grid":
                levels = np.linspace(0.0, 1.0, self.n) if self.n > 1 else np.array([0.5])
                unit = np.array(list(itertools.product(levels, repeat=d)))
            elif self.method == "lhs":
                from scipy.stats import qmc

                unit = qmc.LatinHypercube(d, rng=rng).random(self.n)
            elif self.method == "morris":
                unit = morris(self.n, d, rng)
            else:
                unit = saltelli(self.n, d, rng)
            inner = pd.DataFrame(_scale(unit, ranges) if d else unit, columns=list(self.sample))
        overlap = set(self.grid) & set(inner.columns)
        if overlap:
            raise ConfigError(f"sweep: {sorted(overlap)} given both as a grid axis and as sampled/listed")
        for key in [*self.grid, *inner.columns]:
            if key in RESERVED:
                raise ConfigError(f"sweep axis {key}: set by the sweep itself (use sweep.seed, sweep.replicates)")
        rows = []
        inner_rows = inner.to_dict("records") if len(inner.columns) else [{}] * max(len(inner), 1)
        for combo in itertools.product(*self.grid.values()):
            for row in inner_rows:
                rows.append({**dict(zip(self.grid, combo)), **{k: _python(v) for k, v in row.items()}})
        table = pd.DataFrame(rows, columns=[*self.grid, *inner.columns])
        table.insert(0, "point", range(len(table)))
        return table

    def point_values(self, point: int) -> dict[str, Any]:
        row = self.points.iloc[point]
        return {k: _python(row[k]) for k in self.keys}

    def point_config(self, point: int) -> dict:
        """The full experiment config of one point, seed and replicates included (``abscopal run`` reproduces it)."""
        config = copy.deepcopy(self.base)
        for key, value in self.point_values(point).items():
            set_key(config, key, value)
        set_key(config, "experiment.seed", point_seed(self.seed, point))
        set_key(config, "experiment.replicates", self.replicates)
        return config

    def _validate(self, point: int) -> Experiment:
        try:
            return resolve(self.point_config(point))
        except ConfigError as e:
            values = ", ".join(f"{k}={v!r}" for k, v in self.point_values(point).items())
            raise ConfigError(f"sweep point {point} ({values}): {e}") from None

    # -- bookkeeping -----------------------------------------------------------------------------

    @property
    def spec(self) -> dict:
        spec = {"method": self.method, "n": self.n, "replicates": self.replicates, "seed": self.seed,
                "grid": self.grid, "sample": {k: v if isinstance(v, dict) else list(v) for k, v in self.sample.items()},
                "second_order": False if self.method == "sobol" else None}
        if self.method == "morris":
            spec["levels"] = MORRIS_LEVELS
        return spec

    @property
    def config_hash(self) -> str:
        blob = json.dumps({"config": self.base, "spec": self.spec, "points": self.points.to_dict("records")},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def tasks(self, out: str | Path) -> list[Task]:
        return [Task(arm, r, params, exp.settings, str(out), run_file(p, arm, r), point=p)
                for p, exp in enumerate(self.experiments) for r in range(self.replicates)
                for arm, params in exp.arms.items()]

    @property
    def n_runs(self) -> int:
        return sum(len(e.arms) for e in self.experiments) * self.replicates

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return (f"<Sweep {self.method}: {len(self.points)} points x {self.replicates} replicates, "
                f"{self.n_runs} runs, axes {self.keys}>")

    def _manifest(self) -> dict:
        points = [{"point": p, "name": point_name(p), "values": self.point_values(p),
                   "seed": point_seed(self.seed, p), "config": self.point_config(p)} for p in range(len(self.points))]
        return {"kind": "sweep", "experiment": self.experiments[0].name, "sweep": self.spec,
                "config": self.base, "config_hash": self.config_hash, "keys": self.keys, "points": points}

    # -- running ---------------------------------------------------------------------------------

    def estimate(self, workers: int | None = None, days: float | None = None) -> dict:
        """Time one run (the first point's last arm, usually the one with most treatments) and extrapolate.

        days: simulate only that many days and scale up linearly (faster, but the days after a treatment
        cost more than those before it, so it underestimates).
        """
        from .streams import replicate_seed

        exp = self.experiments[0]
        arm, params = list(exp.arms.items())[-1]
        settings = dict(exp.settings)
        span = settings["end_day"] - settings["start_day"]
        short = min(days or span, span)
        settings["end_day"] = settings["start_day"] + short
        settings["readout_day"] = min(settings["readout_day"], settings["end_day"])
        t0 = time.perf_counter()
        runner.simulate(params, settings, replicate_seed(settings["seed"], 0))
        per_run = (time.perf_counter() - t0) * span / short
        workers = check_workers(workers)
        return {"runs": self.n_runs, "per_run_s": per_run, "total_s": per_run * self.n_runs / workers,
                "workers": workers, "timed_days": short}

    def run(self, out: str | Path | None = None, executor: str | cf.Executor = "process",
            workers: int | None = None, scheduler: str | None = None, resume: bool = False, force: bool = False,
            progress: bool = True, stop_after: int | None = None) -> "SweepResults":
        """Run every missing run and build summary.parquet; returns SweepResults.

        executor: "serial", "process" (a process pool of ``workers``, one per core by default), "dask"
        (``scheduler`` = "tcp://host:8786" to use a running cluster, else a LocalCluster of ``workers``), or
        any concurrent.futures.Executor. With dask the output folder must be visible to every worker.
        A folder that holds other results is refused unless ``resume`` (keep the runs an earlier call of the
        same sweep finished in ``out``, run the rest) or ``force`` (clear it first); see :mod:`abscopal.execute`.
        progress: a bar of runs done, failed and time left on stderr (a widget in Jupyter, plain lines in a log
        file; :mod:`abscopal.progress`); False for none.
        stop_after: stop after this many runs finish (the rest stay missing; resume finishes them).
        """
        keep = out is not None
        out = Path(out) if keep else Path(tempfile.mkdtemp(prefix="abscopal-sweep-"))  # as given, for messages
        tasks = self.tasks(out.absolute())  # for remote workers
        execute(tasks, runner.run_task, out, self._manifest(), executor, workers, scheduler, resume=resume,
                force=force, progress=progress,
                stop_after=stop_after, on_start=lambda: store.write_frame(out / "points.parquet", self.points))
        res = SweepResults.build(out, self)
        if not keep:
            res = res.in_memory()
            shutil.rmtree(out, ignore_errors=True)
        return res


# ----------------------------------------------------------------------------------------------- results


class SweepResults(StoredResults):
    """What a sweep wrote: manifest, points, summary (read when first asked for)."""

    @classmethod
    def build(cls, out: str | Path, sweep: Sweep | None = None) -> "SweepResults":
        """Write summary.parquet from the run files, one file at a time (no time series kept in memory)."""
        out = Path(out)
        manifest = store.read_manifest(out)
        if sweep is None:
            sweep = Sweep(manifest["config"] | {"sweep": {}}, grid=manifest["sweep"]["grid"],
                          sample=manifest["sweep"]["sample"], method=manifest["sweep"]["method"],
                          n=manifest["sweep"]["n"], replicates=manifest["sweep"]["replicates"],
                          seed=manifest["sweep"]["seed"],
                          points=pd.read_parquet(out / "points.parquet") if manifest["sweep"]["method"] == "list" else None)
        res = cls(out, manifest)

        def summaries():
            for run in res.runs_ok:
                exp = sweep.experiments[run["point"]]
                ids = {"point": run["point"], "arm": run["arm"], "replicate": run["replicate"]}
                s = summarise_file(out, run, exp.arms[run["arm"]], exp.settings["readout_day"], ids)
                for key, value in sweep.point_values(run["point"]).items():
                    s[key] = value
                yield s

        store.write_frames(out / "summary.parquet", summaries(),
                           columns=["point", "arm", "replicate", "lesion", *sweep.keys],
                           dtypes=sweep.points.dtypes[sweep.keys].to_dict())  # a 0 and a 0.5 on one axis: float
        return res

    @classmethod
    def open(cls, out: str | Path) -> "SweepResults":
        return cls(Path(out), store.read_manifest(out))

    @property
    def points(self) -> pd.DataFrame:
        if "points" not in self._frames:
            self._frames["points"] = pd.read_parquet(self.path / "points.parquet")
        return self._frames["points"]

    def timeseries(self, point: int, arm: str | None = None) -> pd.DataFrame:
        """The time series of one point's runs (all arms, or one), with a ``point`` column."""
        runs = [r for r in self.runs_ok if r["point"] == point and (arm is None or r["arm"] == arm)]
        frame = store.read_timeseries(self.path, runs)
        if len(frame):
            frame.insert(0, "point", point)
        return frame

    def in_memory(self) -> "SweepResults":
        return SweepResults(None, self.manifest, {"summary": self.summary, "points": self.points})

    def __repr__(self) -> str:
        return (f"<SweepResults {self.manifest['experiment']}: {len(self.manifest['points'])} points, "
                f"{len(self.runs_ok)} runs ok, {len(self.failed)} failed, {self.path or 'memory'}>")


def load_sweep(path: str | Path, sets: list[str] = ()) -> Sweep:
    """A Sweep from a sweep config (an experiment config plus [sweep]); ``--set`` works on sweep keys too."""
    raw = load_config(path, sets)
    spec = raw.get("sweep", {})
    points = spec.get("points") if isinstance(spec, dict) else None
    if isinstance(points, str) and not Path(points).is_absolute():
        raw["sweep"]["points"] = str(Path(path).parent / points)
    return Sweep(raw)
