"""The Results of an experiment: tidy time series, the readout summary, the event log, the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import individual, store


def _pct(new: pd.Series, old: pd.Series) -> pd.Series:
    return 100.0 * (new - old) / old.where(old > 0)


def summarise_run(ts: pd.DataFrame, params: dict, readout_day: float, events: list[dict] = ()) -> pd.DataFrame:
    """One row per lesion of one run: burden and longest diameter at baseline and readout, and their change.

    Baseline is the day of the ablation (day 0 when the arm has none); a lesion seeded later uses its
    first day. The treated lesion is the ablated one. ``events``: the run's event log; its ``stop`` entry
    (early stopping) gives ``stop_reason`` and ``stop_day``, else they are "end_day" and the last day. A run
    that stopped before the readout day reads out at its last day.
    """
    ablation = params.get("ablation")
    baseline_day = ablation["day"] if ablation else 0.0
    treated = ablation["lesion"] if ablation else None
    lesions = ts[ts["lesion"] != "systemic"]
    rows = []
    for name, g in lesions.groupby("lesion", sort=False):
        g = g.sort_values("time_day")
        base = g[g["time_day"] <= baseline_day]
        base = base.iloc[-1] if len(base) else g.iloc[0]
        read = g[g["time_day"] <= readout_day].iloc[-1]
        rows.append({
            "lesion": name,
            "role": "treated" if name == treated else "untreated",
            "baseline_day": base["time_day"],
            "readout_day": read["time_day"],
            "tumor_cells_baseline": base["tumor_cells"],
            "tumor_cells_readout": read["tumor_cells"],
            "longest_diameter_baseline_mm": base["longest_diameter_mm"],
            "longest_diameter_readout_mm": read["longest_diameter_mm"],
            "effector_t_cells_peak": g["effector_t_cells"].max(),
            "pd_l1_readout": read["pd_l1_mean"],
        })
    out = pd.DataFrame(rows)
    out["burden_change_pct"] = _pct(out["tumor_cells_readout"], out["tumor_cells_baseline"])
    out["diameter_change_pct"] = _pct(out["longest_diameter_readout_mm"], out["longest_diameter_baseline_mm"])
    systemic = ts[ts["lesion"] == "systemic"]
    out["primed_cd8_total"] = systemic.loc[systemic["time_day"] <= readout_day, "primed_cd8_total"].iloc[-1]
    stop = next((e for e in events if e["kind"] == "stop"), None)
    out["stop_reason"] = stop["reason"] if stop else "end_day"
    out["stop_day"] = float(stop["day"] if stop else ts["time_day"].max())
    return out


def summarise_file(out: Path, run: dict, params: dict, readout_day: float, ids: dict) -> pd.DataFrame:
    """summarise_run of one run's file, with the identifying columns (``ids``: arm, replicate, ...) first
    and the individual's drawn factors (``individual_<trait>``) last."""
    s = summarise_run(pd.read_parquet(Path(out) / run["file"]), params, readout_day, run.get("events", ()))
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
        """Per arm and lesion: runs, median and 90 % range of the change in burden at the readout."""
        s = self.summary
        if s.empty:
            return s
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

