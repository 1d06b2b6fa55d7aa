"""Every figure a results folder supports, with a caption each in ``figures/index.md``."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import config, readouts, store
from .style import (
    _arms, _file_name, _measure, _present, _thresholds, GRID_LEVELS_MAX, manifest_styles, ONE_COLUMN_IN, paper_style,
    POINTS_MAX, TWO_COLUMN_IN,
)
from .burden import _n_text, _save, burden_figure, spider, waterfall_by_arm
from .survival import KM_OFFSET_PT, kaplan_meier_plot
from .sweeps import acting_arms, burden_by_point, morris_plot, parameter_response, response_heatmap, sobol_bars
from .snapshots import _snapshot_days, lesion_snapshots, snapshot_window


# ---- a results folder ---------------------------------------------------------------------------
def _sweep_parameters(manifest: dict, summary: pd.DataFrame) -> list[str]:
    """The swept keys (the manifest's axes) that take more than one value in the summary."""
    return [k for k in manifest.get("keys", []) if k in summary.columns and summary[k].nunique() > 1]


def _binned(values: pd.Series) -> pd.Series:
    """A grid axis as it is; a sampled parameter cut into quintiles (ordered intervals) for a heatmap."""
    if values.nunique() <= GRID_LEVELS_MAX:
        return values
    return pd.qcut(values, 5, duplicates="drop")


def _responders(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per run with an assessed lesion: ``responder`` if any lesion never treated locally and present at
    baseline is CR or PR by its diameter at the readout (the summary's ``abscopal_responder``)."""
    assessed = summary[summary["abscopal_responder"].notna()]
    responder = assessed["abscopal_responder"].astype(bool).rename("responder")
    return assessed[keys].join(responder).groupby(keys, sort=False, dropna=False).any().reset_index()


def folder_criteria(manifest: dict, summary: pd.DataFrame | None = None) -> readouts.Criteria:
    """The response criteria a results folder was read out with: an experiment's resolved ``[readout]``, a
    sweep's summary ``criteria``; RECIST 1.1 for a folder written before the criteria were a parameter."""
    if summary is not None:
        named = summary["criteria"].dropna() if "criteria" in summary.columns else ()
        table = manifest.get("config", {}).get("readout") or {}
        return readouts.Criteria.of({**table, "criteria": named.iloc[0]} if len(named) else "recist")
    arms = manifest.get("arms") or {}
    return readouts.Criteria.of(next(iter(arms.values()), {}).get("readout", "recist"))


def _experiment_figures(path: Path):
    """(name, figure, caption) for every figure an experiment folder supports."""
    from ..results import Results

    res = Results(path, store.read_manifest(path))
    ts, events = res.timeseries, res.events
    if ts.empty:
        raise store.FolderError(f"{path}: no run's time series could be read ({len(res.runs_ok)} runs ok in the manifest)")
    styles, c = manifest_styles(res.manifest), folder_criteria(res.manifest)
    readout = float(res.manifest.get("settings", {}).get("readout_day", ts["time_day"].max()))
    n = _n_text(ts)
    yield ("tumour_burden", burden_figure(res, styles),
           f"Live tumour cells per lesion and arm over time: median, 50 % and 90 % bands over individuals ({n}); "
           f"dashed line: ablation, triangles: each arm's doses.")
    treated_somewhere = set(readouts.lesion_roles(events)["lesion"])  # in some arm: not an abscopal lesion
    lesions = ts[(ts["lesion"] != readouts.SYSTEMIC) & (ts["time_day"] <= 0)]["lesion"]
    assessments = c.assessment_days(0.0, ts["time_day"].max())
    treated = events if len(events) else None
    untreated = [name for name in dict.fromkeys(lesions) if name not in treated_somewhere] if len(assessments) else []
    lo, hi = _thresholds(c)
    every = f"assessments every {c.assessment_interval_days:g} days"
    for lesion in untreated:
        best = readouts.best_response(ts, treated, day=readout, criteria=c)
        fig = waterfall_by_arm(best, lesion, styles=styles, criteria=c)
        fig.suptitle(f"{lesion} lesion: best response by day {readout:g}, {c.title}", fontsize=8)
        yield (f"waterfall_{lesion}", fig,
               f"Best change in the {lesion} lesion's {_measure(c)} from day 0 up to the readout (day {readout:g}; "
               f"{every}, the best from day {c.best_response_from_day:g} on) per individual and arm ({n}), "
               f"coloured by best response ({c.title}); dotted lines: {lo:g} % and +{hi:g} %.")
        fig = spider(ts, lesion, styles=styles, criteria=c)
        fig.suptitle(f"{lesion} lesion, {c.title}", fontsize=8)
        yield (f"spider_{lesion}", fig,
               f"Change in the {lesion} lesion's {_measure(c)} from day 0 per individual (thin) and the arm's "
               f"median (thick), one panel per arm ({n}); dotted lines: {lo:g} % and +{hi:g} % ({c.title}).")
    tte = readouts.time_to_event(ts, assessments, treated_lesion=treated, events=treated, criteria=c)
    progression = (f"a lesion at {c.progression_volume_fold:g} x its baseline volume or a new lesion"
                   if c.by_volume else f"progression by {c.title}")
    offset = f"each arm's curve drawn {KM_OFFSET_PT:g} pt above the previous one's, so that coinciding curves stay visible"
    captions = {
        "pfs": ("km_pfs", False, f"Kaplan-Meier progression-free survival per arm ({n}; event: {progression}, "
                f"{every}), 95 % bands, + censored; log-rank p over all arms; {offset}."),
        "distant_response": ("km_distant_response", True, "Cumulative distant (abscopal) response per arm "
                             f"({n}): 1 - Kaplan-Meier estimate of the time to the first assessment ({every}) with "
                             f"an untreated lesion at PR or CR ({c.title}); 95 % bands, + censored; log-rank p; {offset}."),
    }
    for endpoint, (name, cumulative, caption) in captions.items():
        part = tte[tte["endpoint"] == endpoint]
        if not len(part):
            continue
        test = readouts.logrank(part)
        p = test.loc[test["comparison"] == "all", "p_value"]
        fig = kaplan_meier_plot(readouts.kaplan_meier(part), logrank_p=p.iloc[0] if len(p) else None,
                                styles=styles, cumulative=cumulative)
        legend = fig.axes[0].get_legend()  # the criteria head the legend: a title over the axes met the y label
        test_line = legend.get_title().get_text()
        legend.set_title(c.title.replace(" (", "\n(") + (f"\n{test_line}" if test_line else ""))
        yield name, fig, caption
    readable = {}
    for snap in sorted((path / "snapshots").glob("*.npz")):
        try:
            with np.load(snap) as npz:
                readable[snap] = dict(npz)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # truncated
            warnings.warn(f"{snap.relative_to(path)}: {type(e).__name__}: {e}", store.UnreadableFileWarning)
    window = snapshot_window(readable.values()) if readable else None
    order = {arm: i for i, arm in enumerate(styles)}
    for snap in sorted(readable, key=lambda f: order.get(f.stem.split("__")[0], len(order))):
        arm = snap.stem.split("__")[0]
        label = styles[arm].label if arm in styles else arm
        names = list(dict.fromkeys(k.split("/")[0] for k in readable[snap] if k.endswith("/state")))
        for kind, pd_l1, what in (("snapshots", False, "live tumour, necrotic, apoptotic and empty sites"),
                                  ("pd_l1", True, "PD-L1 of live tumour cells (1 = constitutive), necrotic, "
                                                  "apoptotic and empty sites")):
            ndays = len(_snapshot_days(readable[snap], names[0]))
            fig, axes = plt.subplots(len(names), ndays, figsize=(TWO_COLUMN_IN, 2.0 * len(names) + 0.3),
                                     squeeze=False, layout="constrained")
            arrays = readable[snap]
            top = max(float(arrays[k][arrays[k.replace("/pd_l1", "/state")] == 1].max(initial=0.0))
                      for k in arrays if k.endswith("/pd_l1")) or None  # one PD-L1 scale for every lesion
            for row, name in zip(axes, names):
                lesion_snapshots(snap, name, ax=row, pd_l1=pd_l1, window=window, pd_l1_max=top)
            for row in axes[1:]:  # one legend and one scale bar, on the first row
                row[-1].get_legend().remove()
                row[0].artists[0].remove()
            for bar in [a for a in fig.axes if a.get_label() == "<colorbar>"][:-1]:  # one colour bar, the last
                bar.remove()
            fig.suptitle(f"{label}, individual {snap.stem.split('__r')[-1]}", fontsize=8)
            yield (f"{kind}_{snap.stem}", fig,
                   f"Lesions of {label}, individual {snap.stem.split('__r')[-1]}: {what}, T cells (dots); the same "
                   f"zoom in every snapshot figure of the folder; the day-0 lattice is just before the ablation.")


def _sweep_figures(path: Path, manifest: dict, summary: pd.DataFrame):
    """(name, figure, caption) for a sweep: response per parameter, a response heatmap when two
    parameters vary, burden per point for small sweeps, Sobol indices (Morris mu*, sigma) for a Sobol (Morris) sweep."""
    from ..sweep import SweepResults

    params = _sweep_parameters(manifest, summary)
    abscopal = summary[summary["role"] == readouts.UNTREATED]  # a lesion's response where no local event touched it
    untreated = list(dict.fromkeys(abscopal["lesion"]))
    styles, c = manifest_styles(manifest), folder_criteria(manifest, summary)
    sample = manifest.get("sweep", {}).get("sample", {})
    lo, hi = _thresholds(c)
    readout = manifest.get("config", {}).get("experiment", {}).get("readout_day")
    readout = float(readout if readout is not None else summary.get("readout_day", pd.Series([np.nan])).max())
    runs = summary.groupby([col for col in ("point", "arm") if col in summary.columns])["replicate"].nunique()
    n = f"n = {runs.min()} per point and arm" if runs.min() == runs.max() else "n varies by point and arm"
    for lesion in untreated:
        for key in params:
            here = abscopal[abscopal["lesion"] == lesion]
            if not here["arm"].isin(acting_arms(key, _arms(summary))).any():
                continue  # the key acts only on arms in which this lesion is treated
            log_x = isinstance(sample.get(key), dict) and sample[key].get("scale") == "log"
            fig = parameter_response(abscopal, key, lesion, styles=styles, log_x=log_x, criteria=c,
                                     sampled=key in sample)
            fig.axes[0].set_title(f"readout day {readout:g}; {n}\n{c.title}", fontsize=6)
            others = [other for other in params if other != key]
            pooled = f"; pooled over {', '.join(map(config.axis_label, others))}" if others else ""
            yield (f"response_{lesion}_{_file_name(key)}", fig,
                   f"Change in the {lesion} lesion's {_measure(c)} at the readout against "
                   f"{config.axis_label(key)}, per arm it acts on (grid: median and 25-75 % range over runs{pooled}; "
                   f"sampled: one dot per point, mean of replicates); dotted lines: {lo:g} % and +{hi:g} % "
                   f"({c.title}).")
    if len(params) == 2:
        x, y = params
        keys = [col for col in ("point", "arm", "replicate") if col in summary.columns]
        runs = _responders(summary, [*keys, x, y])
        runs[x], runs[y] = _binned(runs[x]), _binned(runs[y])
        shown = _present(styles, runs[runs["arm"].isin(set(acting_arms(x, _arms(runs))) & set(acting_arms(y, _arms(runs))))])
        fig, axes = plt.subplots(1, len(shown), figsize=(min(ONE_COLUMN_IN * len(shown), TWO_COLUMN_IN), 2.8),
                                 squeeze=False, layout="constrained")
        for ax, (arm, style) in zip(axes[0], shown.items()):
            response_heatmap(runs[runs["arm"] == arm], x, y, ax=ax)
            ax.set_title(style.label, color=style.colour)
        yield (f"response_rate_{_file_name(x)}_{_file_name(y)}", fig,
               f"Abscopal response rate (an untreated lesion at PR or CR at the readout, {c.title}) over "
               f"{config.axis_label(x)} and {config.axis_label(y)}, per arm (sampled parameters in quintiles); "
               f"each cell: rate and number of runs.")
    if 0 < len(manifest.get("points", [])) <= POINTS_MAX:
        res = SweepResults.open(path)
        for lesion in untreated:
            yield (f"burden_by_point_{lesion}", burden_by_point(res, lesion, styles=styles or None),
                   f"Live tumour cells of the {lesion} lesion over time at each point of the sweep (panel "
                   f"titles: its parameter values), median over replicates per arm.")
    yield from _sensitivity_figures(path, summary)


def _sensitivity_figures(path: Path, summary: pd.DataFrame):
    """Sensitivity of each untreated lesion's change in burden, per arm, for a Sobol or Morris sweep without grid
    axes: Sobol indices (:func:`sobol_bars`) or Morris mu* against sigma (:func:`morris_plot`)."""
    from ..sensitivity import sensitivity
    from ..sweep import SweepResults

    res = SweepResults.open(path)
    spec = res.manifest.get("sweep", {})
    method = spec.get("method")
    if method not in ("sobol", "morris") or spec.get("grid"):
        return
    untreated = summary.loc[summary["role"] == readouts.UNTREATED, ["arm", "lesion"]].drop_duplicates()
    styles = manifest_styles(res.manifest)
    for arm, lesion in untreated.itertuples(index=False):
        indices = sensitivity(res, output=f"{lesion}_change_pct", arm=arm)
        fig = (sobol_bars(indices) if method == "sobol" else
               morris_plot(indices, unit="% points of live tumour cells per range"))
        label = styles[arm].label if arm in styles else arm
        fig.axes[0].set_title(f"{label}: {lesion} lesion")
        caption = (f"Sobol first- and total-order indices of the {lesion} lesion's change in live tumour cells "
                   f"at the readout, arm {arm}, with their 95 % bootstrap intervals." if method == "sobol" else
                   f"Morris screening of the {lesion} lesion's change in live tumour cells (%) at the readout, "
                   f"arm {arm}: mean absolute elementary effect μ* (per whole range of each parameter, 95 % "
                   f"bootstrap interval) against their SD σ; dotted: σ = μ*.")
        yield f"{method}_{lesion}_{arm}", fig, caption


@paper_style()
def plot_results(results_dir, out=None, fmt: str = "png") -> list[Path]:
    """Write every figure ``results_dir`` supports into ``out`` (default ``results_dir/figures``).

    An experiment: tumour burden per lesion, waterfall and spider plots of every untreated lesion,
    Kaplan-Meier progression-free survival, lesion snapshots when present. A sweep (its manifest says so
    and names the swept keys): each untreated lesion's response against every swept parameter, a
    response-rate heatmap per arm when two parameters vary, burden over time per point for sweeps of up
    to :data:`POINTS_MAX` points, and Sobol indices (Morris mu* against sigma) per arm for a Sobol (Morris)
    sweep. ``fmt``: "png" (300 dpi), "pdf" or "svg" (vector). Also writes ``index.md``: a line of caption per figure, naming every format
    of it in the folder. Returns the paths written, index.md last. A folder with no results to read raises
    store.FolderError; a run file (or snapshot) that cannot be read is left out with a
    store.UnreadableFileWarning naming it (``abscopal plot`` lists them and exits 1).
    """
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"fmt = {fmt!r}: expected 'png', 'pdf' or 'svg'")
    path = Path(results_dir)
    out = Path(out) if out is not None else path / "figures"
    manifest = store.read_manifest(path)
    store.check_writable_folder(out, "figure folder")
    if manifest.get("kind") == "sweep":
        try:
            summary = pd.read_parquet(path / "summary.parquet")
        except (OSError, ValueError) as e:
            raise store.FolderError(f"{path / 'summary.parquet'}: unreadable ({type(e).__name__}: {e}); "
                                    f"abscopal.SweepResults.build rebuilds it from the run files") from None
        figures = _sweep_figures(path, manifest, summary)
    else:
        figures = _experiment_figures(path)
    written, lines = [], [f"# Figures of {path.name}", ""]
    for name, fig, caption in figures:
        written.append(_save(fig, out / f"{name}.{fmt}"))
        files = [f"`{name}.{ext}`" for ext in ("png", "pdf", "svg") if (out / f"{name}.{ext}").exists()]
        lines.append(f"- {', '.join(files)}: {caption}")
    index = out / "index.md"
    out.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines) + "\n")
    return [*written, index]
