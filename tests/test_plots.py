"""Figures: every one renders headless from real (short) results, with its labels, legend and reference lines."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

import abscopal
from abscopal import plots, readouts, store
from abscopal.cli import main
from abscopal.plots.report import _responders
from abscopal.results import Results

from conftest import small_config

ARMS = ["control", "cryo_anti_pd1"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    abscopal.run(abscopal.resolve(small_config(end_day=6, readout_day=6)), replicates=3, out=out)
    return Results(out, store.read_manifest(out))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def hlines(ax) -> set[float]:
    """y of the horizontal lines spanning the axes (axhline)."""
    return {round(float(line.get_ydata()[0]), 6) for line in ax.get_lines()
            if len(set(line.get_ydata())) == 1 and tuple(line.get_xdata()) == (0, 1)}


def synthetic_snapshot(path, n=40):
    """A small lesion: a live disc with a necrotic core and apoptotic rim sites, before and after."""
    rr, cc = np.mgrid[:n, :n]
    r = np.hypot(rr - n / 2, cc - n / 2)
    before = np.where(r < 12, 1, 0).astype(np.int8)
    after = before.copy()
    after[r < 6] = 2
    after[(r >= 6) & (r < 7)] = 3
    t_cells = np.array([[20, 28, 0], [10, 20, 1], [25, 12, 0]])
    arrays = {"cell_um": np.array(20.0)}
    for day, state, t in (("day0", before, np.zeros((0, 3), int)), ("day10", after, t_cells)):
        arrays |= {f"distant/{day}/state": state, f"distant/{day}/pd_l1": (state == 1) * (1 + r / n),
                   f"distant/{day}/t_cells": t}
    np.savez_compressed(path, **arrays)
    return path


def test_burden_over_time_bands_events_and_legend(results):
    fig = plots.burden_over_time(results.timeseries, "distant", events=results.events)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("day after ablation", "live tumour cells (×10³)")
    assert legend_texts(ax) == [*ARMS, "ablation", "doses (triangles, in the arm's colour)"]
    assert len(ax.collections) == 2 * len(ARMS)  # 50 % and 90 % band per arm (3 individuals)
    few = results.timeseries[results.timeseries["replicate"] < 2]
    assert not plots.burden_over_time(few, "distant").axes[0].collections  # no bands with 2 individuals
    ablation = [line for line in ax.get_lines() if line.get_label() == "ablation"]
    assert [tuple(line.get_xdata()) for line in ablation] == [(0.0, 0.0)]
    doses = [line for line in ax.get_lines() if line.get_marker() == "^"]
    assert list(doses[0].get_xdata()) == [0.0, 3.0, 6.0]


def test_save_burden_figure_has_a_panel_per_lesion_and_one_legend(results, tmp_path):
    path = plots.save_burden_figure(results, tmp_path / "b.png")
    assert path.stat().st_size > 0
    fig = plots.burden_figure(results)
    assert [ax.get_title() for ax in fig.axes] == ["index lesion", "distant lesion"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [*ARMS, "ablation", "doses (triangles, in the arm's colour)"]
    assert fig.legends[0].get_title().get_text() == "n = 3 per arm"


def test_waterfall_sorts_bars_with_categories_and_reference_lines(results):
    best = readouts.best_response(results.timeseries, results.events, day=6.0)
    ax = plots.waterfall(best, "distant").axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 3 * len(ARMS) and heights == sorted(heights, reverse=True)
    assert {-50.0, 35.0, 0.0} <= hlines(ax)  # Gao 2015's PR and PD thresholds of the volume
    assert "volume (%)" in ax.get_ylabel()
    present = [c for c in plots.RESPONSE_COLOURS if c in set(best.loc[best["lesion"] == "distant", "best_response"])]
    assert legend_texts(ax) == present  # only the categories that occur
    assert "Gao 2015" in ax.get_legend().get_title().get_text()
    recist = readouts.best_response(results.timeseries, results.events, day=6.0, criteria="recist")
    ax = plots.waterfall(recist, "distant", criteria="recist").axes[0]
    assert {-30.0, 20.0} <= hlines(ax) and "longest diameter (%)" in ax.get_ylabel()
    fig = plots.waterfall_by_arm(best, "distant")
    assert [ax.get_title() for ax in fig.axes] == [f"{arm}\n(n = 3)" for arm in ARMS]
    assert [len(ax.patches) for ax in fig.axes] == [3, 3]
    assert [ax.get_legend() is not None for ax in fig.axes] == [False, True]


def test_waterfall_colours_bars_by_best_response():
    best = pd.DataFrame({"arm": "a", "replicate": range(3), "lesion": "distant",
                         "best_change_pct": [-97.0, -60.0, 50.0], "best_response": ["CR", "SD", "PD"]})
    ax = plots.waterfall(best).axes[0]
    assert [p.get_facecolor()[:3] for p in ax.patches] == [
        pytest.approx(to_rgb(plots.RESPONSE_COLOURS[c])) for c in ("PD", "SD", "CR")]
    assert legend_texts(ax) == ["CR", "SD", "PD"]


def test_spider_has_a_panel_per_arm_with_individuals_and_the_median(results):
    fig = plots.spider(results.timeseries, "distant")
    assert [ax.get_title() for ax in fig.axes] == [f"{arm}\n(n = 3)" for arm in ARMS]
    for ax in fig.axes:
        curves = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
        assert len(curves) == 3 + 1 and all(line.get_ydata()[0] == 0 for line in curves)
        assert {-50.0, 35.0} <= hlines(ax)
        assert max(line.get_linewidth() for line in curves) == curves[-1].get_linewidth()  # the median, thickest
    assert legend_texts(fig.axes[-1]) == ["individual", "median"]


def test_arms_keep_the_configs_order_labels_and_styles():
    styles = plots.arm_styles(["b_arm", "a_arm", "c_arm"], {"a_arm": "A + B"})
    assert [s.label for s in styles.values()] == ["b_arm", "A + B", "c_arm"]
    assert len({(s.colour, s.dashes, s.marker) for s in styles.values()}) == 3
    assert all(s.colour in plots.OKABE_ITO for s in styles.values())
    ts = pd.DataFrame({"arm": ["c_arm", "a_arm"], "replicate": 0, "time_day": 0.0, "lesion": "distant",
                       "tumor_cells": 1.0})
    ax = plots.burden_over_time(ts, "distant", styles=styles).axes[0]
    assert legend_texts(ax) == ["A + B", "c_arm"]  # the styles' order, not the data's


def test_kaplan_meier_plot_numbers_at_risk_and_p_value():
    tte = pd.DataFrame({"arm": ["a"] * 3 + ["b"] * 3, "endpoint": "pfs", "time_day": [3, 6, 9, 9, 9, 9],
                        "event": [True, True, False, False, False, True]})
    km = readouts.kaplan_meier(tte)
    ax = plots.kaplan_meier_plot(km, logrank_p=0.0123).axes[0]
    assert ax.get_ylabel() == "progression-free survival"
    rising = plots.kaplan_meier_plot(km.assign(endpoint="distant_response"), cumulative=True).axes[0]
    assert rising.get_ylabel() == "cumulative distant response"
    assert list(rising.get_lines()[0].get_ydata())[-1] == pytest.approx(1 - km.loc[km["arm"] == "a", "survival"].iloc[-1])
    assert ax.get_legend().get_title().get_text().startswith("log-rank p = 0.012\ncurves offset")
    assert legend_texts(ax) == ["a", "b"]
    texts = [t.get_text() for t in ax.texts]
    assert "number at risk" in texts
    assert texts[1] == "a" and "b" in texts  # each row of numbers named by its arm
    at_risk = {float(t): txt for t, txt in zip(ax.get_xticks(), texts[2:])}  # arm a's row first
    assert at_risk[0.0] == "3"
    assert len(ax.collections) >= 2  # a band per arm


def test_kaplan_meier_curves_that_coincide_are_offset_and_the_legend_says_so():
    """Two arms with the same times (both at 100 % response) must not be drawn on one line."""
    tte = pd.DataFrame({"arm": ["a"] * 3 + ["b"] * 3, "endpoint": "distant_response", "time_day": [6, 9, 12] * 2,
                        "event": True})
    fig = plots.kaplan_meier_plot(readouts.kaplan_meier(tte), cumulative=True)
    ax = fig.axes[0]
    fig.canvas.draw()
    steps = [line for line in ax.get_lines() if line.get_linestyle() != "None"][:2]
    y = [line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]))[:, 1] for line in steps]
    gap = y[1] - y[0]  # display pixels, the same at every point
    assert gap == pytest.approx(np.full(len(gap), plots.KM_OFFSET_PT * fig.dpi / 72))
    assert "offset" in ax.get_legend().get_title().get_text()


def test_response_heatmap_annotates_rate_and_runs():
    frame = pd.DataFrame({"dose": [1, 1, 1, 2, 2, 1, 2, 2], "margin": [0, 0, 0, 0, 0, 5, 5, 5],
                          "responder": [True, False, False, True, True, True, True, False]})
    ax = plots.response_heatmap(frame, "dose", "margin").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dose", "margin")
    texts = {t.get_text() for t in ax.texts}
    assert {"33%\nn=3", "100%\nn=2", "100%\nn=1", "50%\nn=2"} == texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "0"]


def test_lesion_snapshots_from_a_synthetic_lesion(tmp_path):
    path = synthetic_snapshot(tmp_path / "a__r0.npz")
    fig = plots.lesion_snapshots(path, "distant")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["distant, day 0", "distant, day 10"]
    assert axes[0].artists and "mm" in axes[0].artists[0].txt_label.get_text()  # the scale bar
    assert {"live tumour", "necrotic", "apoptotic", "empty", "T cell", "exhausted T cell"} == set(
        legend_texts(axes[-1]))
    assert sum(len(c.get_offsets()) for c in axes[1].collections) == 3  # T cells as dots
    fig = plots.lesion_snapshots(path, "distant", pd_l1=True)
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_sobol_bars_with_confidence_intervals():
    indices = pd.DataFrame({"parameter": ["immune.kill_probability", "drug.dose", "ablation.margin_mm"],
                            "S1": [0.5, 0.1, 0.2], "S1_conf": [0.05, 0.02, 0.04],
                            "ST": [0.6, 0.15, 0.3], "ST_conf": [0.06, 0.03, 0.05]})
    ax = plots.sobol_bars(indices).axes[0]
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_yticklabels()] == ["drug.dose", "ablation.margin_mm",
                                                            "immune.kill_probability"]
    assert legend_texts(ax) == ["first order (S1)", "total order (ST)"]
    assert ax.get_xlabel() == "Sobol index"


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_plot_results_writes_every_figure_and_an_index(results, tmp_path, fmt):
    written = plots.plot_results(results.path, out=tmp_path, fmt=fmt)
    names = [p.name for p in written]
    figures = ("tumour_burden", "waterfall_distant", "spider_distant", "km_pfs", "km_distant_response",
               "snapshots_control__r0", "pd_l1_control__r0", "snapshots_cryo_anti_pd1__r0",
               "pd_l1_cryo_anti_pd1__r0")
    assert names == [f"{n}.{fmt}" for n in figures] + ["index.md"]
    assert all(p.stat().st_size > 0 for p in written)
    index = (tmp_path / "index.md").read_text()
    assert all(f"`{n}`" in index for n in names[:-1])


def test_plot_results_of_a_sweep_draws_responses_and_the_heatmap(tmp_path):
    rows = [{"point": 2 * (kill > 0.2) + (margin > 0), "arm": "cryo", "replicate": r, "lesion": lesion, "role": role,
             "diameter_change_pct": change, "longest_diameter_baseline_mm": 7.0, "kill": kill, "margin": margin,
             "abscopal_responder": pd.NA if role != "untreated" else change <= -30.0,
             "stop_reason": "end_day"}  # a column the swept keys do not name is not a parameter
            for kill in (0.1, 0.3) for margin in (0.0, 5.0) for r in range(2)
            for lesion, role, change in (("index", "ablated", -100.0), ("distant", "untreated", -40.0 * r * (kill > 0.2)))]
    pd.DataFrame(rows).astype({"abscopal_responder": "boolean"}).to_parquet(tmp_path / "summary.parquet")
    store.write_json(tmp_path / "manifest.json", {"kind": "sweep", "keys": ["kill", "margin"], "points": [],
                                                  "sweep": {"method": "grid"}, "runs": []})
    written = plots.plot_results(tmp_path)
    assert [p.name for p in written] == ["response_distant_kill.png", "response_distant_margin.png",
                                         "response_rate_kill_margin.png", "index.md"]
    assert "kill and margin" in written[-1].read_text()
    ax = plots.parameter_response(pd.DataFrame(rows), "kill").axes[0]
    medians = ax.get_lines()[0].get_ydata()
    assert list(medians) == [0.0, -20.0]  # median over the two replicates at kill 0.1 and 0.3
    assert {-30.0, 20.0} <= hlines(ax)
    ax = plots.parameter_response(pd.DataFrame(rows), "kill", log_x=True).axes[0]
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all("×" not in t and "^" not in t for t in labels)  # plain numbers on a log axis


def test_plot_results_of_a_grid_sweep_draws_burden_per_point(tmp_path):
    cfg = small_config(end_day=2, readout_day=2)
    sweep = abscopal.Sweep(cfg, grid={"immune.kill_probability": [0.05, 0.5],
                                      "lesions.distant.blood_flow_share": [0.02, 0.2]}, replicates=1, seed=1)
    sweep.run(out=tmp_path / "grid", executor="serial")
    written = plots.plot_results(tmp_path / "grid", fmt="png")
    plots.plot_results(tmp_path / "grid", fmt="svg")
    names = [p.name for p in written]
    assert {"response_distant_immune.kill_probability.png", "response_rate_immune.kill_probability_distant.blood_flow_share.png",
            "burden_by_point_distant.png"} <= set(names)
    fig = plots.burden_by_point(abscopal.SweepResults.open(tmp_path / "grid"))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 4 and all(len(ax.get_lines()) == 2 for ax in panels)  # a median line per arm
    assert "immune.kill_probability = 0.05" in panels[0].get_title()
    index = (tmp_path / "grid" / "figures" / "index.md").read_text()
    assert "`burden_by_point_distant.png`, `burden_by_point_distant.svg`" in index  # every format listed


def test_cli_plot_prints_the_files_written(results, tmp_path, capsys):
    assert main(["plot", str(results.path), "--out", str(tmp_path), "--format", "pdf"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[-1] == str(tmp_path / "index.md") and len(printed) == 10
    assert all((tmp_path / p).stat().st_size > 0 for p in printed)


def sensitivity_sweep(out, method: str, n: int):
    """A real sweep of two sampled parameters over days -2..2 (serial): a sobol or morris design."""
    pytest.importorskip("SALib")
    sweep = abscopal.Sweep(small_config(end_day=2, readout_day=2),
                           sample={"immune.kill_probability": (0.05, 0.5), "tumour.growth_rate_per_day": (0.2, 0.6)},
                           method=method, n=n, replicates=1, seed=1)
    return sweep.run(out=out, executor="serial")


def test_plot_results_of_a_sobol_sweep_draws_sobol_indices(tmp_path):
    sensitivity_sweep(tmp_path / "sobol", "sobol", n=4)
    names = [p.name for p in plots.plot_results(tmp_path / "sobol")]
    assert "sobol_distant_cryo_anti_pd1.png" in names and "sobol_index_control.png" in names
    assert "sobol_index_cryo_anti_pd1.png" not in names  # the ablated lesion is not an abscopal readout
    assert "Sobol" in (tmp_path / "sobol" / "figures" / "index.md").read_text()


def test_morris_plot_places_parameters_by_mu_star_and_sigma():
    indices = pd.DataFrame({"parameter": ["immune.kill_probability", "drug.dose"], "mu": [4.0, -0.5],
                            "mu_star": [4.0, 1.0], "mu_star_conf": [0.5, 0.2], "sigma": [1.0, 2.0]})
    ax = plots.morris_plot(indices).axes[0]
    points = [line for line in ax.lines if line.get_marker() in ("o", "s")]  # not the caps (|)
    assert [(list(p.get_xdata()), list(p.get_ydata())) for p in points] == [([4.0], [1.0]), ([1.0], [2.0])]
    assert points[0].get_color() != points[1].get_color()
    assert legend_texts(ax) == ["kill_probability", "dose"]  # last part of the key when unique
    bars = [c.get_segments()[0] for c in ax.collections]  # mu* interval as horizontal error bars
    assert [tuple(np.round(b[:, 0], 9)) for b in bars] == [(3.5, 4.5), (0.8, 1.2)]
    diagonal = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(diagonal) == 1 and list(diagonal[0].get_xdata()) == list(diagonal[0].get_ydata())
    assert ax.get_xlabel().startswith("μ*") and ax.get_ylabel().startswith("σ")
    same_last_part = indices.assign(parameter=["a.dose", "b.dose"])
    assert legend_texts(plots.morris_plot(same_last_part).axes[0]) == ["a.dose", "b.dose"]


def test_plot_results_of_a_morris_sweep_draws_mu_star_and_sigma(tmp_path):
    res = sensitivity_sweep(tmp_path / "morris", "morris", n=2)
    assert len(res.runs_ok) == 2 * (2 + 1) * 2 and not res.failed
    table = abscopal.sensitivity(res, output="distant_change_pct")
    assert table.groupby("arm").size().to_dict() == {"control": 2, "cryo_anti_pd1": 2}
    assert table[["mu", "mu_star", "mu_star_conf", "sigma"]].notna().all().all()
    names = [p.name for p in plots.plot_results(tmp_path / "morris")]
    assert "morris_distant_cryo_anti_pd1.png" in names and "morris_index_control.png" in names
    assert "morris_index_cryo_anti_pd1.png" not in names and not any(n.startswith("sobol") for n in names)
    assert "Morris" in (tmp_path / "morris" / "figures" / "index.md").read_text()


def test_a_resected_lesion_is_no_responder_in_the_sweep_heatmap():
    """Issue 8: the heatmap counted a resected lesion's -100 % as a complete abscopal response."""
    from test_readouts import resected_events, resected_ts

    ts = resected_ts()
    run = ts[ts["arm"] == "surgery"].drop(columns=["arm", "replicate"]).assign(primed_cd8_total=0.0)
    summary = readouts.summarise_run(run, readout_day=21, events=resected_events()).assign(arm="surgery", replicate=0)
    runs = _responders(summary, ["arm", "replicate"])
    assert len(runs) == 1 and not runs["responder"].any()
    resected = summary[summary["lesion"] == "index"]
    assert list(resected["response"]) == ["CR"]


def test_sweep_figures_draw_what_acts_and_sampled_levels_as_points():
    """Issue 10: a reference arm against its own-arm key, Morris's 4 levels joined by lines, μ* below 0."""
    assert plots.acting_arms("arms.cryo.ablation.margin_mm", ["control", "cryo"]) == ["cryo"]
    assert plots.acting_arms("immune.kill_probability", ["control", "cryo"]) == ["control", "cryo"]
    rows = pd.DataFrame({"arm": ["control", "cryo"] * 4, "replicate": 0, "lesion": "distant", "point": range(8),
                         "arms.cryo.ablation.margin_mm": [0, 0, 1, 1, 2, 2, 3, 3], "diameter_change_pct": 1.0})
    ax = plots.parameter_response(rows, "arms.cryo.ablation.margin_mm", sampled=True).axes[0]
    assert legend_texts(ax) == ["cryo"] and ax.get_xlabel() == "ablation: margin (mm), arm cryo"
    assert all(line.get_linestyle() == "None" for line in ax.get_lines() if len(line.get_xdata()) == 4)
    indices = pd.DataFrame({"parameter": ["a.x"], "mu": [0.1], "mu_star": [0.2], "mu_star_conf": [0.5],
                            "sigma": [0.3]})
    ax = plots.morris_plot(indices, unit="% per range").axes[0]
    (bar,) = [c.get_segments()[0] for c in ax.collections]
    assert tuple(np.round(bar[:, 0], 9)) == (0.0, 0.7)  # clipped at 0, not 0.2 - 0.5
    assert ax.get_xlabel().endswith("(% per range)")
