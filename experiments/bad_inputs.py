"""The bad-input audit (issue 8): every bad input we know of, tried through the command line, with what it prints.

    .venv/bin/python experiments/bad_inputs.py            # the table (Markdown) on stdout
    .venv/bin/python experiments/bad_inputs.py --only seed --json

Each case is an ``abscopal`` command (run, sweep, validate, plot, params) in a fresh temporary folder that holds
its files. It passes if it exits with the expected code (2 for bad input), prints exactly one line on stderr
starting ``abscopal: `` and naming the problem (``match``), shows no traceback and writes nothing (or only
what ``writes`` allows). The table gives, per case, the input, the exit code, the first stderr line, whether
a traceback appeared, what was written and the verdict; ``tests/test_bad_inputs.py`` asserts the same on
this list.

A script in experiments/ (like benchmark.py), not tools/: it measures the package through its own CLI with
the project's venv, and the test module imports its case list. Importing abscopal takes seconds, so the
cases are not separate interpreters: one process imports the CLI and forks a child per case, which calls
``abscopal.cli.main`` as the console script does (``sys.exit(main())``: an uncaught exception prints its
traceback and exits 1), with stdout and stderr on files. Only the two fixtures (a finished run and a
finished sweep, for the folder and plot cases) run a simulation: a 2-day, 2 mm experiment.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads in the parent that forks
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

#: The tiny valid experiment every config case changes: two 2 mm lesions, two arms, days -1 to 1.
BASE: dict[str, dict[str, str]] = {
    "experiment": {"name": '"tiny"', "start_day": "-1", "end_day": "1", "readout_day": "1", "replicates": "1",
                   "seed": "1"},
    "lesions.index": {"diameter_mm": "2.0", "domain_mm": "4.0"},
    "lesions.distant": {"diameter_mm": "2.0", "domain_mm": "4.0"},
    "arms.control": {},
    "arms.cryo": {"ablation": '{ modality = "cryo", lesion = "index", day = 0, margin_mm = 1.0 }'},
}
SWEEP = {"sweep": {"method": '"grid"'}, "sweep.grid": {'"immune.kill_probability"': "[0.1, 0.3]"}}


def toml(changes: dict[str, dict[str, str | None]] | None = None, raw: str = "") -> str:
    """BASE with ``changes`` (table -> key -> TOML value; None drops the key, {} for a table drops it) as text."""
    tables = {name: dict(keys) for name, keys in BASE.items()}
    for name, keys in (changes or {}).items():
        if keys is None:
            tables.pop(name, None)
            continue
        table = tables.setdefault(name, {})
        for key, value in keys.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    lines = []
    for name, keys in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n" + raw


def shown(changes: dict[str, dict[str, str | None]]) -> str:
    """The changed lines of a config as the table shows them."""
    parts = []
    for name, keys in changes.items():
        if keys is None:
            parts.append(f"no [{name}]")
        else:
            parts += [f"[{name}] {k} = {v}" if v is not None else f"[{name}] no {k}" for k, v in keys.items()]
    return "; ".join(parts)


@dataclass
class Case:
    """One bad input: the command (``{cfg}`` is the config file, paths relative to the case's folder)."""

    id: str
    input: str  # what the table shows
    argv: list[str]
    match: str  # a part of the expected stderr line (the key or what is wrong)
    files: dict[str, str | bytes] = field(default_factory=dict)
    fixture: str | None = None  # "run" or "sweep": a finished results folder copied to res/
    setup: Callable[[Path], None] | None = None  # changes to the case's folder after files and fixture
    exit: int = 2
    writes: tuple[str, ...] = ()  # path prefixes a case may write (e.g. the figures of a partly readable folder)


def config_case(id: str, changes: dict, match: str, command: str = "validate", sweep: bool = False,
                extra: list[str] = ()) -> Case:
    cfg = toml({**(SWEEP if sweep else {}), **changes})
    return Case(id, shown(changes), [command, "{cfg}", *extra], match, files={"c.toml": cfg})


def set_case(id: str, sets: list[str], match: str, command: str = "validate", sweep: bool = False) -> Case:
    argv = [command, "{cfg}"]
    for s in sets:
        argv += ["--set", s]
    return Case(id, " ".join(f"--set {s}" for s in sets), argv, match,
                files={"c.toml": toml(SWEEP if sweep else None)})


def cli_case(id: str, args: list[str], match: str, command: str = "run", sweep: bool = False, **kw) -> Case:
    files = {"c.toml": toml(SWEEP if sweep else None), "afile": "x", **kw.pop("files", {})}
    return Case(id, f"{command} CONFIG {' '.join(args)}".strip(), [command, "{cfg}", *args], match, files=files, **kw)


# ----------------------------------------------------------------------------------------------- the cases

#: Sections and the key whose wrong values each tries (a number with a range, one of its durations or rates).
SECTION_KEYS = {
    "experiment": "end_day", "tumour": "growth_rate_per_day", "release": "antigen_decay_per_day",
    "dendritic_cells": "maturation_per_day", "lymph_node": "divisions", "trafficking": "influx_max_per_mm2_per_day",
    "immune": "kill_probability", "suppressors": "mdsc_death_per_day", "individual": "growth_rate_sd_log",
    "tlr9_agonist": "half_life_days", "cryoablation": "rim_death_max", "heat_ablation": "rim_death_max",
    "inflammation": "resolution_per_day", "radiotherapy": "penumbra_mm",
}


def section_cases() -> list[Case]:
    """Every section: a string, a boolean, NaN, inf and a negative value for a number; an unknown key; a value
    where the table should be."""
    cases = []
    for section, key in SECTION_KEYS.items():
        wrong = {"string": '"fast"', "bool": "true", "nan": "nan", "inf": "inf", "negative": "-1",
                 "unknown": None, "not_a_table": None}
        for kind, value in wrong.items():
            if kind == "unknown":
                changes, match = {section: {f"{key}_typo": "1"}}, f"unknown key {section}.{key}_typo"
            elif kind == "not_a_table":
                cases.append(Case(f"{section}-{kind}", f"{section} = 5", ["validate", "{cfg}"], f"{section} = 5",
                                  files={"c.toml": f"{section} = 5\n" + toml({section: None})}))
                continue
            else:
                changes, match = {section: {key: value}}, f"{section}.{key} = "
            if section == "experiment" and kind == "negative":
                changes, match = {section: {"end_day": "-1"}}, "experiment.end_day = -1"
            cases.append(config_case(f"{section}-{kind}", changes, match))
    cases.append(config_case("integer-fraction", {"lymph_node": {"divisions": "2.5"}},
                             "lymph_node.divisions = 2.5: expected a whole number"))
    cases.append(config_case("above-range", {"immune": {"kill_probability": "1.5"}},
                             "immune.kill_probability = 1.5: expected a value in [0, 1]"))
    cases.append(config_case("string-choice", {"arms.cryo": {"ablation": '{ modality = "laser" }'}},
                             "arms.cryo.ablation.modality = 'laser'"))
    cases.append(config_case("name-number", {"experiment": {"name": "5"}}, "experiment.name = 5: expected a string"))
    cases.append(config_case("unknown-section", {"immunity": {"kill_probability": "0.2"}}, "unknown section immunity"))
    cases.append(config_case("time-step-divisor", {"experiment": {"time_step_h": "5"}}, "experiment.time_step_h = 5"))
    cases.append(config_case("time-step-zero", {"experiment": {"time_step_h": "0"}}, "experiment.time_step_h = 0"))
    cases.append(config_case("experiment-replicates-zero", {"experiment": {"replicates": "0"}}, "experiment.replicates = 0"))
    cases.append(config_case("experiment-seed-negative", {"experiment": {"seed": "-1"}}, "experiment.seed = -1"))
    cases.append(config_case("experiment-seed-float", {"experiment": {"seed": "1.5"}}, "experiment.seed = 1.5"))
    cases.append(config_case("stop-when-cleared-int", {"experiment": {"stop_when_cleared": "1"}},
                             "experiment.stop_when_cleared = 1: expected true or false"))
    return cases


def day_cases() -> list[Case]:
    """Days out of order: readout after the end, start after the end, procedures outside the simulated days."""
    ablation = "arms.cryo"
    return [
        config_case("readout-after-end", {"experiment": {"readout_day": "5"}}, "experiment.readout_day = 5"),
        config_case("readout-before-start", {"experiment": {"readout_day": "-3"}}, "experiment.readout_day = -3"),
        config_case("start-after-end", {"experiment": {"start_day": "0", "end_day": "0", "readout_day": "0"}},
                    "experiment.end_day = 0"),
        config_case("start-positive", {"experiment": {"start_day": "2"}}, "experiment.start_day = 2"),
        config_case("start-fractional", {"experiment": {"start_day": "-1.5"}}, "experiment.start_day = -1.5"),
        config_case("end-negative", {"experiment": {"end_day": "-0.5", "readout_day": "-1"}}, "experiment.end_day = -0.5"),
        config_case("ablation-before-start", {ablation: {"ablation": '{ modality = "cryo", day = -3 }'}},
                    "arms.cryo.ablation.day = -3"),
        config_case("ablation-after-end", {ablation: {"ablation": '{ modality = "cryo", day = 5 }'}},
                    "arms.cryo.ablation.day = 5"),
        config_case("ablation-fractional-day", {ablation: {"ablation": '{ modality = "cryo", day = 0.5 }'}},
                    "arms.cryo.ablation.day = 0.5: expected a whole day"),
        config_case("drug-before-start", {"arms.drug": {"drugs.anti_pd1": "{ start_day = -5 }"}},
                    "arms.drug.drugs.anti_pd1.start_day = -5"),
        config_case("drug-after-end", {"arms.drug": {"drugs.anti_pd1": "{ start_day = 5 }"}},
                    "arms.drug.drugs.anti_pd1.start_day = 5"),
        config_case("resection-after-end", {"arms.surgery": {"resection": '{ lesion = "index", day = 9 }'}},
                    "arms.surgery.resection.day = 9"),
        config_case("metastasis-after-end", {"arms.met": {"metastases.lung": "{ day = 9 }"}},
                    "arms.met.metastases.lung.day = 9"),
        config_case("metastasis-fractional-day", {"arms.met": {"metastases.lung": "{ day = 0.5 }"}},
                    "arms.met.metastases.lung.day = 0.5"),
        config_case("ablation-before-metastasis", {"arms.met": {"metastases.lung": "{ day = 1, diameter_mm = 0.5 }",
                                                            "ablation": '{ lesion = "lung", day = 0 }'}},
                    "arms.met.ablation.day = 0: expected after the day metastasis 'lung' is seeded"),
        config_case("resection-on-metastasis-day", {"arms.met": {"metastases.lung": "{ day = 1, diameter_mm = 0.5 }",
                                                             "resection": '{ lesion = "lung", day = 1 }'}},
                    "arms.met.resection.day = 1: expected after the day metastasis 'lung' is seeded"),
        config_case("adjuvant-before-metastasis", {"arms.met": {"metastases.lung": "{ day = 1, diameter_mm = 0.5 }",
                                                            "adjuvant": '{ lesion = "lung", day = -1 }'}},
                    "arms.met.adjuvant.day = -1: expected after the day metastasis 'lung' is seeded"),
        config_case("ablation-after-resection", {"arms.cryo": {"resection": '{ lesion = "index", day = 0 }',
                                                               "ablation": '{ lesion = "index", day = 1 }'}},
                    "arms.cryo.ablation.day = 1: expected before the resection of lesion 'index'"),
        config_case("adjuvant-after-resection", {"arms.cpg": {"resection": '{ lesion = "index", day = 0 }',
                                                              "adjuvant": '{ lesion = "index", day = 0 }'}},
                    "arms.cpg.adjuvant.day = 0: expected before the resection of lesion 'index'"),
        config_case("adjuvant-before-start", {"arms.cpg": {"adjuvant": '{ lesion = "index", day = -4 }'}},
                    "arms.cpg.adjuvant.day = -4"),
    ]


def treatment_cases() -> list[Case]:
    """Each treatment's table: unknown keys, keys of another modality, lesions that do not exist, bad counts."""
    arm = "arms.cryo"
    abl = lambda text: {arm: {"ablation": "{ " + text + " }"}}  # noqa: E731
    return [
        config_case("ablation-unknown-key", abl('modality = "cryo", depth_mm = 3'), "unknown key arms.cryo.ablation.depth_mm"),
        config_case("ablation-other-modality-key", abl('modality = "cryo", peak_temperature_c = 90'),
                    "arms.cryo.ablation.peak_temperature_c = 90.0: a setting of modality 'heat'; expected only those of "
                    "'cryo'"),
        config_case("ablation-unknown-lesion", abl('modality = "cryo", lesion = "liver"'), "arms.cryo.ablation.lesion = 'liver'"),
        config_case("ablation-margin-range", abl('modality = "cryo", margin_mm = 80'), "arms.cryo.ablation.margin_mm = 80"),
        config_case("cryo-cycles-zero", abl('modality = "cryo", freeze_thaw_cycles = 0'), "arms.cryo.ablation.freeze_thaw_cycles = 0"),
        config_case("cryo-probe-warm", abl('modality = "cryo", probe_temperature_c = 10'), "arms.cryo.ablation.probe_temperature_c = 10"),
        config_case("heat-below-necrosis", abl('modality = "heat", peak_temperature_c = 50'),
                    "arms.cryo.ablation.peak_temperature_c = 50"),
        config_case("radiotherapy-fractions-zero", abl('modality = "radiotherapy", fractions = 0'),
                    "arms.cryo.ablation.fractions = 0"),
        config_case("radiotherapy-dose-nan", abl('modality = "radiotherapy", dose_per_fraction_gy = nan'),
                    "arms.cryo.ablation.dose_per_fraction_gy = nan"),
        config_case("ablation-not-a-table", {arm: {"ablation": '"cryo"'}}, "arms.cryo.ablation = 'cryo'"),
        config_case("ablation-top-level", {"ablation": {"modality": '"cryo"'}}, "ablation = {'modality': 'cryo'}: a treatment at the top level"),
        config_case("drugs-top-level", {"drugs.anti_pd1": {"start_day": "0"}}, "drugs = "),
        config_case("drug-unknown", {"arms.drug": {"drugs.nivolumab": "{ start_day = 0 }"}}, "unknown drug arms.drug.drugs.nivolumab"),
        config_case("drug-doses-zero", {"arms.drug": {"drugs.anti_pd1": "{ doses = 0 }"}}, "arms.drug.drugs.anti_pd1.doses = 0"),
        config_case("drug-doses-fraction", {"arms.drug": {"drugs.anti_pd1": "{ doses = 1.5 }"}}, "arms.drug.drugs.anti_pd1.doses = 1.5"),
        config_case("drug-dose-negative", {"arms.drug": {"drugs.anti_pd1": "{ dose_mg_per_kg = -10 }"}},
                    "arms.drug.drugs.anti_pd1.dose_mg_per_kg = -10"),
        config_case("drug-interval-zero", {"arms.drug": {"drugs.anti_pd1": "{ interval_days = 0 }"}},
                    "arms.drug.drugs.anti_pd1.interval_days = 0"),
        config_case("drug-dose-string", {"arms.drug": {"drugs.anti_pd1": '{ dose_mg_per_kg = "10 mg/kg" }'}},
                    "arms.drug.drugs.anti_pd1.dose_mg_per_kg = '10 mg/kg'"),
        config_case("pharmacology-unknown-drug", {"pharmacology.nivolumab": {"kd_nm": "1"}}, "unknown drug pharmacology.nivolumab"),
        config_case("pharmacology-kd-zero", {"pharmacology.anti_pd1": {"kd_nm": "0"}}, "pharmacology.anti_pd1.kd_nm = 0"),
        config_case("adjuvant-unknown-agent", {"arms.cpg": {"adjuvant": '{ agent = "bcg" }'}}, "arms.cpg.adjuvant.agent = 'bcg'"),
        config_case("adjuvant-unknown-lesion", {"arms.cpg": {"adjuvant": '{ lesion = "liver" }'}}, "arms.cpg.adjuvant.lesion = 'liver'"),
        config_case("adjuvant-injections-zero", {"arms.cpg": {"adjuvant": "{ injections = 0 }"}}, "arms.cpg.adjuvant.injections = 0"),
        config_case("resection-unknown-lesion", {"arms.surgery": {"resection": '{ lesion = "liver", day = 0 }'}},
                    "arms.surgery.resection.lesion = 'liver'"),
        config_case("resection-unknown-key", {"arms.surgery": {"resection": '{ lesion = "index", margin_mm = 1 }'}},
                    "unknown key arms.surgery.resection.margin_mm"),
        config_case("metastasis-named-as-lesion", {"arms.met": {"metastases.distant": "{ day = 0 }"}},
                    "arms.met.metastases.distant: a lesion of that name exists already"),
        config_case("metastasis-larger-than-domain", {"arms.met": {"metastases.lung": "{ day = 0, diameter_mm = 20 }"}},
                    "arms.met.metastases.lung.diameter_mm = 20"),
        config_case("metastasis-unknown-key", {"arms.met": {"metastases.lung": "{ day = 0, size_mm = 1 }"}},
                    "unknown key arms.met.metastases.lung.size_mm"),
        config_case("metastases-top-level", {"metastases.lung": {"day": "0"}}, "metastases = "),
    ]


def arm_and_lesion_cases() -> list[Case]:
    return [
        Case("arms-not-a-table", "arms = 5", ["validate", "{cfg}"], "arms",
             files={"c.toml": "arms = 5\n" + toml({"arms.control": None, "arms.cryo": None})}),
        config_case("arm-not-a-table", {"arms.control": None, "arms": {"control": "5"}}, "arms.control = 5"),
        config_case("arm-experiment", {"arms.control": {"experiment": "{ seed = 2 }"}},
                    "arms.control.experiment: experiment settings are shared by all arms"),
        config_case("arm-unknown-section", {"arms.control": {"immunity": "{ kill_probability = 0.2 }"}},
                    "unknown section arms.control.immunity"),
        config_case("arm-override-out-of-range", {"arms.control": {"immune": "{ kill_probability = 2 }"}},
                    "arms.control.immune.kill_probability = 2"),
        config_case("arm-name-path", {"arms.\"../x\"": {}}, 'arms."../x"'),
        config_case("arm-name-separator", {"arms.a__r0": {}}, 'arms."a__r0"'),
        config_case("experiment-name-path", {"experiment": {"name": '"../x"'}}, 'experiment.name = "../x"'),
        config_case("arm-name-empty", {"arms.\"\"": {}}, 'arms.""'),
        config_case("lesions-not-a-table", {"lesions.index": None, "lesions.distant": None, "lesions": {"index": "5"}},
                    "lesions.index = 5"),
        config_case("lesions-empty", {"lesions.index": None, "lesions.distant": None, "arms.cryo": None,
                                      "lesions": {}, "arms.control": {}}, "lesions = {}: expected at least one lesion"),
        config_case("lesion-diameter-zero", {"lesions.index": {"diameter_mm": "0"}}, "lesions.index.diameter_mm = 0"),
        config_case("lesion-larger-than-domain", {"lesions.index": {"diameter_mm": "5"}}, "lesions.index.diameter_mm = 5"),
        config_case("lesion-unknown-key", {"lesions.index": {"size_mm": "3"}}, "unknown key lesions.index.size_mm"),
        config_case("blood-flow-over-one", {"lesions.index": {"blood_flow_share": "0.6"},
                                            "lesions.distant": {"blood_flow_share": "0.6"}},
                    "blood_flow_share: the lesions present together get 1.2"),
        config_case("blood-flow-negative", {"lesions.index": {"blood_flow_share": "-0.1"}}, "lesions.index.blood_flow_share = -0.1"),
        config_case("lattice-too-large", {"lesions.index": {"domain_mm": "200"}, "tumour": {"cell_diameter_um": "5"}},
                    "lesions.index.domain_mm = 200"),
        config_case("lesion-name-path", {"lesions.\"../x\"": {"diameter_mm": "1"}}, 'lesions."../x"'),
    ]


def set_cases() -> list[Case]:
    return [
        set_case("set-no-equals", ["immune.kill_probability"], "--set 'immune.kill_probability': expected key=value"),
        set_case("set-empty-key", ["=1"], "expected a dotted key"),
        set_case("set-empty-part", ["immune..kill_probability=0.2"], "expected a dotted key"),
        set_case("set-unknown-section", ["immunity.kill_probability=0.2"], "unknown section immunity"),
        set_case("set-unknown-key", ["immune.kill_prob=0.2"], "unknown key immune.kill_prob"),
        set_case("set-deep-unknown-key", ["immune.kill_probability.max=0.2"], "immune.kill_probability"),
        set_case("set-list-for-number", ["immune.kill_probability=[0.1, 0.2]"], "immune.kill_probability = [0.1, 0.2]"),
        set_case("set-table-for-number", ["immune.kill_probability={a = 1}"], "immune.kill_probability = {'a': 1}"),
        set_case("set-word-for-number", ["immune.kill_probability=high"], "immune.kill_probability = 'high'"),
        set_case("set-bool-for-number", ["immune.kill_probability=true"], "immune.kill_probability = True"),
        set_case("set-nan", ["immune.kill_probability=nan"], "immune.kill_probability = nan"),
        set_case("set-section-value", ["immune=0.2"], "immune = 0.2"),
        set_case("set-arm-typo", ["arms.cryo_anti_pd_1.ablation.margin_mm=-1"], "no arm 'cryo_anti_pd_1'"),
        set_case("set-lesion-typo", ["lesions.distnt.diameter_mm=1"], "no lesion 'distnt'"),
        set_case("set-arm-lesion-typo", ["arms.cryo.lesions.distnt.diameter_mm=1"], "no lesion 'distnt'"),
        set_case("set-treatment-top-level", ["ablation.margin_mm=2"], "a treatment at the top level"),
        set_case("set-arm-value", ["arms.cryo=1"], "arms.cryo = 1"),
        set_case("set-seed-string", ["experiment.seed=abc"], "experiment.seed = 'abc'"),
        set_case("set-bad-toml", ["immune.kill_probability=[0.1"], "immune.kill_probability = '[0.1'"),
        set_case("set-sweep-typo", ["sweep.replicate=2"], "unknown key sweep.replicate", sweep=True),
    ]


def sweep_cases() -> list[Case]:
    s = lambda id, changes, match, **kw: config_case(id, changes, match, sweep=True, **kw)  # noqa: E731
    grid = "sweep.grid"
    sample = lambda spec, n="4", method='"lhs"': {"sweep": {"method": method, "n": n},  # noqa: E731
                                                  grid: None, "sweep.sample": {'"immune.kill_probability"': spec}}
    return [
        Case("sweep-number", "sweep = 5", ["validate", "{cfg}"], "sweep = 5", files={"c.toml": "sweep = 5\n" + toml()}),
        Case("sweep-false", "sweep = false", ["validate", "{cfg}"], "sweep = False",
             files={"c.toml": "sweep = false\n" + toml()}),
        s("sweep-unknown-key", {"sweep": {"replicate": "2"}}, "unknown key sweep.replicate"),
        s("sweep-method-unknown", {"sweep": {"method": '"random"'}}, "sweep.method = 'random'"),
        s("sweep-method-number", {"sweep": {"method": "5"}}, "sweep.method = 5"),
        s("sweep-n-word", sample("[0.1, 0.5]", n='"ten"'), "sweep.n = 'ten'"),
        s("sweep-n-zero", sample("[0.1, 0.5]", n="0"), "sweep.n = 0"),
        s("sweep-n-fraction", sample("[0.1, 0.5]", n="2.5"), "sweep.n = 2.5"),
        s("sweep-n-missing", {**sample("[0.1, 0.5]"), "sweep": {"method": '"lhs"'}},
          "sweep.n: missing; expected the number of points"),
        s("sweep-sobol-n", sample("[0.1, 0.5]", n="10", method='"sobol"'), "sweep.n = 10: a Sobol design needs a power of two"),
        s("sweep-replicates-word", {"sweep": {"replicates": '"two"'}}, "sweep.replicates = 'two'"),
        s("sweep-replicates-zero", {"sweep": {"replicates": "0"}}, "sweep.replicates = 0"),
        s("sweep-seed-negative", {"sweep": {"seed": "-1"}}, "sweep.seed = -1"),
        s("sweep-seed-huge", {"sweep": {"seed": "9223372036854775808"}}, "sweep.seed = 9223372036854775808"),
        s("sweep-grid-unknown-key", {grid: {'"immune.kill_prob"': "[0.1]"}}, "immune.kill_prob"),
        s("sweep-grid-not-a-list", {grid: {'"immune.kill_probability"': "0.1"}}, "immune.kill_probability"),
        s("sweep-grid-empty", {grid: {'"immune.kill_probability"': "[]"}}, "immune.kill_probability"),
        s("sweep-grid-out-of-range", {grid: {'"immune.kill_probability"': "[0.1, 1.5]"}}, "immune.kill_probability = 1.5"),
        s("sweep-grid-wrong-type", {grid: {'"immune.kill_probability"': '["high"]'}}, "immune.kill_probability = 'high'"),
        s("sweep-grid-arm-typo", {grid: {'"arms.cryo_x.ablation.margin_mm"': "[1.0]"}}, "no arm 'cryo_x'"),
        s("sweep-grid-reserved", {grid: {'"experiment.seed"': "[1, 2]"}}, "experiment.seed"),
        s("sweep-sample-reversed", sample("[0.5, 0.1]"), "immune.kill_probability"),
        s("sweep-sample-one-value", sample("[0.5]"), "immune.kill_probability"),
        s("sweep-sample-out-of-range", sample("[0.1, 2.0]"), "immune.kill_probability"),
        s("sweep-sample-log-zero", sample('{ low = 0, high = 0.5, scale = "log" }'), "immune.kill_probability"),
        s("sweep-sample-scale", sample('{ low = 0.1, high = 0.5, scale = "cubic" }'), "immune.kill_probability"),
        s("sweep-sample-string-key", {**sample("[0.1, 0.5]"), "sweep.sample": {'"arms.cryo.ablation.modality"': "[0, 1]"}},
          "arms.cryo.ablation.modality"),
        s("sweep-sample-nan", sample("[nan, 0.5]"), "immune.kill_probability"),
        s("sweep-method-needs-sample", {"sweep": {"method": '"lhs"', "n": "4"}}, "sweep.method = 'lhs' needs sample ranges"),
        s("sweep-list-no-points", {"sweep": {"method": '"list"'}, grid: None}, "sweep.method = 'list' needs points"),
        s("sweep-points-missing", {"sweep": {"method": '"list"', "points": '"nowhere.csv"'}, grid: None},
          "sweep.points: file nowhere.csv does not exist"),
        Case("sweep-points-binary", "[sweep] method = \"list\", points = a binary file", ["validate", "{cfg}"], "sweep.points",
             files={"c.toml": toml({"sweep": {"method": '"list"', "points": '"p.csv"'}, grid: None}),
                    "p.csv": bytes(range(256)) * 4}),
        Case("sweep-points-unknown-column", "[sweep] points CSV with a column immune.kill_prob", ["validate", "{cfg}"],
             "immune.kill_prob", files={"c.toml": toml({"sweep": {"method": '"list"', "points": '"p.csv"'}, grid: None}),
                                        "p.csv": "immune.kill_prob\n0.1\n"}),
        Case("sweep-points-empty", "[sweep] points CSV with a header only", ["validate", "{cfg}"], "sweep.points",
             files={"c.toml": toml({"sweep": {"method": '"list"', "points": '"p.csv"'}, grid: None}),
                    "p.csv": "immune.kill_probability\n"}),
        Case("sweep-points-bad-value", "[sweep] points CSV with a value 'high'", ["validate", "{cfg}"],
             "immune.kill_probability", files={"c.toml": toml({"sweep": {"method": '"list"', "points": '"p.csv"'}, grid: None}),
                                              "p.csv": "immune.kill_probability\nhigh\n"}),
        s("sweep-command-bad-n", sample("[0.1, 0.5]", n='"ten"'), "sweep.n = 'ten'", command="sweep",
          extra=["--out", "out"]),
    ]


def cli_cases() -> list[Case]:
    big = str(2**70)
    return [
        Case("config-missing", "run nowhere.toml", ["run", "nowhere.toml"], "config file nowhere.toml does not exist"),
        Case("config-folder", "validate on a folder", ["validate", "adir"], "is a folder, expected a TOML file",
             setup=lambda d: (d / "adir").mkdir()),
        Case("config-latin1", "run on a Latin-1 file", ["run", "{cfg}"], "not UTF-8",
             files={"c.toml": '[experiment]\nname = "ablée"\n'.encode("latin-1")}),
        Case("config-not-toml", "sweep on a file that is not TOML", ["sweep", "{cfg}"], "not valid TOML",
             files={"c.toml": "[experiment\n"}),
        Case("config-binary", "validate on a binary file", ["validate", "{cfg}"], "c.toml",
             files={"c.toml": bytes(range(256))}),
        cli_case("seed-minus-one", ["--seed", "-1"], "experiment.seed = -1"),
        cli_case("seed-2-70", ["--seed", big], f"experiment.seed = {big}"),
        cli_case("seed-word", ["--seed", "abc"], "--seed"),
        cli_case("seed-float", ["--seed", "1.5"], "--seed"),
        cli_case("replicates-zero", ["--replicates", "0"], "experiment.replicates = 0"),
        cli_case("replicates-negative", ["--replicates", "-3"], "experiment.replicates = -3"),
        cli_case("workers-minus-two", ["--workers", "-2"], "workers = -2"),
        cli_case("workers-zero", ["--workers", "0"], "workers = 0"),
        cli_case("workers-word", ["--workers", "two"], "--workers"),
        cli_case("sweep-workers-zero", ["--workers", "0"], "workers = 0", command="sweep", sweep=True),
        cli_case("executor-unknown", ["--executor", "threads"], "--executor"),
        cli_case("option-unknown", ["--sed", "1"], "--sed"),
        Case("command-unknown", "abscopal simulate CONFIG", ["simulate", "c.toml"], "simulate"),
        Case("command-missing", "abscopal (no command)", [], "command"),
        Case("config-argument-missing", "abscopal run (no config)", ["run"], "config"),
        Case("params-format", "abscopal params --format xml", ["params", "--format", "xml"], "--format"),
        Case("params-extra-argument", "abscopal params extra", ["params", "extra"], "extra"),
        cli_case("scheduler-dead", ["--out", "out", "--scheduler", "tcp://127.0.0.1:1"],
                 "--scheduler tcp://127.0.0.1:1: no Dask scheduler answered"),
        cli_case("sweep-scheduler-dead", ["--out", "out", "--scheduler", "tcp://127.0.0.1:1"],
                 "--scheduler tcp://127.0.0.1:1: no Dask scheduler answered", command="sweep", sweep=True),
    ]


def folder_cases() -> list[Case]:
    """Output folders (--out) and the folders given to plot."""

    def corrupt(path: str, keep: int | None = None, text: str | None = None):
        def change(d: Path) -> None:
            p = d / path
            if text is not None:
                p.write_text(text)
            elif keep is None:
                p.unlink()
            else:
                p.write_bytes(p.read_bytes()[:keep])
        return change

    def other_stuff(d: Path) -> None:
        (d / "mine").mkdir()
        (d / "mine" / "notes.txt").write_text("my notes")

    return [
        cli_case("out-is-a-file", ["--out", "afile"], "is a file, expected a folder"),
        cli_case("out-under-a-file", ["--out", "afile/sub"], "cannot write there"),
        cli_case("out-not-ours", ["--out", "mine"], "mine", setup=other_stuff),
        cli_case("out-not-ours-force", ["--out", "mine", "--force"], "mine", setup=other_stuff),
        cli_case("out-other-results", ["--out", "res"], "res", fixture="run"),
        cli_case("out-sweep-folder", ["--out", "res"], "res", fixture="sweep"),
        cli_case("sweep-into-run-folder", ["--out", "res"], "res", command="sweep", sweep=True, fixture="run"),
        cli_case("resume-and-force", ["--out", "res", "--resume", "--force"], "not allowed with argument",
                 fixture="run"),
        cli_case("run-on-a-sweep-config", ["--out", "out"], "has a [sweep] table: run it with abscopal sweep", sweep=True),
        cli_case("resume-other-config", ["--out", "res", "--resume", "--set", "immune.kill_probability=0.2"], "res",
                 fixture="run"),
        Case("plot-missing", "plot nowhere", ["plot", "nowhere"], "nowhere: no such folder"),
        Case("plot-empty", "plot an empty folder", ["plot", "empty"], "holds no manifest.json",
             setup=lambda d: (d / "empty").mkdir()),
        Case("plot-a-file", "plot a file", ["plot", "afile"], "afile: is a file, expected a results folder",
             files={"afile": "x"}),
        Case("plot-manifest-truncated", "plot a folder whose manifest.json is cut", ["plot", "res"],
             "manifest.json: unreadable", fixture="run", setup=corrupt("res/manifest.json", keep=40)),
        Case("plot-manifest-not-a-manifest", "plot a folder whose manifest.json is []", ["plot", "res"],
             "manifest.json: expected a manifest", fixture="run", setup=corrupt("res/manifest.json", text="[]")),
        Case("plot-run-file-truncated", "plot a folder with a truncated run file", ["plot", "res"],
             "left out, unreadable: runs/control__r0.parquet", fixture="run", exit=1, writes=("res/figures/",),
             setup=corrupt("res/runs/control__r0.parquet", keep=100)),
        Case("plot-run-file-missing", "plot a folder with a missing run file", ["plot", "res"],
             "left out, unreadable: runs/control__r0.parquet: missing", fixture="run", exit=1,
             writes=("res/figures/",), setup=corrupt("res/runs/control__r0.parquet")),
        Case("plot-summary-corrupt", "plot a sweep whose summary.parquet is corrupt", ["plot", "res"],
             "summary.parquet: unreadable", fixture="sweep", setup=corrupt("res/summary.parquet", text="PAR1")),
        Case("plot-format", "plot RESULTS --format jpg", ["plot", "res", "--format", "jpg"], "--format", fixture="run"),
        Case("plot-out-a-file", "plot RESULTS --out a file", ["plot", "res", "--out", "afile"],
             "figure folder afile: is a file, expected a folder",
             fixture="run", files={"afile": "x"}),
    ]


def cases() -> list[Case]:
    """Every bad input of the audit."""
    every = [*cli_cases(), *folder_cases(), *set_cases(), *section_cases(), *day_cases(), *treatment_cases(),
             *arm_and_lesion_cases(), *sweep_cases()]
    ids = [c.id for c in every]
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    return every


# ----------------------------------------------------------------------------------------------- running them


@dataclass
class Outcome:
    case: Case
    exit: int
    stderr: str
    stdout: str
    written: list[str]
    seconds: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def first_line(self) -> str:
        return self.stderr.splitlines()[0] if self.stderr.strip() else ""

    def problems(self) -> list[str]:
        """What is wrong with how the input was handled (empty: handled as it should be)."""
        c, lines = self.case, self.stderr.splitlines()
        wrong = []
        if self.exit != c.exit:
            wrong.append(f"exit {self.exit}, expected {c.exit}")
        if self.traceback:
            wrong.append("traceback")
        if c.exit == 2 and len(lines) != 1:
            wrong.append(f"{len(lines)} stderr lines")
        if any(not line.startswith("abscopal: ") for line in lines):
            wrong.append("stderr not 'abscopal: ...'")
        if c.match not in self.stderr:
            wrong.append(f"does not say {c.match!r}")
        if self.written:
            wrong.append(f"wrote {', '.join(self.written[:3])}")
        return wrong


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)) + ("/" if p.is_dir() else ""): (p.stat().st_size if p.is_file() else 0,
                                                                        p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def make_fixtures(root: Path) -> dict[str, Path]:
    """A finished run and a finished sweep of the tiny experiment (the folder and plot cases copy them), each
    made in a forked child like the cases (the parent starts no thread before it forks)."""
    root.mkdir()
    (root / "c.toml").write_text(toml())
    (root / "s.toml").write_text(toml(SWEEP))
    for argv in (["run", "c.toml", "--out", "run", "--workers", "1", "--quiet"],
                 ["sweep", "s.toml", "--out", "sweep", "--executor", "serial"]):
        code = _fork(argv, root, root / "fixture")
        if code != 0:
            raise RuntimeError(f"abscopal {' '.join(argv)} exited {code}: {(root / 'fixture.stderr').read_text()}")
    return {"run": root / "run", "sweep": root / "sweep"}


def _fork(argv: list[str], folder: Path, output: Path) -> int:
    """Run the CLI in a forked child in ``folder``, its stdout and stderr on ``output``.stdout/.stderr; its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():  # the one other thread is pyarrow's idle pool, which Arrow resets at a fork
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        _child(argv, folder, output)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _child(argv: list[str], folder: Path, output: Path) -> None:
    """In the forked child: run the CLI as the console script does, stdout and stderr on files, then exit."""
    os.chdir(folder)
    for fd, suffix in ((1, ".stdout"), (2, ".stderr")):
        os.dup2(os.open(f"{output}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    code = 1
    try:
        from abscopal.cli import main

        code = main(argv)
    except SystemExit as e:  # argparse, or sys.exit(...) inside
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else (print(e.code, file=sys.stderr), 1)[1])
    except BaseException:  # as the interpreter does for an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


def try_case(case: Case, root: Path, fixtures: dict[str, Path]) -> Outcome:
    folder = root / case.id
    folder.mkdir()
    for name, content in case.files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    if case.fixture:
        shutil.copytree(fixtures[case.fixture], folder / "res")
    if case.setup:
        case.setup(folder)
    argv = [a.replace("{cfg}", "c.toml") for a in case.argv]
    before = _tree(folder)
    t0 = time.perf_counter()
    code = _fork(argv, folder, root / case.id)
    seconds = time.perf_counter() - t0
    after = _tree(folder)
    written = sorted(p for p in after if after[p] != before.get(p) and not p.endswith("/")
                     and not any(p.startswith(w) for w in case.writes))
    written += sorted(f"-{p}" for p in before if p not in after)
    out = (root / f"{case.id}.stdout").read_text(errors="replace")
    err = (root / f"{case.id}.stderr").read_text(errors="replace")
    return Outcome(case, code, err, out, written, seconds)


def run_cases(selected: list[Case]) -> list[Outcome]:
    """Try each case in its own folder of a temporary root (removed afterwards)."""
    import abscopal.cli  # noqa: F401  (imported once, before the forks)
    import abscopal.plots  # noqa: F401
    import abscopal.runner  # noqa: F401
    import abscopal.sweep  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="abscopal-bad-inputs-") as tmp:
        root = Path(tmp)
        needed = {c.fixture for c in selected if c.fixture}
        fixtures = make_fixtures(root / "_fixtures") if needed else {}
        return [try_case(c, root, fixtures) for c in selected]


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table: input, command, exit, first stderr line, traceback, written, verdict."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| # | case | input | exit | first line on stderr | traceback | written | verdict |",
            "|---|---|---|---|---|---|---|---|"]
    for i, o in enumerate(outcomes, 1):
        problems = o.problems()
        rows.append(f"| {i} | {o.case.id} | `{cell(o.case.input)}` | {o.exit} | {cell(o.first_line)[:300]} | "
                    f"{'yes' if o.traceback else 'no'} | {cell(', '.join(o.written)) or '-'} | "
                    f"{'ok' if not problems else 'MISHANDLED: ' + cell('; '.join(problems))} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="cases whose id contains this")
    parser.add_argument("--cases", choices=("all", "fast", "slow"), default="all",
                        help="slow: the cases that need a finished run or sweep (they run a simulation first)")
    parser.add_argument("--json", action="store_true", help="one JSON object per case instead of the table")
    args = parser.parse_args()
    selected = [c for c in cases() if (not args.only or args.only in c.id)
                and args.cases in ("all", "slow" if c.fixture else "fast")]
    t0 = time.perf_counter()
    outcomes = run_cases(selected)
    if args.json:
        for o in outcomes:
            print(json.dumps({"id": o.case.id, "exit": o.exit, "stderr": o.stderr, "written": o.written,
                              "problems": o.problems(), "seconds": round(o.seconds, 2)}))
        return 0
    bad = [o for o in outcomes if o.problems()]
    print(table(outcomes))
    print(f"\n{len(outcomes)} bad inputs tried in {time.perf_counter() - t0:.0f} s, {len(bad)} mishandled.")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
