"""The live view (``abscopal view``): a solara app of one run, with Mesa's input widgets.

The sidebar holds the controls (reset, play, pause, a day per step) and the inputs (``live.model_params``: the
arm, the seed, the replicate and the main parameters, with their units and allowed ranges, drawn by Mesa's
``UserInputs``); a changed input takes effect on Reset, and a bad one is refused in one line while the run shown
goes on. This module draws the run: the day and the treatments given so far, each lesion's lattice (cell states
or PD-L1, T cells over them) and the tumour burden and blood effectors over time. The run's config, arm and seed
come from ``abscopal view`` (environment variables ``ABSCOPAL_VIEW_CONFIG``, ``..._ARM``, ``..._SEED``);
``solara run abscopal.app`` shows the default experiment.

Mesa's ``SolaraViz`` page is not used: Mesa 3.5 gives it no option to leave out its "Time" (Mesa's clock, days
since the first simulated day, beside the experiment's day here) nor its "Use Threads" control, and its Reset
lets a bad input end in a traceback; the page here shows one clock, the day of the experiment.
"""

from __future__ import annotations

import os
import time

import solara
import solara.lab
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import UserInputs
from mesa.visualization.utils import force_update, update_counter

from . import live
from .plots.style import STATE_COLOURS, T_CELL_COLOURS

CONFIG = os.environ.get("ABSCOPAL_VIEW_CONFIG") or None
ARM = os.environ.get("ABSCOPAL_VIEW_ARM") or None
SEED = os.environ.get("ABSCOPAL_VIEW_SEED") or None
#: Solara's sidebar is as wide as its content ("min-content"), which Vuetify cannot reserve room for: the page and
#: the title would lie under it. Room beside it (the sidebar here is about 380 px wide).
SIDEBAR_CSS = """
.v-application .v-main { padding-left: 420px !important; }
.v-app-bar .v-toolbar__content { padding-left: 420px !important; }
"""
LATTICE_COLOURS = {"cell states": "states", "PD-L1 of live cells": "pd_l1"}


def treatment_lines(events: list[dict]) -> list[str]:
    """The treatments given so far, one line each, a drug's doses on one line: "day 0: cryo of index (114,071
    necrotic, 0 apoptotic cells)", "anti_pd1: doses on days 0, 3, 6"."""
    lines, doses = [], {}
    for e in events:
        kind, target, day = e["kind"], e["target"], f"day {e['day']:g}"
        if kind == "dose":
            doses.setdefault(target, []).append(f"{e['day']:g}")
        elif kind == "ablation":
            lines.append(f"{day}: {e['modality']} of {target} ({e['necrotic']:,} necrotic, {e['apoptotic']:,} apoptotic cells)")
        elif kind == "stop":
            lines.append(f"{day}: run stopped ({e['reason']})")
        else:
            lines.append(f"{day}: {kind} of {target}")
    return lines + [f"{drug}: doses on days {', '.join(days)}" for drug, days in doses.items()]


@solara.component
def Status(model: live.LiveModel):
    """The day, the arm and seed, the run's main parameters, and the treatments given so far."""
    update_counter.get()
    s = model.settings
    solara.Text(f"Day {model.day:g}", classes=["abscopal-day"], style={"font-size": "1.6em", "font-weight": "bold"})
    solara.Text(f"{model.params['label']} ({model.arm}), days {s['start_day']:g} to {s['end_day']:g}; seed {s['seed']}, "
                f"replicate {model.streams.seed.spawn_key[0]}" + ("" if model.running else "; finished"))
    values = ", ".join(f"{key.split('.')[1]} {model.params[key.split('.')[0]][key.split('.')[1]]:.4g}"
                       for key in live.MAIN_KEYS)
    solara.Text(f"this run: {values} (the replicate's individual scales precursors and growth; inputs take effect "
                f"on Reset)")
    given = treatment_lines(model.events)
    solara.Markdown("\n".join(f"- {line}" for line in given) if given else "no treatment yet")


@solara.component
def Lattices(model: live.LiveModel):
    """Each lesion's lattice as an image (a pixel per site), live cells by state or by PD-L1, T cells over them."""
    update_counter.get()
    colour, set_colour = solara.use_state("states")
    tumour = model.params["tumour"]
    top = tumour["pd_l1_baseline"] * tumour["pd_l1_max_fold"]
    solara.ToggleButtonsSingle(value=colour, on_value=set_colour,
                               children=[solara.Button(k, value=v) for k, v in LATTICE_COLOURS.items()])
    with solara.Row(classes=["abscopal-lattices"], style={"flex-wrap": "wrap"}):
        for name, lesion in model.lesions.items():
            window = model.window(name)
            side_mm = (window[0].stop - window[0].start) * lesion.cell_um / 1000
            with solara.Column(style={"width": "300px"}):
                solara.Text(f"{name}: {lesion.tissue.record()['tumor_cells']:,} live cells, "
                            f"{lesion.t_cells.active_count():,} effectors; {side_mm:.1f} mm across")
                solara.Image(live.lattice_image(lesion, window, colour, top), width="300px")
    key = " ".join(f'<span style="color: {v}">&#9632;</span> {k}' for k, v in {**STATE_COLOURS, **T_CELL_COLOURS}.items()
                   if k != "empty")
    solara.HTML(tag="div", unsafe_innerHTML=f"{key}; PD-L1 of live cells on viridis from 0 to {top:g} (the most IFN-γ "
                                            f"can induce); a pixel is a site of {model.params['tumour']['cell_diameter_um']:g} µm")


@solara.component
def Burden(model: live.LiveModel):
    """Live tumour cells per lesion and the blood's effectors over time, treatments as vertical lines."""
    update_counter.get()
    days: dict[str, list] = {}
    for row in model.records:
        days.setdefault(row["lesion"], []).append(row)
    fig = Figure(figsize=(8, 2.6), layout="constrained")
    cells, blood = fig.subplots(1, 2)
    for name, rows in days.items():
        if name != "systemic":
            cells.plot([r["time_day"] for r in rows], [r["tumor_cells"] for r in rows], label=name)
    systemic = days.get("systemic", [])
    blood.plot([r["time_day"] for r in systemic], [r["blood_effectors"] for r in systemic], color="#0072b2")
    for event in model.events:
        if event["kind"] != "stop":
            for ax in (cells, blood):
                ax.axvline(event["day"], color="0.5" if event["kind"] == "dose" else "0.2",
                           ls=":" if event["kind"] == "dose" else "--", lw=0.8)
    s = model.settings
    for ax, label in ((cells, "live tumour cells"), (blood, "effector T cells in blood")):
        ax.set_xlim(s["start_day"], s["end_day"])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("day (dashed: ablation, dotted: doses)")
        ax.set_ylabel(label)
    cells.legend(frameon=False, fontsize=8)
    with solara.Column(classes=["abscopal-burden"]):
        solara.FigureMatplotlib(fig, format="png")


#: The pause between two days while playing (s); a day of the default experiment takes 0.6 to 3 s to compute.
PLAY_PAUSE_S = 0.05


@solara.component
def Controls(model: solara.Reactive, inputs: dict):
    """Reset (a new run from ``inputs``; a bad input is refused in one line), play or pause, and step a day."""
    update_counter.get()
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)

    def play():
        while playing.value and model.value.running:
            time.sleep(PLAY_PAUSE_S)
            model.value.step()
            force_update()

    solara.lab.use_task(play, dependencies=[playing.value, model.value], prefer_threaded=True)

    def step():
        model.value.step()
        force_update()

    def reset():
        new, message = live.reset(model.value, CONFIG, **inputs)
        error.set(message)
        if new is not model.value:
            playing.set(False)
            model.set(new)

    running = model.value.running
    with solara.Row(justify="space-between"):
        solara.Button("Reset", color="primary", on_click=reset)
        solara.Button("❚❚" if playing.value and running else "▶", color="primary", disabled=not running,
                      on_click=lambda: playing.set(not playing.value))
        solara.Button("Step", color="primary", on_click=step, disabled=playing.value or not running)
    if error.value:
        # solara.Error passes text=True to vuetify's Alert, which this ipyvuetify refuses (a Unicode trait)
        solara.Text(error.value, classes=["abscopal-input-error"], style={"color": "#b00020"})


@solara.component
def Page():
    """The controls and inputs in the sidebar; the run's status, lattices and curves beside them."""
    first = solara.use_memo(lambda: live.LiveModel(config=CONFIG, arm=ARM, seed=SEED), [])
    model = solara.use_reactive(first)
    widgets = solara.use_memo(lambda: live.model_params(CONFIG, first.arm, first.settings["seed"]), [])
    inputs = solara.use_reactive({k: v["value"] for k, v in widgets.items() if isinstance(v, dict)})

    def on_change(name, value):
        if name == "arm" and value != inputs.value["arm"]:  # the sliders show the chosen arm's values
            inputs.set({**inputs.value, "arm": value, **live.arm_values(CONFIG, value)})
        else:
            inputs.set({**inputs.value, name: value})

    shown = {k: {**v, "value": inputs.value[k]} for k, v in widgets.items() if isinstance(v, dict)}
    solara.Style(SIDEBAR_CSS)
    solara.AppBarTitle(f"abscopal: {first.settings['name']}")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run"):
            Controls(model, inputs.value)
        with solara.Card("Inputs (take effect on Reset)"):
            UserInputs(shown, on_change=on_change).key(f"inputs-{inputs.value['arm']}")
    with solara.Column(style={"padding": "0 16px"}):
        Status(model.value)
        Lattices(model.value)
        Burden(model.value)
