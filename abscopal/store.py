"""Results on disk: one Parquet file per run, a manifest, and the summary.

Layout of an output folder (the results contract; see results/README.md):
  manifest.json                  resolved config, seeds, versions, times, status of every run
  runs/<arm>__r<replicate>.parquet   that run's time series (lesion rows and "systemic" rows)
  summary.parquet                one row per arm x replicate x lesion at the readout day
  snapshots/<arm>__r0.npz        lattices of replicate 0 before and after the ablation and at the readout
Every file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .config import ConfigError


class FolderError(ConfigError):
    """A results folder cannot be used as asked: missing, not ours, unreadable, or holding other results."""


class UnreadableFileWarning(UserWarning):
    """A run's file could not be read (missing, truncated): it is left out of what was read."""


def run_file(out: Path, arm: str, replicate: int) -> Path:
    return Path(out) / "runs" / f"{arm}__r{replicate}.parquet"


def snapshot_file(out: Path, arm: str, replicate: int) -> Path:
    return Path(out) / "snapshots" / f"{arm}__r{replicate}.npz"


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_bytes(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_frames(path: Path, frames: Iterable[pd.DataFrame], columns: Iterable[str] = (), dtypes: dict | None = None,
                 frames_per_group: int = 256) -> None:
    """One Parquet file from many small frames, written a row group at a time (memory bounded by a group).

    Every group has the first group's schema (a later group is cast to it); ``dtypes`` fixes the type of
    columns whose values could differ between groups (e.g. 0 in one, 0.5 in another). With no frames the
    file holds no rows and ``columns``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(tmp: Path) -> None:
        writer = None
        buffer: list[pd.DataFrame] = []

        def flush() -> None:
            nonlocal writer
            frame = pd.concat(buffer, ignore_index=True).astype(dtypes or {})
            buffer.clear()
            if writer is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = pq.ParquetWriter(tmp, table.schema)
            else:
                table = pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False)
            writer.write_table(table)

        try:
            for frame in frames:
                buffer.append(frame)
                if len(buffer) >= frames_per_group:
                    flush()
            if buffer:
                flush()
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pd.DataFrame(columns=list(columns)).to_parquet(tmp, index=False)

    atomic_write_bytes(path, write)


def append_json_line(path: Path, entry: dict) -> None:
    """Append one JSON object as a line (a run log that survives a kill: at most its last line is cut)."""
    with open(path, "a") as f:
        f.write(json.dumps(entry, default=str) + "\n")


def read_json_lines(path: Path) -> list[dict]:
    """The entries of a run log; a last line cut off by a kill is skipped."""
    if not Path(path).exists():
        return []
    entries = []
    for line in Path(path).read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def write_arrays(path: Path, arrays: dict) -> None:
    """Compressed .npz of named arrays (lattice snapshots)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write_bytes(path, write)


def write_json(path: Path, data: dict) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")

    atomic_write_bytes(path, write)


def check_writable_folder(out: Path, what: str) -> None:
    """FolderError unless ``out`` is a folder, or can be made one, that this process can write into.

    ``what`` names the folder in the message ("output folder", "figure folder")."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FolderError(f"{what} {out}: is a file, expected a folder")
    parent = next((p for p in [out, *out.parents] if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FolderError(f"{what} {out}: cannot write there ({parent} is not a writable folder)")


def read_manifest(out: Path) -> dict:
    """The manifest of a results folder, or FolderError saying why there is none to read."""
    path = Path(out) / "manifest.json"
    if Path(out).exists() and not Path(out).is_dir():
        raise FolderError(f"{out}: is a file, expected a results folder of abscopal run or sweep")
    if not Path(out).is_dir():
        raise FolderError(f"{out}: no such folder")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise FolderError(f"{out}: holds no manifest.json, not a results folder of abscopal run or sweep") from None
    except (ValueError, OSError) as e:
        raise FolderError(f"{path}: unreadable ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise FolderError(f"{path}: expected a manifest with a list of runs")
    return manifest


def read_timeseries(out: Path, runs: list[dict] | None = None) -> pd.DataFrame:
    """Concatenate the time series of the finished runs (all, or those listed); a file that cannot be
    read is left out with an UnreadableFileWarning naming it."""
    runs = runs if runs is not None else [r for r in read_manifest(out)["runs"] if r["status"] == "ok"]
    frames = []
    for r in runs:
        try:
            frames.append(pd.read_parquet(Path(out) / r["file"]))
        except FileNotFoundError:
            warnings.warn(f"{r['file']}: missing (manifest.json lists the run as finished)", UnreadableFileWarning,
                          stacklevel=2)
        except (OSError, ValueError) as e:  # truncated (pyarrow's errors are ValueErrors)
            warnings.warn(f"{r['file']}: {type(e).__name__}: {e}", UnreadableFileWarning, stacklevel=2)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
