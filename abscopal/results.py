"""The Results of an experiment: tidy time series, the readout summary, the event log, the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import individual, readouts, store


def reference_day(params: dict) -> float:
    """The arm's baseline day for the summary: the day of its ablation (its first fraction), else day 0."""
    ablation = params.get("ablation")
    return float(ablation["day"]) if ablation else 0.0


def summarise_file(out: Path, run: dict, params: dict, readout_day: float, ids: dict) -> pd.DataFrame:
    """:func:`readouts.summarise_run` of one run's file (baseline: :func:`reference_day`), with the identifying
    columns (``ids``: arm, replicate, ...) first and the individual's drawn factors (``individual_<trait>``) last."""
    s = readouts.summarise_run(pd.read_parquet(Path(out) / run["file"]), readout_day, reference_day(params),
                               run.get("events", ()), params.get("readout"))
    for i, (key, value) in enumerate(ids.items()):
        s.insert(i, key, value)
    for key, value in individual.columns(run.get("individual", {})).items():
        s[key] = value
    return s


class StoredResults:
    """An output folder's manifest and frames; on disk (``path`` set) frames are read when first asked for."""

    def __init__(self, path: Path | None, manifest: dict, frames: dict[str, pd.DataFrame] | None = None):
        self.path = path
        self.manifest = manifest
        self._frames = frames or {}

    @property
    def runs_ok(self) -> list[dict]:
        return [r for r in self.manifest["runs"] if r["status"] == "ok"]

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.manifest["runs"] if r["status"] != "ok"]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per run and lesion at the readout day (see results/README.md)."""
        if "summary" not in self._frames:
            self._frames["summary"] = pd.read_parquet(self.path / "summary.parquet")
        return self._frames["summary"]


class Results(StoredResults):
    """What an experiment wrote: time series, summary, events, manifest."""

    @classmethod
    def open(cls, out: str | Path) -> "StoredResults":
        """Reopen a results folder read-only: Results for a run, SweepResults for a sweep; writes nothing."""
        out = Path(out)
        manifest = store.read_manifest(out)
        if manifest.get("kind") == "sweep" or "points" in manifest:
            from .sweep import SweepResults

            return SweepResults(out, manifest)
        return cls(out, manifest)

    @classmethod
    def build(cls, out: Path) -> "Results":
        """Summarise a finished output folder (writes summary.parquet; figures are drawn by abscopal.plots)."""
        out = Path(out)
        manifest = store.read_manifest(out)
        res = cls(out, manifest)
        summaries = (
            summarise_file(out, run, manifest["arms"][run["arm"]], manifest["settings"]["readout_day"],
                           {"arm": run["arm"], "replicate": run["replicate"]})
            for run in res.runs_ok
        )
        store.write_frames(out / "summary.parquet", summaries)
        return res

    @property
    def timeseries(self) -> pd.DataFrame:
        """Tidy time series of every finished run: one row per arm, replicate, day and lesion."""
        if "timeseries" not in self._frames:
            self._frames["timeseries"] = store.read_timeseries(self.path, self.runs_ok)
        return self._frames["timeseries"]

    @property
    def events(self) -> pd.DataFrame:
        """Every treatment event that happened: arm, replicate, kind, day, target and details."""
        rows = [{"arm": r["arm"], "replicate": r["replicate"], **e} for r in self.runs_ok for e in r["events"]]
        return pd.DataFrame(rows)

    def in_memory(self) -> "Results":
        """A copy that holds every frame in memory and needs no folder."""
        return Results(None, self.manifest, {"timeseries": self.timeseries, "summary": self.summary})

    def outcome_table(self) -> pd.DataFrame:
        """Per arm and lesion: runs, median and 90 % range of the change in burden at the readout; arms in the
        config's order."""
        s = self.summary
        if s.empty:
            return s
        order = {arm: i for i, arm in enumerate(self.manifest.get("arms") or {})}
        s = s.sort_values("arm", key=lambda arms: arms.map(order).fillna(len(order)), kind="stable")
        g = s.groupby(["arm", "lesion"], sort=False)["burden_change_pct"]
        table = pd.DataFrame({
            "runs": g.size(),
            "median_change_pct": g.median(),
            "p05": g.quantile(0.05),
            "p95": g.quantile(0.95),
            "peak_effectors_median": s.groupby(["arm", "lesion"], sort=False)["effector_t_cells_peak"].median(),
        })
        return table.round(1)

    def __repr__(self) -> str:
        where = self.path or "memory"
        return f"<Results {self.manifest['experiment']}: {len(self.runs_ok)} runs ok, {len(self.failed)} failed, {where}>"

