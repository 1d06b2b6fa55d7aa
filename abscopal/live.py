"""A run to watch (``abscopal view``): the model a day at a time, its lattices as images, and its inputs.

Nothing here needs solara: the app (``abscopal.app``) draws what this module computes. Lattices become RGB
arrays by table look-up (one array operation per lesion, no per-cell Python objects), so a lesion of 1e5 cells
draws in milliseconds.
"""

from __future__ import annotations

import math
import re

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from threadpoolctl import threadpool_limits

from . import build
from .config import ConfigError, axis_label, lookup
from .lesion.tissue import LIVE
from .model import AbscopalModel
from .plots.style import STATE_COLOURS, T_CELL_COLOURS

#: The parameters the app offers as sliders (dotted config keys, set for every arm).
MAIN_KEYS = ("immune.kill_probability", "immune.kill_budget", "tumour.growth_rate_per_day",
             "lymph_node.naive_precursors", "trafficking.influx_max_per_mm2_per_day")


class LiveModel(AbscopalModel):
    """A run watched a day at a time: ``running`` turns False after ``experiment.end_day`` or an early stop.

    ``seed`` and ``replicate`` may be text (the app's input boxes); ``values``: dotted config keys (``MAIN_KEYS``)
    and their values, set for the chosen arm (over any value the arm sets itself). ``scenario``: what Mesa passes
    on a reset (a Scenario with a fresh rng); ignored, as the config, arm, seed and replicate determine the run.
    """

    def __init__(self, config=None, arm: str | None = None, seed: int | str | None = None,
                 replicate: int | str = 0, scenario=None, **values):
        exp = build.experiment(config)
        self.arm = build.choose_arm(exp, arm)
        overrides = {f"arms.{self.arm}.{key}": value for key, value in values.items()}
        super().__init__(config=exp, arm=self.arm, seed=whole_number(seed), replicate=whole_number(replicate),
                         overrides=overrides or None)
        self.running = self.day < self.settings["end_day"] - 1e-9
        self.extents: dict[str, tuple[int, int]] = {}  # see window

    def step(self) -> None:
        """One day (on one BLAS thread, as ``run``); then stop at the end day or an early-stopping condition."""
        with threadpool_limits(limits=1, user_api="blas"):
            super().step()
        self.running = self.day < self.settings["end_day"] - 1e-9 and not self.check_stop()

    def window(self, name: str) -> tuple[slice, slice]:
        """The part of a lesion's lattice to draw: the widest its tissue has spanned while watched, so that the
        zoom holds and a shrinking lesion is seen to shrink."""
        state = self.lesions[name].state
        now = tissue_extent(state) or self.extents.get(name, (0, state.shape[0]))
        low, high = self.extents.get(name, now)
        self.extents[name] = (min(low, now[0]), max(high, now[1]))
        return square_window(self.extents[name], state.shape[0])


def slider(key: str, value: float) -> dict:
    """A Mesa input (UserInputs) slider for a config key: its schema range, cut to at most 5 x the default where the
    schema allows far more (a slider across [0, 1e6] could not set 150); the label names the unit and the range."""
    _, p = lookup(key)
    low = 0.0 if p.low is None else p.low
    high = p.high if p.high is not None else 5 * p.default
    if p.default > 0:
        high = min(high, 5 * p.default)
    whole = type(p.default) is int
    step = 1 if whole else _nice_step((high - low) / 100)
    name = axis_label(key).split(": ", 1)[1]  # "kill budget (kills)"
    return {"type": "SliderInt" if whole else "SliderFloat", "value": value, "min": low, "max": high, "step": step,
            "label": f"{name} {low:g}-{high:g}"}


def _nice_step(x: float) -> float:
    """1, 2 or 5 times a power of ten, the largest not above ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    return max(m * power for m in (1, 2, 5) if m * power <= x)


def whole_number(text):
    """The number in an input box's text ("7", " 7 ", "-1" become 7, 7, -1; the checks of the model then say what
    is allowed); anything else as given, for those checks to name."""
    if isinstance(text, str) and re.fullmatch(r"\s*[+-]?\d+\s*", text):
        return int(text)
    return text


def reset(current: LiveModel, config=None, **inputs) -> tuple[LiveModel, str | None]:
    """A new run from the app's inputs (arm, seed, replicate, ``MAIN_KEYS``), or, for a bad input, ``current``
    and the one-line message that names the input and what is expected (the run shown goes on)."""
    try:
        return LiveModel(config=config, **inputs), None
    except ConfigError as e:
        return current, f"{e}; the run shown goes on"


def arm_values(config, arm: str) -> dict:
    """The ``MAIN_KEYS`` values of ``arm`` (its own where it sets them, else the experiment's)."""
    params = build.experiment(config).arms[arm]
    return {key: params[key.split(".")[0]][key.split(".")[1]] for key in MAIN_KEYS}


def model_params(config=None, arm: str | None = None, seed: int | None = None) -> dict:
    """The app's inputs (Mesa's ``model_params``): the config (fixed), the arm, the seed, the replicate and the
    sliders of ``MAIN_KEYS`` at the arm's values."""
    exp = build.experiment(config)
    arm = build.choose_arm(exp, arm)
    inputs = {
        "config": config,
        "arm": {"type": "Select", "value": arm, "values": list(exp.arms), "label": "arm"},
        "seed": {"type": "InputText", "value": str(exp.settings["seed"] if seed is None else seed),
                 "label": "seed (experiment.seed)"},
    }
    if exp.settings["replicates"] > 1:
        inputs["replicate"] = {"type": "SliderInt", "value": 0, "min": 0, "max": exp.settings["replicates"] - 1,
                               "step": 1, "label": "replicate (individual)"}
    for key, value in arm_values(exp, arm).items():
        inputs[key] = slider(key, value)
    return inputs


# ---- lattices as images ------------------------------------------------------------------------
STATE_RGB = (np.array([to_rgb(c) for c in STATE_COLOURS.values()]) * 255).astype(np.uint8)
T_CELL_RGB = (np.array([to_rgb(c) for c in T_CELL_COLOURS.values()]) * 255).astype(np.uint8)
PD_L1_RGB = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def tissue_extent(state: np.ndarray) -> tuple[int, int] | None:
    """The sites [low, high) that the tissue spans on both axes, or None for an empty lattice."""
    rows, cols = np.flatnonzero(state.any(axis=1)), np.flatnonzero(state.any(axis=0))
    if rows.size == 0:
        return None
    return int(min(rows[0], cols[0])), int(max(rows[-1], cols[-1]) + 1)


def square_window(extent: tuple[int, int], n: int) -> tuple[slice, slice]:
    """The square window of an ``n`` x ``n`` lattice around the sites [low, high), with a margin of a tenth."""
    low, high = extent
    pad = max(4, (high - low) // 10)
    side = slice(max(low - pad, 0), min(high + pad, n))
    return side, side


def lattice_image(lesion, window: tuple[slice, slice], colour: str = "states", pd_l1_top: float = 1.0) -> np.ndarray:
    """An RGB image (uint8, one pixel per site) of a lesion's ``window``: cell states, or live cells coloured by
    PD-L1 on a scale to ``pd_l1_top`` (``colour="pd_l1"``); T cells painted over, exhausted ones in their colour."""
    rs, cs = window
    state = lesion.state[rs, cs]
    image = STATE_RGB[state]
    if colour == "pd_l1":
        level = np.clip(lesion.pd_l1[rs, cs] / pd_l1_top * 255, 0, 255).astype(np.uint8)
        live = state == LIVE
        image[live] = PD_L1_RGB[level[live]]
    tc = lesion.t_cells
    if tc.size:
        r, c = tc.row - rs.start, tc.col - cs.start  # lattice sites (int64)
        inside = (r >= 0) & (r < state.shape[0]) & (c >= 0) & (c < state.shape[1])
        image[r[inside], c[inside]] = T_CELL_RGB[tc.exhausted[inside].astype(np.int64)]
    return image
