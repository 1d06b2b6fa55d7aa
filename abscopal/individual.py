"""Between-individual variability: a replicate is one individual, the same in every arm.

Each individual draws, from its own named stream of the replicate's seed ("individual"), one
standard normal score z per trait, in the fixed order of ``TRAITS``. A trait's factor is
exp(sd_log x z): log-normal with median 1, as the random effects of a mixed-effects model
(Kosinsky et al. 2018 put one on the T-cell influx, with Omega 0.696). The factors multiply
the arm's parameters before the model is built. Arms of a replicate share the scores (common
random numbers: the same individual under different treatments), the other streams are not
touched, and a spread of 0 gives a factor of exactly 1, the un-varied model.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .streams import Streams

#: Trait -> the key of its spread in the ``individual`` section; the order fixes the draws.
TRAITS = {
    "recruitment_capacity": "recruitment_capacity_sd_log",
    "naive_precursors": "naive_precursors_sd_log",
    "growth_rate": "growth_rate_sd_log",
    "preexisting_effectors": "preexisting_effectors_sd_log",  # added last: the earlier traits keep their draws
}


def draw(spread: dict, seed: np.random.SeedSequence) -> dict[str, float]:
    """The individual's factor per trait (relative to the config's value, median 1)."""
    z = Streams(seed).generator("individual").standard_normal(len(TRAITS))
    return {trait: math.exp(spread[key] * float(zi)) for (trait, key), zi in zip(TRAITS.items(), z)}


def apply(params: dict, factors: dict[str, float]) -> dict:
    """A copy of an arm's parameters for this individual.

    recruitment_capacity multiplies the T-cell infiltration capacity of every lesion and of every
    metastasis it will seed; naive_precursors the tumour-specific naive CD8 precursors;
    growth_rate the tumour-cell division rate; preexisting_effectors the effectors already in the lesions on the
    first simulated day.
    """
    out = copy.deepcopy(params)
    for section in ("lesions", "metastases"):
        for lesion in out.get(section, {}).values():
            lesion["recruitment_capacity"] *= factors["recruitment_capacity"]
    out["lymph_node"]["naive_precursors"] *= factors["naive_precursors"]
    out["tumour"]["growth_rate_per_day"] *= factors["growth_rate"]
    out["immune"]["preexisting_effectors_per_mm2"] *= factors["preexisting_effectors"]
    return out


def columns(factors: dict[str, float]) -> dict[str, float]:
    """The factors as summary columns: ``individual_<trait>``."""
    return {f"individual_{trait}": value for trait, value in factors.items()}
