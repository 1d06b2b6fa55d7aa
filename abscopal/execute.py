"""The one way to run: tasks on an executor (serial, a process pool, Dask), one manifest writer, one failure policy.

An experiment (``runner.run``) is a sweep of one point; a sweep (``Sweep.run``) has many. Both hand their
tasks, output folder and manifest to :func:`execute`.

Output folder: a folder that holds other results (a manifest.json) is refused unless ``resume`` (finish the
runs of the same config: same kind, same config hash) or ``force`` (clear it first); a non-empty folder that
holds no results of abscopal is refused even with ``force`` (nothing that is not ours is deleted).

Manifest: each finished run's entry is appended to ``runs.jsonl`` as it finishes (a killed driver loses
none); ``manifest.json`` is rewritten atomically after 1, 2, 4, 8, ... finished runs, at least every 30 s,
and at the end, when runs.jsonl is folded into it and removed.

Failures: a run whose model raises is recorded ``failed`` with the error and its traceback, the others go
on. A worker process that dies (killed, out of memory) breaks its pool: a new pool is made and the runs
that were in flight are retried, one at a time; a run whose worker dies again is recorded failed ("worker
died twice: ..."). On Dask the scheduler retries a run whose worker died (its ``allowed-failures``); a run
it gives up on is recorded failed with Dask's reason.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import os
import platform
import shutil
import socket
import sys
import time
import types
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import memory, store
from . import progress as progress_bar
from .config import ConfigError

EXECUTORS = ("serial", "process", "dask")
#: The append-only log of finished runs (one JSON entry a line) between two writes of manifest.json.
RUN_LOG = "runs.jsonl"
#: manifest.json is rewritten after 1, 2, 4, 8, ... finished runs and at least this often (seconds).
MANIFEST_EVERY_S = 30.0
#: Seconds to wait for a Dask scheduler to answer before saying it does not.
CONNECT_TIMEOUT_S = 5.0


def versions() -> dict:
    """Python's and the packages' versions, for the manifest."""
    out = {"python": platform.python_version()}
    for pkg in ("abscopal", "mesa", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def check_workers(workers: int | None) -> int:
    """The number of worker processes (one per core when None), or ConfigError."""
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers = {workers!r}: expected a whole number of worker processes, at least 1")
    return workers


# ----------------------------------------------------------------------------------------------- the folder


def check_folder(out: Path, kind: str, config_hash: str, resume: bool = False, force: bool = False) -> dict[str, dict]:
    """Refuse an output folder that cannot take these results; returns the finished runs to keep (resume).

    Writes nothing. ``kind``: "experiment" or "sweep"; ``config_hash``: of what will be run.
    """
    store.check_writable_folder(out, "output folder")
    if not out.exists() or not any(out.iterdir()):
        return {}
    if not (out / "manifest.json").exists():
        raise store.FolderError(f"output folder {out}: a non-empty folder that holds no abscopal results; choose another folder")
    if force:
        return {}
    try:
        old = store.read_manifest(out)
    except ValueError as e:
        raise store.FolderError(f"output folder {out}: its manifest.json is unreadable ({e}); --force clears the folder") from None
    old_kind = old.get("kind") or ("sweep" if "points" in old else "experiment")
    what = f"the results of {old_kind} {old.get('experiment', '?')!r}"
    if not resume:
        raise store.FolderError(f"output folder {out}: holds {what}; --resume finishes them, --force replaces them, "
                          f"or choose another folder")
    if old_kind != kind or old.get("config_hash") != config_hash:
        raise store.FolderError(f"output folder {out}: cannot resume {what}: it was written for another {kind} config (hash "
                          f"{str(old.get('config_hash'))[:12]}, this one {config_hash[:12]}); use a new folder")
    # the runs as last saved in the manifest, then those logged after it (a later line wins)
    previous = {r["file"]: r for r in [*old.get("runs", []), *store.read_json_lines(out / RUN_LOG)]}
    return {f: r for f, r in previous.items() if r["status"] == "ok" and (out / f).exists()}


def clear_folder(out: Path) -> None:
    """Remove an output folder's contents (``force``; check_folder has made sure it holds our results)."""
    for path in out.iterdir():
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


# ----------------------------------------------------------------------------------------------- executors


class SerialExecutor(cf.Executor):
    """Runs each call in this process when it is submitted (the concurrent.futures protocol)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(e)
        return fut


class WorkerPool(cf.ProcessPoolExecutor):
    """A pool of fresh (spawned) processes that do not import the caller's script.

    A spawned process re-runs the main script (as ``__mp_main__``) before it runs anything, so a script
    without ``if __name__ == "__main__":`` would start a pool in every worker, and a guarded one would still
    run its top-level code once per worker. The runs need only abscopal, so the main module is hidden from
    multiprocessing while a worker is started: Python then imports none (what it does for an interactive
    session). The pool starts its workers in ``submit`` (spawned workers are started on demand).
    """

    def submit(self, fn, /, *args, **kwargs):
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return super().submit(fn, *args, **kwargs)
        finally:
            sys.modules["__main__"] = main


def process_pool(workers: int) -> WorkerPool:
    """A pool of ``workers`` fresh processes, each with one BLAS thread.

    The model's linear algebra is on tiny matrices; BLAS threads only spin and steal the other
    workers' cores (measured: two workers ran slower than one). Set the variables yourself to override.
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    return WorkerPool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _check_answers(scheduler: str) -> None:
    """ConfigError unless a tcp:// scheduler address accepts a connection within CONNECT_TIMEOUT_S (before
    importing dask, whose own client retries for its whole timeout)."""
    address = urllib.parse.urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    if address.scheme != "tcp":
        return  # tls://, ucx://: left to dask
    try:
        with socket.create_connection((address.hostname, address.port or 8786), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as e:
        raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answered ({e})") from None


class DaskExecutor(cf.Executor):
    """A dask.distributed Client's executor that closes its client (and local cluster) on shutdown."""

    def __init__(self, scheduler: str | None, workers: int):
        if scheduler:
            _check_answers(scheduler)
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("executor 'dask' needs dask.distributed: pip install 'abscopal[dask]'") from None
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as e:
                raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                                  f"{CONNECT_TIMEOUT_S:g} s ({type(e).__name__})") from None
        else:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        self._executor = self._client.get_executor(pure=False)

    @property
    def threads(self) -> int:
        return sum(w.get("nthreads", 1) for w in self._client.scheduler_info().get("workers", {}).values())

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._executor.shutdown(wait=wait)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def check_memory(tasks: list, executor: str | cf.Executor, workers: int, scheduler: str | None) -> None:
    """Refuse runs whose worker processes together would need more memory than the machine has available.

    A serial run is in this process (its config's check covers it); a Dask scheduler's workers are elsewhere.
    Otherwise ``workers`` processes each hold the largest run at once, and the driver is one more process.
    """
    if executor == "serial" or scheduler or not tasks:
        return
    run_mb = max(memory.run_memory_mb(t.params) for t in tasks)
    need, free = memory.pool_memory_mb(run_mb, workers), memory.available_mb()
    if need > free:
        fit = memory.workers_that_fit(run_mb, free)
        expected = f"at most {_workers(fit)}" if fit else "executor 'serial' (one run in this process)"
        raise ConfigError(f"workers = {workers}: {_workers(workers)} x {run_mb:,.0f} MB a run + {memory.BASE_MB:,.0f} MB "
                          f"for the driver = {need:,.0f} MB, the machine has {free:,.0f} MB available; "
                          f"expected {expected}")


def _workers(n: int) -> str:
    return f"{n} worker" + ("s" if n != 1 else "")


def make_executor(executor: str | cf.Executor = "process", workers: int | None = None,
                  scheduler: str | None = None) -> tuple[Callable[[], cf.Executor], int]:
    """(a maker of Executors, how many runs to keep in flight) for "serial", "process", "dask" or an Executor.

    The maker is called again when a pool's worker died; a Dask client is connected here, once. A given
    Executor is used as it is (not replaced if it breaks).
    """
    workers = check_workers(workers)
    if isinstance(executor, cf.Executor):
        return (lambda: executor), 2 * workers
    if scheduler and executor == "process":
        executor = "dask"
    if executor == "serial":
        return SerialExecutor, 1
    if executor == "process":
        return (lambda: process_pool(workers)), 2 * workers
    if executor == "dask":
        ex = DaskExecutor(scheduler, workers)
        return (lambda: ex), 2 * max(ex.threads, workers, 1)
    raise ValueError(f"executor = {executor!r}: expected one of {', '.join(EXECUTORS)} or a concurrent.futures.Executor")


def _failed(task, error: str) -> dict:
    """The manifest entry of a run that never returned one (its worker died, or Dask gave up on it)."""
    entry = {"point": task.point} if task.point is not None else {}
    return {**entry, "arm": task.arm, "replicate": task.replicate, "file": task.file, "status": "failed",
            "error": error}


def finished_runs(make_pool: Callable[[], cf.Executor], fn, tasks: list, inflight: int) -> Iterator[tuple]:
    """Yield (task, manifest entry) as runs finish, keeping at most ``inflight`` submitted.

    A dead worker (BrokenExecutor) ends its pool: a new pool is made, and each run that was in flight and
    had not finished is retried alone; if its worker dies again it is recorded failed ("worker died twice").
    Closing the generator cancels the runs not yet started.
    """
    queue, suspects = collections.deque(tasks), collections.deque()
    pending: dict[cf.Future, object] = {}
    alone = False  # the one run in flight is a suspect, run alone
    pool = make_pool()
    try:
        while queue or suspects or pending:
            if suspects and not pending:
                task = suspects.popleft()
                pending[pool.submit(fn, task)] = task
                alone = True
            while not suspects and not alone and queue and len(pending) < inflight:
                task = queue.popleft()
                pending[pool.submit(fn, task)] = task
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            broken = [f for f in done if isinstance(f.exception(), cf.BrokenExecutor)]
            if broken:
                pool.shutdown(wait=True)  # a broken pool settles every future it holds (none cancelled)
                done = list(pending)
            for fut in done:
                task = pending.pop(fut)
                error = fut.exception()
                if isinstance(error, cf.BrokenExecutor):
                    if alone:
                        yield task, _failed(task, f"worker died twice: {type(error).__name__}: {error}")
                    else:
                        suspects.append(task)
                elif error is not None:  # not the model (run_task records those): e.g. Dask's KilledWorker
                    yield task, _failed(task, f"{type(error).__name__}: {error}")
                else:
                    yield task, fut.result()
            if broken:
                pool = make_pool()
            alone = alone and bool(pending)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------------------------- the manifest


class ManifestWriter:
    """manifest.json and its run log: each finished run appended to runs.jsonl, the manifest rewritten after
    1, 2, 4, ... runs, at least every MANIFEST_EVERY_S, and at the end (when runs.jsonl is removed)."""

    def __init__(self, out: Path, manifest: dict, order: dict[str, int], done: dict[str, dict]):
        self.out, self.manifest, self.order = out, manifest, order
        self.entries = dict(done)
        self.finished = 0
        self.saved_at = 0.0
        self.save(resumed=len(done))
        (out / RUN_LOG).unlink(missing_ok=True)  # its entries are in the manifest now

    def save(self, **extra) -> None:
        self.manifest["runs"] = sorted(self.entries.values(), key=lambda e: self.order.get(e["file"], 0))
        self.manifest.update(extra)
        store.write_json(self.out / "manifest.json", self.manifest)
        self.saved_at = time.perf_counter()

    def add(self, entry: dict) -> None:
        self.entries[entry["file"]] = entry
        store.append_json_line(self.out / RUN_LOG, entry)
        self.finished += 1
        if self.finished & (self.finished - 1) == 0 or time.perf_counter() - self.saved_at > MANIFEST_EVERY_S:
            self.save()  # O(n) bytes written over a run of n

    def close(self, **extra) -> dict:
        self.save(finished=datetime.now(timezone.utc).isoformat(), **extra)
        (self.out / RUN_LOG).unlink(missing_ok=True)
        return self.manifest


# ----------------------------------------------------------------------------------------------- execute


def execute(tasks: list, fn, out: Path, manifest: dict, executor: str | cf.Executor = "serial",
            workers: int | None = None, scheduler: str | None = None, resume: bool = False, force: bool = False,
            progress: bool = False, stop_after: int | None = None, on_start=None) -> dict:
    """Run ``fn(task)`` for every task into ``out``; returns the final manifest (also in ``out``).

    ``manifest``: what to record besides the runs; it must hold ``kind`` and ``config_hash`` (check_folder).
    Every task has a ``file`` (relative to ``out``); ``fn`` returns the task's manifest entry. Everything that
    can be refused (folder, workers, a Dask scheduler that does not answer) is checked before anything is
    written. ``progress``: a bar of the runs done, failed and the time left (:mod:`abscopal.progress`).
    ``stop_after``: stop after that many runs (the rest stay missing; resume finishes them).
    ``on_start()``: writes the caller's own files once the folder is ready (a sweep's points.parquet).
    """
    done = check_folder(out, manifest["kind"], manifest["config_hash"], resume=resume, force=force)
    todo = [t for t in tasks if t.file not in done]
    check_memory(todo, executor, check_workers(workers), scheduler)
    make_pool, inflight = make_executor(executor, workers, scheduler) if todo else (None, 0)
    if force and out.exists():
        clear_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    if on_start:
        on_start()
    manifest.update(executor=executor if isinstance(executor, str) else type(executor).__name__,
                    versions=versions(), command=sys.argv, started=datetime.now(timezone.utc).isoformat())
    writer = ManifestWriter(out, manifest, {t.file: i for i, t in enumerate(tasks)}, done)
    t0 = time.perf_counter()
    failed = 0
    if todo:
        runs = finished_runs(make_pool, fn, todo, inflight)
        bar = progress_bar.bar(len(todo), manifest.get("experiment", "runs")) if progress else None
        try:
            for _, entry in runs:
                writer.add(entry)
                failed += entry["status"] != "ok"
                if bar is not None:
                    progress_bar.update(bar, failed)
                if stop_after is not None and writer.finished >= stop_after:
                    break
        finally:
            runs.close()
            if bar is not None:
                bar.close()
    return writer.close(wall_s=round(time.perf_counter() - t0, 3))
