"""The experiment schema: every parameter with its unit, default, allowed range and source.

An experiment config (TOML) has a base parameter set and named ``arms``. Each arm is a set of
overrides of the base (any section below) plus the treatments it gives (``ablation``,
``drugs.<drug>``, ``adjuvant``, ``resection``, ``metastases.<name>``; in arms only: at the top level they
would apply to every arm, control included). A config that lists lesions
gets exactly those (a rechallenge experiment has one primary and seeds the rest later); one that
lists none gets the default ``index`` and ``distant`` lesions. Every key is checked against this schema:
an unknown key fails with the list of valid ones, a value out of range names the key, the value and
what is allowed. Sources are keys of ``seeds/bibliography.toml``; "assumption" marks a value that no
published number pins down (the text says why it was chosen).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import memory


class ConfigError(ValueError):
    """A config key or value is wrong; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class Param:
    """One parameter: default, unit, allowed range (inclusive) or choices, source, meaning."""

    default: Any
    unit: str
    doc: str
    source: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    def check(self, key: str, value: Any) -> Any:
        """Return ``value`` coerced to the default's type, or raise ConfigError naming ``key``."""
        kind = type(self.default)
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{key} = {value!r}: expected true or false")
            return value
        if kind is str:
            if not isinstance(value, str):
                raise ConfigError(f"{key} = {value!r}: expected " + (f"one of {list(self.choices)}" if self.choices
                                                                     else "a string"))
            if self.choices and value not in self.choices:
                raise ConfigError(f"{key} = {value!r}: expected one of {list(self.choices)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            number = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{key} = {value!r}: expected {number} in {self.range_text()}{self.unit_text()}")
        if kind is int and (not float(value).is_integer()):
            raise ConfigError(f"{key} = {value!r}: expected a whole number in {self.range_text()}{self.unit_text()}")
        given, value = value, kind(value)  # the message echoes the value as written (-1, not -1.0)
        if not math.isfinite(value) or (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ConfigError(f"{key} = {given!r}: expected a value in {self.range_text()}{self.unit_text()}")
        return value

    def unit_text(self) -> str:
        """" unit" after a range, nothing for a unitless value (unit "-" or "")."""
        return "" if self.unit in ("", "-") else f" {self.unit}"

    def range_text(self) -> str:
        if self.choices:
            return "{" + ", ".join(self.choices) + "}"
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        return f"[{low}, {high}]"


def _number(x: float) -> str:
    """Short (1e+12) where that is exact, else in full (a seed's 9223372036854775807, not 9.22337e+18)."""
    return f"{x:g}" if float(f"{x:g}") == x else str(x)


P = Param
DRUGS = ("anti_pd1", "anti_pd_l1", "anti_ctla4")
MODALITIES = ("cryo", "heat", "radiotherapy")

#: Sections that hold exactly one table of parameters.
SECTIONS: dict[str, dict[str, Param]] = {
    "experiment": {
        "name": P("experiment", "", "name used in output files", "-"),
        "description": P("", "", "one line on what the experiment asks", "-"),
        "start_day": P(-14.0, "day", "first simulated day; day 0 is the reference day (the ablation)", "-", -365, 0),
        "end_day": P(60.0, "day", "last simulated day", "-", 0, 3650),
        "readout_day": P(60.0, "day", "day of the summary readout (change from day 0)", "-", 0, 3650),
        "replicates": P(5, "runs", "replicates per arm", "-", 1, 100000),
        "seed": P(1, "", "root seed of the experiment (numpy SeedSequence entropy)", "-", 0, 2**63 - 1),
        "time_step_h": P(6.0, "h", "internal time step; must divide 24 h (numerical, not biological)", "-", 0.25, 24),
        "stop_when_cleared": P(False, "", "end a run after the first day with no live tumour cell in any lesion (and no metastasis to come)", "-"),
        "stop_burden_cells": P(0, "cells", "end a run after the first day on which the live tumour cells of all lesions together exceed this (off study); 0 = never", "-", 0, 1e12),
    },
    "tumour": {
        "cell_diameter_um": P(20.0, "µm", "diameter of one lattice site = one tumour cell", "milo2015", 5, 50),
        "growth_rate_per_day": P(0.4, "1/day", "division rate of a tumour cell with room to divide (CT26)", "kosinsky2018", 0, 5),
        "spontaneous_death_per_day": P(0.01, "1/day", "spontaneous (apoptotic) tumour-cell death", "kosinsky2018", 0, 1),
        "proliferative_rim_um": P(160.0, "µm", "depth from the lesion edge within which cells can divide (pushing)", "thomlinson1955", 20, 2000),
        "antigenicity_mean": P(1.0, "-", "mean recognisability of a tumour cell by primed T cells (neoantigen load), relative", "assumption", 0, 10),
        "antigenicity_cv": P(0.3, "-", "coefficient of variation of antigenicity between cells (lognormal), inherited by daughters", "assumption", 0, 3),
        "pd_l1_baseline": P(1.0, "relative", "constitutive PD-L1 level of a tumour cell", "assumption", 0, 100),
        "pd_l1_max_fold": P(6.0, "fold", "maximal PD-L1 increase induced by IFN-γ", "qspio_tnbc", 1, 100),
        "pd_l1_upregulation_per_day": P(1.0, "1/day", "rate at which PD-L1 approaches its IFN-γ-driven level", "kosinsky2018", 0.01, 50),
        "ifn_gamma_half_saturation_per_mm2": P(12.0, "effector-equivalents/mm²", "IFN-γ giving half-maximal PD-L1 induction (Kosinsky's 478 effectors over a 7 mm lesion)", "kosinsky2018", 1e-3, 1e4),
    },
    "release": {
        "necrotic_antigen_per_cell": P(1.0, "cell-equivalents", "intact antigen released by one necrotic cell (1 = one cell's content)", "assumption", 0, 10),
        "apoptotic_antigen_per_cell": P(0.3, "cell-equivalents", "antigen released by one apoptotic cell: less, mostly contained in apoptotic bodies", "assumption", 0, 10),
        "necrotic_damp_per_cell": P(1.0, "relative", "DAMPs (HMGB1, ATP, calreticulin) released per necrotic cell", "assumption", 0, 10),
        "apoptotic_damp_per_cell": P(0.05, "relative", "DAMPs released per apoptotic cell (few: tolerogenic)", "assumption", 0, 10),
        "antigen_quality_cryo": P(1.0, "-", "intact fraction of antigen released by cryoablation", "assumption", 0, 1),
        "antigen_quality_heat": P(0.6, "-", "intact fraction of antigen released by heat (denaturation; a hypothesis, SCIENCE.md)", "assumption", 0, 1),
        "antigen_quality_radiotherapy": P(1.0, "-", "intact fraction of antigen released by radiotherapy", "assumption", 0, 1),
        "damp_yield_cryo": P(1.0, "-", "DAMP yield factor of cryoablation deaths", "assumption", 0, 10),
        "damp_yield_heat": P(0.7, "-", "DAMP yield factor of heat-ablation deaths (proteins denatured)", "assumption", 0, 10),
        "antigen_decay_per_day": P(2.0, "1/day", "degradation of extracellular antigen", "qspio_tnbc", 0, 100),
        "damp_decay_per_day": P(4.0, "1/day", "degradation of DAMPs (ATP and HMGB1 are short-lived)", "assumption", 0, 100),
        "diffusion_um2_per_s": P(10.0, "µm²/s", "diffusion coefficient of antigen and DAMPs in tumour interstitium", "pluen2001", 0, 1000),
        "contraction_layers_per_day": P(20, "cells/day", "how many cell layers a day the tissue can close over holes left by cleared cells (involution; 20 x 20 µm = 0.4 mm/day, so a rejected 7 mm lesion can vanish within 1-2 weeks)", "assumption", 0, 100),
        "dead_cell_clearance_per_day": P(0.1, "1/day", "clearance of necrotic cells (they occupy space until cleared)", "qspio_tnbc", 0, 10),
        "apoptotic_clearance_per_day": P(1.0, "1/day", "clearance of apoptotic cells by phagocytes (efferocytosis takes hours in healthy tissue; slower under the load of a lesion under attack)", "elliott2016", 0, 100),
        "field_resolution_um": P(160.0, "µm", "grid spacing of the antigen, DAMP and IFN-γ fields (numerical)", "-", 20, 1000),
    },
    "dendritic_cells": {
        "loading_per_day_max": P(200.0, "DCs/day", "maximal rate at which a lesion's DCs take up antigen and become loaded", "assumption", 0, 1e6),
        "antigen_half_saturation": P(2000.0, "cell-equivalents", "lesion antigen giving half-maximal DC loading", "assumption", 1e-3, 1e9),
        "maturation_per_day": P(1.5, "1/day", "maturation of loaded DCs when DAMPs are saturating", "qspio_tnbc", 0, 50),
        "damp_half_saturation": P(0.05, "relative/site", "antigen-weighted DAMP level (over damp_sensing_um) giving half-maximal maturation", "assumption", 1e-6, 100),
        "damp_hill": P(2.0, "-", "Hill coefficient of DAMP-driven maturation", "assumption", 0.5, 8),
        "steady_state_maturation": P(0.0, "-", "share of the maximal (DAMP-saturated) maturation rate at which loaded DCs mature without danger signals: CD103+ DCs carry tumour antigen to the draining node and prime CD8 cells in the steady state (Roberts et al. 2016, Cancer Cell 30:324), so untreated lesions prime T cells on their own; 0 switches it off", "assumption: off until re-calibrated, issue 9", 0, 1),
        "damp_sensing_um": P(500.0, "µm", "scale over which DCs meet the DAMP level where they take up antigen (a Gaussian's SD; about the distance DAMPs spread in their lifetime, √(D/k) ≈ 460 µm; makes the signal independent of the field grid and the time step)", "assumption", 20, 5000),
        "mature_migration_per_day": P(4.0, "1/day", "migration of mature DCs to the tumour-draining lymph node", "qspio_tnbc", 0, 50),
        "immature_migration_per_day": P(0.4, "1/day", "steady-state (tolerogenic) migration of loaded immature DCs", "assumption", 0, 50),
        "immature_death_per_day": P(0.01, "1/day", "death of immature DCs in the lesion", "qspio_tnbc", 0, 10),
        "mature_death_per_day": P(0.02, "1/day", "death of mature DCs in the lesion", "qspio_tnbc", 0, 10),
        "lymph_node_death_per_day": P(0.4, "1/day", "death of DCs that have reached the lymph node (2-3 day lifespan)", "kamath2002", 0, 10),
    },
    "lymph_node": {
        "draining_nodes": P("shared", "", "where each lesion's DCs go: shared = one tumour-draining node for all lesions, per_lesion = each lesion its own node, through which the naive (and memory) CD8 pool recirculates an equal share of its time, so priming is the mean over the nodes of each node's saturating DC signal (and the Treg induction likewise)", "assumption", choices=("shared", "per_lesion")),
        "naive_precursors": P(150.0, "cells", "tumour-antigen-specific naive CD8 precursors per epitope (100-200 per mouse)", "blattman2002", 0, 1e6),
        "activation_per_day_max": P(23.0, "1/day", "maximal activation rate of a naive CD8 cell by mature DCs", "qspio_tnbc", 0, 1000),
        "mature_dc_half_saturation": P(500.0, "DCs", "mature DCs in the node giving half-maximal activation", "assumption", 1e-3, 1e7),
        "divisions": P(16, "generations", "clonal divisions after activation (2 + 11 with IL-2 + 3 with co-stimulation)", "qspio_tnbc", 1, 30),
        "proliferation_per_day": P(3.0, "1/day", "division rate of primed T cells (6 h cycle)", "kosinsky2018", 0.1, 20),
        "ctla4_priming_inhibition": P(0.6, "-", "fraction of priming blocked by CTLA-4 without blockade", "assumption", 0, 1),
        "treg_half_suppression": P(1.0, "relative", "lymph-node Treg level (1 = baseline) halving priming", "assumption", 1e-3, 100),
        "treg_tolerogenic_expansion": P(3.6, "fold", "extra Treg level induced at saturation by tolerogenic DCs carrying apoptotic-cell antigen", "assumption", 0, 100),
        "tolerogenic_dc_half_saturation": P(100.0, "DCs", "Treg-inducing tolerogenic DCs in the node giving half the Treg expansion (above the ~50-80 of untreated lesions, so that more apoptotic antigen raises Tregs)", "assumption", 1e-3, 1e7),
        "treg_induction_without_apoptotic_cargo": P(0.2, "-", "Treg induction by a tolerogenic DC without apoptotic-cell cargo, relative to one with it (about 5 vs 23 % of naive CD4 cells made Foxp3+)", "kushwah2010", 0, 1),
        "mdsc_half_suppression": P(4.0, "fold", "expansion of the circulating MDSCs above a tumour-free individual's (systemic_mdscs) halving the priming and recall of CD8 cells: MDSCs in lymphoid organs blunt antigen-specific CD8 responses (arginase, ROS, peroxynitrite; Gabrilovich & Nagaraj 2009; the value chosen)", "gabrilovich2009", 1e-3, 1e4),
        "treg_mdsc_expansion": P(0.2, "-", "rise of the Treg level's target (1 = baseline) per fold of circulating MDSC expansion: Gr-1+CD115+ MDSCs induce Foxp3+ Tregs in tumour-bearing mice (Huang 2006; the ratio chosen)", "huang2006", 0, 10),
        "treg_turnover_per_day": P(0.1, "1/day", "rate at which the Treg level relaxes to its target", "assumption", 1e-3, 10),
        "treg_depletion_per_day_max": P(0.5, "1/day", "depletion of the node's Tregs by fully occupying anti-CTLA-4 (ADCC; Selby 2013 saw peripheral Tregs expand instead, but without it anti-CTLA-4 boosts priming too little here)", "simpson2013", 0, 10),
        "memory_fraction": P(0.05, "-", "fraction of contracting effectors that become memory cells", "kaech2012", 0, 1),
        "memory_maturation_days": P(21.0, "days", "mean time for a memory precursor to become a recall-competent memory cell (memory CD8 cells gain their recall capacity over 3-4 weeks after the response)", "kaech2002", 0.1, 365),
        "memory_maturation_stages": P(4, "stages", "stages a memory precursor passes through (each lasting memory_maturation_days / stages on average) before it can be recalled: a delay of weeks with a spread (Erlang), not a first-order rate that lets some precursors be recalled within days by the priming DCs still in the node", "kaech2002", 1, 50),
        "memory_divisions": P(8, "generations", "divisions of a reactivated memory cell before its daughters leave as effectors (fewer than naive: the shorter lag of the secondary response)", "veigafernandes2000", 1, 30),
        "memory_immature_dc_weight": P(0.0, "-", "weight of antigen-loaded immature DCs, relative to mature ones, in reactivating memory cells (0: memory cells need co-stimulation like naive ones, Zimmermann 1999; above 0: the lower co-stimulation need often claimed)", "zimmermann1999", 0, 1),
    },
    "trafficking": {
        "influx_max_per_mm2_per_day": P(50.0, "cells/mm²/day", "maximal effector influx per mm² of lesion: with a 10-day lifespan it caps infiltration at about 500 CD8/mm², a highly infiltrated tumour (Kosinsky 2018's saturable influx; densities from Galon 2006)", "galon2006", 0, 1e5),
        "effector_half_saturation": P(5e4, "cells", "effectors flowing through a lesion (blood-flow share x blood pool) giving half-maximal influx", "assumption", 1e-3, 1e12),
        "blood_effector_elimination_per_day": P(0.2, "1/day", "elimination of primed effectors from the circulation", "kosinsky2018", 0, 10),
        "edge_entry_fraction": P(0.5, "-", "fraction of entering T cells that enter at the lesion edge (rest: vessels inside)", "assumption", 0, 1),
        "circulation": P("section_pool", "", "how lesions take effectors from the blood: section_pool = each lesion's section draws from the blood pool independently and takes only its section's admissions out of it (the calibrated model); conserved = every effector is counted in the blood, the rest of the body, each lesion (a section's T cell stands for 4r/3d cells of its lesion) or among the dead, cells pass each compartment by its share of the cardiac output and leave lesions again (abscopal/immune/circulation.py; not yet calibrated, issue 9)", "poleszczuk2016", choices=("section_pool", "conserved")),
        "influx_max_per_mm3_per_day": P(2500.0, "cells/mm³/day", "conserved circulation: maximal effector influx per mm³ of lesion; 2500 = influx_max_per_mm2_per_day (50) over a section one cell (20 µm) thick, so that a section admits as many T cells as before when the blood is not short, and the whole lesion takes that times its scale", "galon2006", 0, 1e7),
        "rest_of_body_entry_per_day": P(0.3, "1/day", "conserved circulation: rate at which a circulating effector enters the tissues of the rest of the body if that received the whole cardiac output (times the rest's share: 1 - the lesions' blood-flow shares)", "assumption", 0, 100),
        "rest_of_body_return_per_day": P(0.05, "1/day", "conserved circulation: rate at which an effector in the rest of the body returns to the blood (tissue egress, as lesion_egress_per_day)", "assumption", 0, 100),
        "lesion_egress_per_day": P(0.05, "1/day", "conserved circulation: rate at which an active (not exhausted) effector leaves a lesion back to the blood: a mean stay of 20 days, longer than the 10-day lifespan, so most die in the lesion as before and a few recirculate (CD8 cells do leave tumours, Torcellan 2017; no rate was found)", "torcellan2017", 0, 10),
    },
    "immune": {
        "preexisting_effectors_per_mm2": P(0.0, "cells/mm²", "tumour-specific effector T cells already in each lesion of the config on the first simulated day, per mm² of its tissue (immunogenic tumours such as CT26 carry them before any treatment, and checkpoint blockade releases them); metastases seeded later get theirs from the blood. 0 switches it off", "assumption: off until re-calibrated, issue 9", 0, 1000),
        "kill_probability": P(0.3, "-", "probability that an engagement of an antigen-bearing cell kills it (no inhibition)", "kather2017", 0, 1),
        "engagement_time_h": P(6.0, "h", "mean time between an effector's kill attempts (engagements are a Poisson process at 1 / this rate)", "kather2017", 0.1, 240),
        "kill_budget": P(5, "kills", "kills before an effector is exhausted", "kather2017", 1, 1000),
        "secondary_kill_probability": P(0.75, "-", "kill probability per engagement of a memory-derived (secondary) effector: secondary CD8 cells keep their lytic ability and protect more per cell than primary ones (Jabbari & Harty 2006; the value chosen)", "jabbari2006", 0, 1),
        "secondary_kill_budget": P(15, "kills", "kills before a memory-derived effector is exhausted (sustained lytic ability, Jabbari & Harty 2006; the number chosen)", "jabbari2006", 1, 1000),
        "secondary_pd1_half_fold": P(4.0, "fold", "PD-L1 needed to halve killing by a memory-derived effector, relative to a primary one: memory CD8 cells have matured to a higher functional avidity and need less co-stimulation (Mayya et al. 2019), so their stronger TCR signal outweighs PD-1 (the fold chosen)", "mayya2019", 1, 1000),
        "lifespan_days_mean": P(10.0, "days", "mean lifespan of an effector in the lesion", "spqsp_io", 0.1, 1000),
        "lifespan_days_sd": P(1.5, "days", "standard deviation of that lifespan", "spqsp_io", 0, 100),
        "speed_um_per_min": P(5.0, "µm/min", "T-cell migration speed in tissue (1-10 µm/min by intravital imaging)", "physicell_immune", 0, 100),
        "persistence_min": P(10.0, "min", "persistence time of T-cell motion (random motility = speed² x persistence / 2)", "physicell_immune", 0.01, 1000),
        "chemotaxis_bias": P(0.05, "-", "fraction of T-cell speed directed up the gradient of live tumour cells (chemokines)", "assumption", 0, 1),
        "pd1_inhibition_half_pd_l1": P(2.5, "relative", "PD-L1 level (x free PD-1 fraction) halving killing", "assumption", 1e-3, 1000),
        "pd1_hill": P(2.0, "-", "Hill coefficient of PD-1 inhibition of killing", "qspio_tnbc", 0.5, 8),
        "exhaustion_per_inhibited_engagement": P(0.1, "-", "probability that a fully PD-1-inhibited engagement exhausts the T cell", "assumption", 0, 1),
        "ifn_gamma_decay_per_day": P(11.0, "1/day", "decay of IFN-γ", "qspio_tnbc", 0.1, 1000),
        "ifn_gamma_diffusion_um2_per_s": P(20.0, "µm²/s", "diffusion of IFN-γ in tissue", "assumption", 0, 1000),
        "exhausted_ifn_gamma_fraction": P(0.2, "-", "IFN-γ secretion of exhausted relative to active effectors", "assumption", 0, 1),
    },
    "suppressors": {
        "mdsc_recruitment_per_day": P(1.2, "1/day", "MDSC recruitment into an inflamed lesion, toward its capacity", "qspio_tnbc", 0, 100),
        "mdsc_death_per_day": P(0.015, "1/day", "MDSC death", "qspio_tnbc", 0, 10),
        "mdsc_capacity_per_mm2": P(10.0, "cells/mm²", "MDSCs a fully inflamed lesion fills up to, with the circulating MDSCs of a tumour-free individual (times systemic_mdscs' level: a lesion recruits from the circulating pool)", "assumption", 0, 1e5),
        "mdsc_half_suppression_per_mm2": P(100.0, "cells/mm²", "MDSC density halving killing", "assumption", 1e-3, 1e6),
        "inflammation_half_effectors_per_mm2": P(5.0, "cells/mm²", "active effector density giving half-maximal inflammation", "assumption", 1e-3, 1e5),
        "treg_per_recruited_effector": P(0.1, "-", "Tregs recruited with each effector at baseline systemic Treg level (CD8:Treg about 10 in infiltrates)", "sato2005", 0, 10),
        "treg_death_per_day": P(0.1, "1/day", "Treg loss in the lesion", "assumption", 0, 10),
        "treg_ratio_half_suppression": P(0.3, "-", "Treg : CD8 ratio in a lesion halving killing", "assumption", 1e-3, 100),
        "treg_depletion_per_day_max": P(2.0, "1/day", "depletion of a lesion's Tregs by fully occupying anti-CTLA-4 (Fc-mediated, by the lesion's FcγR+ macrophages: a rapid and dramatic intratumoral loss in CT26 and MC38; not seen in patients, Sharma 2019)", "selby2013", 0, 20),
        "treg_pd1_share": P(0.8, "-", "share of the PD-1 expression (and so of the PD-1-driven exhaustion) of a lesion's CD8 cells that Treg IL-10 and IL-35 sustain, lost when Tregs are gone (the mechanism is Sawant 2019's; the share is an assumption)", "sawant2019", 0, 1),
        "treg_ratio_half_pd1": P(0.01, "-", "Treg : CD8 ratio in a lesion giving half that Treg-sustained PD-1 expression (untreated infiltrates: about 0.1-0.2)", "assumption", 1e-4, 100),
        "treg_pd1_hill": P(2.0, "-", "Hill coefficient of that Treg-sustained PD-1 expression in the Treg : CD8 ratio", "assumption", 0.5, 8),
    },
    "systemic_mdscs": {  # the MDSCs of blood and spleen, expanded by the total tumour burden (immune/suppressors.py)
        "max_expansion_fold": P(0.0, "fold", "expansion of the circulating (and splenic) MDSCs above a tumour-free individual's at a saturating tumour burden: tumour-derived GM-CSF, G-CSF, IL-6 and VEGF drive myelopoiesis, so MDSCs expand with the burden (Gabrilovich & Nagaraj 2009; in patients with stage and metastatic burden, Diaz-Montero 2009; splenic Gr-1+CD11b+ cells of mice several-fold, Youn 2008). They blunt priming (lymph_node.mdsc_half_suppression), raise Tregs (lymph_node.treg_mdsc_expansion) and fill inflamed lesions in proportion (suppressors.mdsc_capacity_per_mm2). 0 switches burden-driven suppression off", "assumption: off until re-calibrated, issue 9", 0, 100),
        "half_burden_mm3": P(500.0, "mm³", "live tumour volume of all lesions together giving half that expansion (each lesion the sphere whose central section is its simulated section); mouse studies see the expansion at tumours of 1-2 cm (Youn 2008: 1.5 cm), the half-point is not measured", "assumption", 1e-3, 1e7),
        "turnover_per_day": P(0.2, "1/day", "rate at which the circulating MDSCs approach the level the burden sustains (myelopoiesis and turnover over days: half-way in about 3.5 days; they regress after the tumour's removal, Sinha 2011, Rashid 2013, at a rate not measured)", "assumption", 1e-3, 10),
    },
    "individual": {  # between-individual spreads: a replicate is one individual in every arm (abscopal/individual.py)
        "recruitment_capacity_sd_log": P(0.7, "-", "SD of the log of an individual's T-cell infiltration capacity (multiplies every lesion's recruitment_capacity; Kosinsky's random effect on T-cell influx, Omega 0.696); 0 = every individual alike", "kosinsky2018", 0, 3),
        "naive_precursors_sd_log": P(0.35, "-", "SD of the log of an individual's tumour-specific naive CD8 precursors (100-200 per mouse read as about ±1 SD)", "blattman2002", 0, 3),
        "growth_rate_sd_log": P(0.1, "-", "SD of the log of an individual's tumour growth rate: small, as Kosinsky 2018 described individual CT26 growth with a random effect on T-cell influx only", "assumption", 0, 3),
        "preexisting_effectors_sd_log": P(0.5, "-", "SD of the log of an individual's pre-existing tumour-specific effectors in its lesions (multiplies immune.preexisting_effectors_per_mm2; drawn after the other traits, so their draws are unchanged)", "assumption", 0, 3),
    },
}

#: How every readout categorises response (readouts.Criteria): shared by all arms, so that they compare.
SECTIONS["readout"] = {
    "criteria": P("volume", "", "response criteria of every readout (summary, PFS, waterfall, spider, response rates): volume = mRECIST by tumour volume V = L x W²/2 as mouse studies measure it (Gao 2015: CR/PR/SD by the best change in volume and its best running average; a mouse lesion of 4-7 mm can hardly progress by RECIST's +5 mm); recist = RECIST 1.1, irecist = iRECIST (longest diameters, for patient-scale lesions)", "gao2015", choices=("volume", "recist", "irecist")),
    "assessment_interval_days": P(3.0, "days", "days between response assessments from the baseline day (calipers two to three times a week; Gao 2015 measured twice weekly)", "gao2015", 1, 365),
    "best_response_from_day": P(10.0, "days", "the best response is taken over assessments at least this many days after baseline, up to the readout, so that an early assessment of a growing lesion is not its best (Gao 2015: t >= 10 days)", "gao2015", 0, 3650),
    "progression_volume_fold": P(2.0, "fold", "by volume: progression (PFS) when a lesion's volume reaches this multiple of its baseline volume (2: time to volume doubling, a common mouse endpoint; an assumption, Gao 2015 gives best-response classes, not a time to progression)", "assumption", 1.01, 1000),
}

#: The biology of each adjuvant agent (``adjuvant.AGENTS`` maps an agent to its section).
SECTIONS["tlr9_agonist"] = {
    "maturation_signal": P(0.9, "-", "DC maturation signal (fraction of the maximal maturation rate) in the injected lesion right after a CpG injection", "denbrok2006", 0, 1),
    "half_life_days": P(2.0, "days", "half-life of that signal at the injection site (CpG-ODN absorbed and cleared over hours to days)", "assumption", 0.01, 100),
}

#: Sections that hold named tables, each with the same parameters (``lesions.index``, ``drugs.anti_pd1``).
NAMED_SECTIONS: dict[str, dict[str, Param]] = {
    "lesions": {
        "diameter_mm": P(7.0, "mm", "diameter at the first simulated day", "-", 0.1, 100),
        "domain_mm": P(16.0, "mm", "side of the square tissue domain the lesion can grow into", "-", 1, 200),
        "blood_flow_share": P(0.05, "-", "share of the circulation passing the lesion", "kosinsky2018", 0, 1),
        "recruitment_capacity": P(1.0, "-", "T-cell infiltration capacity, relative (drives individual variability)", "kosinsky2018", 0, 100),
    },
    "pharmacology": {
        "kd_nm": P(2.6, "nM", "dissociation constant of antibody and target", "qspio_tnbc", 1e-4, 1e5),
        "half_life_days": P(0.93, "days", "elimination half-life of the antibody (tumour-bearing mice: anti-PD-1 0.93, anti-PD-L1 1.95 days; patients: 2-3 weeks)", "mouse_pd1_pk2020", 0.01, 365),
        "volume_l_per_kg": P(0.08, "L/kg", "volume of distribution of an IgG (central + peripheral, 5.9 L in a 70 kg patient)", "dirks2010", 1e-3, 10),
        "molecular_weight_kda": P(146.0, "kDa", "molecular weight of an IgG", "assumption", 1, 1000),
    },
    "drugs": {
        "dose_mg_per_kg": P(10.0, "mg/kg", "dose per administration", "-", 0, 1000),
        "start_day": P(0.0, "day", "day of the first dose (relative to day 0)", "-", -3650, 3650),
        "interval_days": P(3.0, "days", "days between doses", "-", 0.01, 3650),
        "doses": P(4, "doses", "number of doses", "-", 1, 1000),
    },
    "metastases": {
        "day": P(14.0, "day", "day the new metastasis is seeded", "-", -3650, 3650),
        "diameter_mm": P(1.0, "mm", "diameter when seeded", "-", 0.05, 100),
        "domain_mm": P(16.0, "mm", "side of its tissue domain", "-", 1, 200),
        "blood_flow_share": P(0.05, "-", "its share of the circulation", "-", 0, 1),
        "recruitment_capacity": P(1.0, "-", "its T-cell infiltration capacity, relative", "kosinsky2018", 0, 100),
        "necrotic_fraction": P(0.0, "-", "fraction of the seeded cells that die by necrosis on seeding (0 for a metastasis; an injected inoculum loses many cells at the injection site, releasing antigen and DAMPs)", "assumption", 0, 0.99),
    },
}

#: Treatments that are single tables: an ablation (one modality) and a resection.
ABLATION: dict[str, Param] = {
    "modality": P("cryo", "", "cryo, heat or radiotherapy", "-", choices=MODALITIES),
    "lesion": P("index", "", "name of the treated lesion", "-"),
    "day": P(0.0, "day", "day of the procedure (first fraction for radiotherapy)", "-", -3650, 3650),
    "margin_mm": P(5.0, "mm", "zone edge beyond the lesion edge; negative leaves a rim of tumour (incomplete ablation)", "aarts2019", -50, 50),
    "probe_offset_mm": P(0.0, "mm", "probe or beam centre offset from the lesion centre (along x)", "-", -50, 50),
    # cryo
    "probe_temperature_c": P(-140.0, "°C", "probe temperature", "littrup2009", -196, -20),
    "probe_radius_mm": P(1.0, "mm", "radius of the probe's cold surface", "littrup2009", 0.05, 10),
    "freeze_rate_c_per_min": P(50.0, "°C/min", "freezing rate (fast freezing is more lethal and immunogenic)", "sabel2010", 0.1, 1000),
    "freeze_thaw_cycles": P(2, "cycles", "freeze-thaw cycles", "gage1998", 1, 5),
    # heat
    "peak_temperature_c": P(90.0, "°C", "tissue temperature at the applicator", "-", 46, 150),
    # radiotherapy
    "dose_per_fraction_gy": P(8.0, "Gy", "dose per fraction", "dovedi2014", 0, 100),
    "fractions": P(3, "fractions", "number of fractions", "dovedi2014", 1, 60),
    "fraction_interval_days": P(1.0, "days", "days between fractions", "dovedi2014", 0.01, 30),
}
MODALITY_KEYS = {
    "cryo": ("probe_temperature_c", "probe_radius_mm", "freeze_rate_c_per_min", "freeze_thaw_cycles"),
    "heat": ("peak_temperature_c",),
    "radiotherapy": ("dose_per_fraction_gy", "fractions", "fraction_interval_days"),
}

#: The physics of each modality that is not a setting of the procedure (overridable like any section).
SECTIONS["cryoablation"] = {
    "lethal_temperature_fast_c": P(-20.0, "°C", "lethal isotherm when freezing fast", "aarts2019", -80, 0),
    "lethal_temperature_slow_c": P(-40.0, "°C", "lethal isotherm when freezing slowly", "gage1998", -80, 0),
    "fast_freeze_c_per_min": P(50.0, "°C/min", "freezing rate at and above which freezing counts as fast", "gage1998", 0.1, 1000),
    "slow_freeze_c_per_min": P(5.0, "°C/min", "freezing rate at and below which freezing counts as slow", "gage1998", 0.01, 1000),
    "rim_death_max": P(0.5, "-", "per-cycle death probability at the lethal isotherm's warm side", "assumption", 0, 1),
    "rim_apoptosis_fraction": P(0.7, "-", "apoptotic share of deaths between the lethal isotherm and 0 °C (no published split)", "assumption", 0, 1),
    "lethal_zone_necrosis_fraction_slow": P(0.5, "-", "necrotic share in the lethal zone after slow freezing (1 when fast)", "assumption", 0, 1),
}
SECTIONS["heat_ablation"] = {
    "necrosis_temperature_c": P(55.0, "°C", "coagulative necrosis above this temperature", "rfa_review", 42, 100),
    "sublethal_temperature_c": P(45.0, "°C", "no heat death below this temperature", "rfa_review", 37, 100),
    "body_temperature_c": P(37.0, "°C", "body temperature", "-", 30, 42),
    "rim_death_max": P(0.5, "-", "death probability just below the necrosis temperature", "assumption", 0, 1),
    "rim_apoptosis_fraction": P(0.8, "-", "apoptotic share of sublethal-zone deaths", "assumption", 0, 1),
}
#: The tissue's response to sublethal (heat) injury of the cells that survive an incomplete ablation.
SECTIONS["inflammation"] = {
    "per_injury": P(3.0, "-", "inflammation (0-1, capped) of a residual tumour per unit of mean sublethal injury of its surviving cells (injury: 0 at the sublethal, 1 at the necrosis temperature); 0 switches it off. Chosen so that Shi et al.'s incomplete RFA (about 1.5 mm short of an 8 mm lesion) inflames the residual to about 0.6", "assumption", 0, 100),
    "resolution_per_day": P(0.1, "1/day", "rate at which a lesion's injury inflammation resolves (half-life about a week; the residual tumour still progressed 14 days after incomplete RFA)", "assumption", 0, 10),
    "proliferation_boost": P(0.5, "-", "relative increase of the tumour-cell division rate at full inflammation (Ki-67 51 vs 33 % in residual tumour after direct vs indirect RFA)", "rfa_h22_2022", 0, 10),
    "mdsc_capacity_per_mm2": P(300.0, "cells/mm²", "MDSC density a fully inflamed (heat-injured) lesion fills up to: incomplete thermal ablation leaves a myeloid-dominated niche", "imwa_gr1", 0, 1e5),
}
SECTIONS["radiotherapy"] = {
    "alpha_per_gy": P(0.3, "1/Gy", "linear-quadratic alpha of well-oxygenated tumour cells", "vanleeuwen2018", 0, 5),
    "beta_per_gy2": P(0.03, "1/Gy²", "linear-quadratic beta of well-oxygenated tumour cells (alpha/beta = 10 Gy)", "vanleeuwen2018", 0, 5),
    "penumbra_mm": P(1.0, "mm", "dose fall-off width outside the field edge", "assumption", 0, 50),
    "oer_max": P(3.0, "-", "oxygen enhancement ratio of anoxic cells: the dose a fully hypoxic cell needs for the effect of 1 Gy in an oxic one (2.7-3.0 for X-rays; a dose modifier: alpha / OER, beta / OER²)", "vaupel1992", 1, 5),
    "oxygen_k_mmhg": P(3.0, "mmHg", "pO2 giving radiosensitivity halfway between anoxia and full oxygenation (Alper & Howard-Flanders' K; 3-4 mmHg)", "vaupel1992", 0.1, 50),
    "early_apoptosis_fraction": P(0.05, "-", "share of the lethally damaged cells that die within a day by interphase apoptosis (a small subset in solid tumours; most die at mitosis later; the share chosen)", "sia2020", 0, 1),
    "damp_yield_per_gy": P(0.1, "1/Gy", "DAMPs released by the death of a cell a fraction lethally damaged, per Gy of that fraction, in units of a necrotic death's DAMPs whatever its mode (immunogenic cell death), below the TREX1 threshold: cytosolic DNA rises with dose (linear: an assumption; 8 Gy gives about the 0.8 the model used as radiation's DAMP yield)", "assumption", 0, 10),
    "trex1_half_dose_gy": P(15.0, "Gy", "single-fraction dose at which TREX1 induction halves the cytosolic-DNA (DAMP) yield per death (induced above 12-18 Gy, dsDNA cleared and IFN-β lost at 20 Gy)", "vanpouillebox2017", 1, 100),
    "trex1_hill": P(4.0, "-", "Hill coefficient of that TREX1 ceiling (steep: induction appears between 12 and 18 Gy; the steepness chosen)", "assumption", 0.5, 20),
}
#: What a lesion does with the cells radiotherapy lethally damaged: they live on until a mitosis or delayed apoptosis.
SECTIONS["radiation_damage"] = {
    "abortive_divisions": P(1, "divisions", "divisions a lethally damaged cell still completes (its daughters inherit the damage) before it dies at the next mitosis attempt (mitotic catastrophe; time-lapse studies see death after one to a few divisions; the number chosen)", "dewey_timelapse", 0, 10),
    "delayed_apoptosis_per_day": P(0.1, "1/day", "rate at which a lethally damaged cell dies by delayed apoptosis whether it divides or not (the only death of a quiescent damaged cell; half-life 7 days, so that lethally irradiated lesions shrink over 1-3 weeks)", "assumption", 0, 10),
    "mitotic_death_necrosis_fraction": P(0.3, "-", "necrotic share of deaths at mitosis (mitotic catastrophe ends in necrosis or apoptosis; no published split)", "assumption", 0, 1),
}
#: Oxygen without vessels (``abscopal/oxygen.py``): it enters at the lesion's outer edge.
SECTIONS["oxygen"] = {
    "edge_po2_mmhg": P(40.0, "mmHg", "pO2 at the lesion's outer edge (about that of capillary and venous blood, 40 mmHg; tumour medians are about 10)", "vaupel1989", 0, 200),
    "diffusion_distance_um": P(160.0, "µm", "depth below the outer edge at which oxygen is used up (planar diffusion with constant consumption: pO2 = edge (1 - depth/L)²); 150-200 µm, the same depth as the proliferative rim", "thomlinson1955", 10, 2000),
}
ADJUVANT: dict[str, Param] = {
    "agent": P("cpg", "", "the adjuvant: cpg (CpG oligodeoxynucleotide, a TLR9 agonist)", "denbrok2006", choices=("cpg",)),
    "lesion": P("index", "", "name of the lesion injected (peritumoral injection)", "denbrok2006"),
    "day": P(0.0, "day", "day of the first injection", "-", -3650, 3650),
    "injections": P(1, "injections", "number of injections", "-", 1, 100),
    "interval_days": P(1.0, "days", "days between injections", "-", 0.01, 365),
}
RESECTION: dict[str, Param] = {
    "lesion": P("index", "", "name of the resected lesion", "-"),
    "day": P(30.0, "day", "day of surgery", "-", -3650, 3650),
}

#: Defaults of the base lesions and the pharmacology of each drug.
DEFAULT_LESIONS = {
    "index": {"diameter_mm": 7.0, "blood_flow_share": 0.05},
    "distant": {"diameter_mm": 7.0, "blood_flow_share": 0.05},
}
DEFAULT_PHARMACOLOGY = {
    "anti_pd1": {"kd_nm": 2.6},  # nivolumab:PD-1
    "anti_pd_l1": {"kd_nm": 0.4, "half_life_days": 1.95},  # atezolizumab:PD-L1
    "anti_ctla4": {"kd_nm": 18.2},  # ipilimumab:CTLA-4
}
#: Treatments: given in an arm only (at the top level they would apply to every arm, control included).
ARM_ONLY = ("ablation", "drugs", "adjuvant", "resection", "metastases")
TOP_LEVEL = ("arms", *SECTIONS, *(k for k in NAMED_SECTIONS if k not in ARM_ONLY))
#: What an arm may hold: overrides of any base section and its treatments.
ARM_SECTIONS = (*(k for k in TOP_LEVEL if k not in ("arms", "experiment", "readout")), *ARM_ONLY)


def _check_table(prefix: str, table: Any, schema: dict[str, Param]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix} = {table!r}: expected a table with keys {sorted(schema)}")
    out = {}
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(f"unknown key {prefix}.{key}{did_you_mean(key, schema)}; valid keys: {', '.join(sorted(schema))}")
        out[key] = schema[key].check(f"{prefix}.{key}", value)
    return out


def _check_section(prefix: str, name: str, value: Any) -> Any:
    """Check one section (``prefix`` names where it is) and return it with typed values."""
    if name in SECTIONS:
        return _check_table(f"{prefix}{name}", value, SECTIONS[name])
    if name in NAMED_SECTIONS:
        if not isinstance(value, dict):
            raise ConfigError(f"{prefix}{name} = {value!r}: expected tables like [{prefix}{name}.NAME]")
        if name == "lesions" and not value:
            raise ConfigError(f"{prefix}lesions = {{}}: expected at least one lesion ([{prefix}lesions.NAME])")
        if name in ("lesions", "metastases"):
            for lesion in value:
                check_name(f"{prefix}{name}", lesion)
        if name in ("pharmacology", "drugs"):
            for drug in value:
                if drug not in DRUGS:
                    raise ConfigError(f"unknown drug {prefix}{name}.{drug}{did_you_mean(drug, DRUGS)}; valid drugs: "
                                      f"{', '.join(DRUGS)}")
        return {k: _check_table(f"{prefix}{name}.{k}", v, NAMED_SECTIONS[name]) for k, v in value.items()}
    if name == "ablation":
        table = _check_table(f"{prefix}ablation", value, ABLATION)
        modality = table.get("modality", ABLATION["modality"].default)
        for other, keys in MODALITY_KEYS.items():
            for key in keys:
                if other != modality and key in table:
                    raise ConfigError(f"{prefix}ablation.{key} = {table[key]!r}: a setting of modality {other!r}; "
                                      f"expected only those of {modality!r} ({', '.join(MODALITY_KEYS[modality])})")
        return table
    if name == "resection":
        return _check_table(f"{prefix}resection", value, RESECTION)
    if name == "adjuvant":
        return _check_table(f"{prefix}adjuvant", value, ADJUVANT)
    valid = ARM_SECTIONS if prefix else TOP_LEVEL
    raise ConfigError(f"unknown section {prefix}{name}{did_you_mean(name, valid)}; valid sections: {', '.join(sorted(valid))}")


#: Names of experiments, arms, lesions and metastases: they become file names and column values.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_name(where: str, name: str) -> None:
    """Refuse a name (of the table ``where``, or the value of the key ``where =``) that is not a plain file name
    (``../x``, ``a b``, "") or holds ``__`` (the separator of ``<arm>__r<replicate>`` in run files)."""
    if not NAME.fullmatch(name) or "__" in name:
        key = f'{where} "{name}"' if where.endswith("=") else f'{where}."{name}"'
        raise ConfigError(f"{key}: expected a name of letters, digits, '_' and '-' starting with a letter or digit, "
                          f"without '__' (it names files and table rows)")


#: The longest arm label: it names the arm in legends and panel titles.
LABEL_MAX = 40


def check_label(arm: str, label: Any, labels: dict[str, str]) -> str:
    """An arm's display label (``[arms.NAME] label = "cryo + anti-PD-1"``): one line of 1-40 characters, not
    another arm's; recorded in ``labels`` (label -> arm)."""
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX or not label.isprintable():
        raise ConfigError(f"arms.{arm}.label = {label!r}: expected a line of 1 to {LABEL_MAX} printable characters "
                          f"(the arm's name in legends)")
    if label in labels:
        raise ConfigError(f"arms.{arm}.label = {label!r}: expected a label of its own (arm {labels[label]} has it)")
    labels[label] = arm
    return label


def did_you_mean(name: Any, names) -> str:
    """" (did you mean X?)" for the valid name closest to a misspelt one, or ""."""
    close = difflib.get_close_matches(str(name), [str(n) for n in names], n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def defaults() -> dict[str, Any]:
    """The base parameter set with every default filled in."""
    base = {name: {k: p.default for k, p in params.items()} for name, params in SECTIONS.items()}
    lesion = {k: p.default for k, p in NAMED_SECTIONS["lesions"].items()}
    base["lesions"] = {n: {**lesion, **v} for n, v in DEFAULT_LESIONS.items()}
    pk = {k: p.default for k, p in NAMED_SECTIONS["pharmacology"].items()}
    base["pharmacology"] = {n: {**pk, **v} for n, v in DEFAULT_PHARMACOLOGY.items()}
    return base


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of ``base`` with ``override`` merged in, table by table."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fill_named(params: dict[str, Any]) -> None:
    """Fill defaults inside named tables and treatments that a config only partly gives."""
    lesion = {k: p.default for k, p in NAMED_SECTIONS["lesions"].items()}
    params["lesions"] = {n: {**lesion, **v} for n, v in params["lesions"].items()}
    for section in ("drugs", "metastases"):
        if section in params:
            fill = {k: p.default for k, p in NAMED_SECTIONS[section].items()}
            params[section] = {n: {**fill, **v} for n, v in params[section].items()}
    if "ablation" in params:
        modality = params["ablation"].get("modality", "cryo")
        own = {"modality", "lesion", "day", "margin_mm", "probe_offset_mm", *MODALITY_KEYS[modality]}
        params["ablation"] = {k: params["ablation"].get(k, ABLATION[k].default) for k in ABLATION if k in own}
    if "resection" in params:
        params["resection"] = {k: params["resection"].get(k, p.default) for k, p in RESECTION.items()}
    if "adjuvant" in params:
        params["adjuvant"] = {k: params["adjuvant"].get(k, p.default) for k, p in ADJUVANT.items()}


@dataclass
class Experiment:
    """A validated experiment: the experiment settings and each arm's fully resolved parameters."""

    settings: dict[str, Any]
    arms: dict[str, dict[str, Any]]
    source: dict[str, Any]  # the config as given (after --set), for the manifest and for sweeps

    @property
    def name(self) -> str:
        return self.settings["name"]

    def with_params(self, overrides: dict[str, Any]) -> "Experiment":
        """A new Experiment with dotted keys set, validated as ``--set`` is; raise ConfigError.

        ``exp.with_params({"immune.kill_probability": 0.2, "arms.cryo.ablation.margin_mm": 2.0})``; the new
        experiment's ``source`` (the config recorded in the manifest) holds the overrides.
        """
        config = copy.deepcopy(self.source)
        for key, value in overrides.items():
            set_key(config, key, value)
        return resolve(config)

    def __repr__(self) -> str:
        s = self.settings
        lesions = next(iter(self.arms.values()))["lesions"]
        sizes = ", ".join(f"{name} {lesion['diameter_mm']:g} mm" for name, lesion in lesions.items())
        return (f"<Experiment {s['name']}: {len(self.arms)} arms ({', '.join(self.arms)}), days {s['start_day']:g} to "
                f"{s['end_day']:g} (readout {s['readout_day']:g}), {s['replicates']} replicates, seed {s['seed']}, "
                f"lesions {sizes}>")


def resolve(config: dict[str, Any]) -> Experiment:
    """Validate a config dict and resolve every arm against the defaults; raise ConfigError."""
    config = copy.deepcopy(config)
    for name in config:
        if name in ARM_ONLY:
            raise ConfigError(f"{name} = {config[name]!r}: a treatment at the top level would apply to every arm, "
                              f"control included; put it in an arm ([arms.NAME] {name} = ...)")
        if name not in TOP_LEVEL:
            raise ConfigError(f"unknown section {name}{did_you_mean(name, TOP_LEVEL)}; valid sections: "
                              f"{', '.join(sorted(TOP_LEVEL))}")
    settings = {k: p.default for k, p in SECTIONS["experiment"].items()}
    settings.update(_check_section("", "experiment", config.get("experiment", {})))
    _check_settings(settings)
    base = {k: _check_section("", k, v) for k, v in config.items() if k not in ("experiment", "arms")}
    arms_given = config.get("arms", {"control": {}})
    if not isinstance(arms_given, dict) or not arms_given:
        raise ConfigError("arms: expected at least one table [arms.NAME]")
    arms, labels = {}, {}
    for arm, overrides in arms_given.items():
        check_name("arms", arm)
        if not isinstance(overrides, dict):
            raise ConfigError(f"arms.{arm} = {overrides!r}: expected a table of overrides and treatments")
        if "experiment" in overrides:
            raise ConfigError(f"arms.{arm}.experiment: experiment settings are shared by all arms")
        if "readout" in overrides:
            raise ConfigError(f"arms.{arm}.readout: the response criteria are shared by all arms (set [readout])")
        label = check_label(arm, overrides.get("label", arm), labels)
        checked = {k: _check_section(f"arms.{arm}.", k, v) for k, v in overrides.items() if k != "label"}
        params = deep_merge(deep_merge(defaults(), base), checked)
        if "lesions" in base:  # the listed lesions only, not the defaults as well
            params["lesions"] = deep_merge(base["lesions"], checked.get("lesions", {}))
        _fill_named(params)
        _check_consistency(f"arms.{arm}", params, settings)
        arms[arm] = {**params, "label": label}
    return Experiment(settings=settings, arms=arms, source=config)


def _check_settings(s: dict[str, Any]) -> None:
    check_name("experiment.name =", s["name"])
    if not s["start_day"] < s["end_day"]:
        raise ConfigError(f"experiment.end_day = {s['end_day']}: expected after start_day = {s['start_day']}")
    if not s["start_day"] <= s["readout_day"] <= s["end_day"]:
        raise ConfigError(
            f"experiment.readout_day = {s['readout_day']:g}: expected within [start_day, end_day] = "
            f"[{s['start_day']:g}, {s['end_day']:g}]"
        )
    steps = 24.0 / s["time_step_h"]
    if abs(steps - round(steps)) > 1e-9:
        raise ConfigError(f"experiment.time_step_h = {s['time_step_h']}: expected a divisor of 24 h (1, 2, 3, 4, 6, ...)")
    if not float(s["start_day"]).is_integer():
        raise ConfigError(f"experiment.start_day = {s['start_day']}: expected a whole day")


def _check_consistency(prefix: str, params: dict[str, Any], settings: dict[str, Any]) -> None:
    """Cross-key checks: lesions named by treatments exist, procedures fall on whole simulated days."""
    lesions = set(params["lesions"])
    for name, met in params.get("metastases", {}).items():
        if name in lesions:
            raise ConfigError(f"{prefix}.metastases.{name}: a lesion of that name exists already")
        _whole_day(f"{prefix}.metastases.{name}.day", met["day"], settings)
        if met["diameter_mm"] >= met["domain_mm"]:
            raise ConfigError(f"{prefix}.metastases.{name}.diameter_mm = {met['diameter_mm']}: expected below domain_mm")
    known = lesions | set(params.get("metastases", {}))
    for kind in ("ablation", "adjuvant", "resection"):
        if kind in params:
            if params[kind]["lesion"] not in known:
                raise ConfigError(
                    f"{prefix}.{kind}.lesion = {params[kind]['lesion']!r}: expected one of {sorted(known)}"
                )
            _whole_day(f"{prefix}.{kind}.day", params[kind]["day"], settings)
            _check_lesion_there(prefix, kind, params)
    for name, lesion in params["lesions"].items():
        if lesion["diameter_mm"] >= lesion["domain_mm"]:
            raise ConfigError(f"{prefix}.lesions.{name}.diameter_mm = {lesion['diameter_mm']}: expected below domain_mm")
    for drug, schedule in params.get("drugs", {}).items():
        if drug not in params["pharmacology"]:
            raise ConfigError(f"{prefix}.drugs.{drug}: no pharmacology for it")
        if schedule["start_day"] < settings["start_day"]:
            raise ConfigError(f"{prefix}.drugs.{drug}.start_day = {schedule['start_day']}: expected on or after "
                              f"experiment.start_day = {settings['start_day']}")
        if schedule["start_day"] > settings["end_day"]:  # doses after end_day (of a course begun) are not given
            raise ConfigError(f"{prefix}.drugs.{drug}.start_day = {schedule['start_day']}: expected on or before "
                              f"experiment.end_day = {settings['end_day']} (no dose would be given)")
    _check_blood_flow(prefix, params)
    _check_memory(prefix, params)
    heat, cryo = params["heat_ablation"], params["cryoablation"]
    if params.get("ablation", {}).get("modality") == "heat":
        _increasing(prefix, [("heat_ablation.body_temperature_c", heat["body_temperature_c"], False),
                             ("heat_ablation.sublethal_temperature_c", heat["sublethal_temperature_c"], False),
                             ("heat_ablation.necrosis_temperature_c", heat["necrosis_temperature_c"], True),
                             ("ablation.peak_temperature_c", params["ablation"]["peak_temperature_c"], True)])
    if cryo["lethal_temperature_fast_c"] >= 0:
        raise ConfigError(f"{prefix}.cryoablation.lethal_temperature_fast_c = {cryo['lethal_temperature_fast_c']:g}: "
                          f"expected below 0 °C")
    _increasing(prefix, [("cryoablation.lethal_temperature_slow_c", cryo["lethal_temperature_slow_c"], False),
                         ("cryoablation.lethal_temperature_fast_c", cryo["lethal_temperature_fast_c"], False)])
    _increasing(prefix, [("cryoablation.slow_freeze_c_per_min", cryo["slow_freeze_c_per_min"], False),
                         ("cryoablation.fast_freeze_c_per_min", cryo["fast_freeze_c_per_min"], True)])


def _check_lesion_there(prefix: str, kind: str, params: dict[str, Any]) -> None:
    """A treatment's lesion exists on its day: a metastasis after its seeding day, a resected lesion only
    before its resection (the model has nothing to treat otherwise)."""
    lesion, day = params[kind]["lesion"], params[kind]["day"]
    met = params.get("metastases", {}).get(lesion)
    if met is not None and day <= met["day"]:  # on the seeding day the model treats before it seeds
        raise ConfigError(f"{prefix}.{kind}.day = {day:g}: expected after the day metastasis {lesion!r} is seeded "
                          f"(metastases.{lesion}.day = {met['day']:g})")
    resection = params.get("resection")
    if kind != "resection" and resection and resection["lesion"] == lesion and day >= resection["day"]:
        raise ConfigError(f"{prefix}.{kind}.day = {day:g}: expected before the resection of lesion {lesion!r} "
                          f"(resection.day = {resection['day']:g})")


def _increasing(prefix: str, chain: list[tuple[str, float, bool]]) -> None:
    """Values that must rise along a chain of (key, value, strictly above the one before)."""
    for (low_key, low, _), (key, value, strict) in zip(chain, chain[1:]):
        if value < low or (strict and value == low):
            raise ConfigError(f"{prefix}.{key} = {value:g}: expected {'above' if strict else 'at least'} "
                              f"{low_key} = {low:g}")


def _check_blood_flow(prefix: str, params: dict[str, Any]) -> None:
    """The lesions present together (metastases from their day on, none after its resection) get at most the
    whole circulation: their blood-flow shares sum to 1 or less."""
    lesions = {name: (-math.inf, lesion["blood_flow_share"]) for name, lesion in params["lesions"].items()}
    lesions |= {name: (met["day"], met["blood_flow_share"]) for name, met in params.get("metastases", {}).items()}
    resected = params.get("resection", {"lesion": None, "day": math.inf})
    for day in sorted({seeded for seeded, _ in lesions.values()}):
        present = {name: share for name, (seeded, share) in lesions.items()
                   if seeded <= day and not (name == resected["lesion"] and resected["day"] < day)}
        if sum(present.values()) > 1 + 1e-12:
            shares = ", ".join(f"{name} {share:g}" for name, share in present.items())
            raise ConfigError(f"{prefix}.lesions.*.blood_flow_share: the lesions present together get "
                              f"{sum(present.values()):g} of the circulation ({shares}); expected at most 1")


def _check_memory(prefix: str, params: dict[str, Any]) -> None:
    """Refuse a run whose estimated peak memory (``memory.run_memory_mb``) exceeds what the machine has free."""
    need, free = memory.run_memory_mb(params), memory.available_mb()
    if need > free:
        sizes = memory.lesions_memory_mb(params)
        name = max(sizes, key=sizes.get)
        kind = "lesions" if name in params["lesions"] else "metastases"
        spec, cell_um = {**params["lesions"], **params.get("metastases", {})}[name], params["tumour"]["cell_diameter_um"]
        side = memory.lattice_side(spec["domain_mm"], cell_um)
        raise ConfigError(f"{prefix}.{kind}.{name}.domain_mm = {spec['domain_mm']:g}: a lattice of {side} x {side} "
                          f"sites of {cell_um:g} µm; a run would need about {need:,.0f} MB, the machine has "
                          f"{free:,.0f} MB available")


def _whole_day(key: str, day: float, settings: dict[str, Any]) -> None:
    if not float(day).is_integer():
        raise ConfigError(f"{key} = {day}: expected a whole day (procedures happen on whole days)")
    if not settings["start_day"] <= day <= settings["end_day"]:
        raise ConfigError(f"{key} = {day}: expected within the simulated days [{settings['start_day']}, {settings['end_day']}]")


def set_key(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` in a nested config dict in place (``--set`` and sweep axes).

    Only arms, lesions and metastases that the config has can be set: a misspelt name would otherwise
    add a new arm or lesion silently (new ones are written in the config file). Setting a lesion's key in
    a config that lists no lesions first lists the default ones, so the others are kept (a config that
    lists lesions gets exactly those).
    """
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"{dotted!r} = {value!r}: expected a dotted key like immune.kill_probability")
    _check_target(config, parts, value)
    if parts[0] == "lesions" and "lesions" not in config:
        config["lesions"] = copy.deepcopy(DEFAULT_LESIONS)
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted} = {value!r}: {part} is a value, not a table")
    node[parts[-1]] = value


def _check_target(config: dict[str, Any], parts: list[str], value: Any) -> None:
    """Refuse a dotted key that names an arm, lesion or metastasis the config does not have."""
    dotted = ".".join(parts)

    def must_exist(kind: str, name: str, names: Any) -> None:
        if isinstance(names, dict) and name not in names:
            listed = ", ".join(sorted(map(str, names))) or "none"
            raise ConfigError(f"{dotted} = {value!r}: no {kind} {name!r}{did_you_mean(name, names)}; the config has "
                              f"{listed} (a new {kind} is written in the config file)")

    lesions = config.get("lesions", DEFAULT_LESIONS)
    if parts[0] == "lesions" and len(parts) > 1:
        must_exist("lesion", parts[1], lesions)
    arms = config.get("arms", {"control": {}})
    if parts[0] == "arms" and len(parts) > 1:
        must_exist("arm", parts[1], arms)
        arm = arms[parts[1]] if isinstance(arms, dict) else None
        if len(parts) > 3 and isinstance(arm, dict):
            own = arm.get("lesions", {})
            if parts[2] == "lesions" and isinstance(lesions, dict) and isinstance(own, dict):
                must_exist("lesion", parts[3], {**lesions, **own})
            if parts[2] == "metastases":
                must_exist("metastasis", parts[3], arm.get("metastases", {}))


def parse_value(text: str) -> Any:
    """Parse the value of ``--set key=value`` as TOML (numbers, booleans, strings, lists)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_config(path: str | Path, sets: list[str] = ()) -> dict[str, Any]:
    """Read a TOML config and apply ``--set key=value`` overrides (unvalidated dict)."""
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, expected a TOML file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path}: not UTF-8 text ({e.reason} at byte {e.start}), expected TOML") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    apply_sets(config, sets)
    return config


def apply_sets(config: dict[str, Any], sets: list[str]) -> None:
    """Apply ``--set key=value`` overrides (values parsed as TOML) to a config dict in place."""
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            set_key(config, key.strip(), parse_value(value.strip()))
        except ConfigError as e:
            raise ConfigError(f"--set {e}") from None


def load_experiment(path: str | Path, sets: list[str] = ()) -> Experiment:
    """Load, override and validate an experiment config."""
    return resolve(load_config(path, sets))


#: Unit suffixes of parameter keys, left out of their names on axes (the unit follows in parentheses).
_UNIT_SUFFIX = re.compile(r"(_per_[a-z0-9_]+|_(mm|mm2|mm3|um|um2|h|c|nm|kda|gy|min|mg|pct))$")


def lookup(key: str) -> tuple[str, Param]:
    """The table a dotted config key belongs to ("immune", a lesion's or drug's name, "ablation", ...) and its
    :class:`Param`; ``arms.NAME.`` is skipped. KeyError for a key the schema does not have."""
    parts = key.split(".")
    if parts[0] == "arms" and len(parts) > 2:
        parts = parts[2:]
    section, rest = parts[0], parts[1:]
    tables = {"ablation": ABLATION, "adjuvant": ADJUVANT, "resection": RESECTION, **SECTIONS}
    if section in tables and len(rest) == 1 and rest[0] in tables[section]:
        return section, tables[section][rest[0]]
    if section in NAMED_SECTIONS and len(rest) == 2 and rest[1] in NAMED_SECTIONS[section]:
        kind = {"lesions": " lesion", "metastases": " metastasis"}.get(section, "")
        return rest[0] + kind, NAMED_SECTIONS[section][rest[1]]
    raise KeyError(key)


def axis_label(key: str) -> str:
    """A config key as an axis names it: its table, the parameter's name and its unit from the schema (as
    ``abscopal params`` lists them), e.g. "immune: kill probability", "anti_pd1: start day (day)"; for an arm's
    own key the arm follows ("..., arm cryo_anti_pd1"). A key the schema does not have is returned as it is."""
    try:
        table, param = lookup(key)
    except KeyError:
        return key
    name = key.split(".")[-1]
    while _UNIT_SUFFIX.search(name):
        name = _UNIT_SUFFIX.sub("", name)
    label = f"{table}: {name.replace('_', ' ')}"
    if param.unit not in ("", "-"):
        label += f" ({param.unit})"
    parts = key.split(".")
    return f"{label}, arm {parts[1]}" if parts[0] == "arms" and len(parts) > 2 else label


def parameter_table() -> list[dict[str, str]]:
    """Every parameter: key, unit, default, allowed range, source and meaning (``abscopal params``)."""
    rows = []

    def add(prefix: str, params: dict[str, Param]) -> None:
        for key, p in params.items():
            rows.append(
                {"key": f"{prefix}{key}", "unit": p.unit, "default": repr(p.default), "range": p.range_text(),
                 "source": p.source, "meaning": p.doc}
            )

    for name, params in SECTIONS.items():
        add(f"{name}.", params)
    for name, params in NAMED_SECTIONS.items():
        add(f"{name}.NAME.", params)
    add("ablation.", ABLATION)
    add("adjuvant.", ADJUVANT)
    add("resection.", RESECTION)
    return rows
