"""One run from keyword arguments, the Mesa way: ``AbscopalModel(config=..., arm=..., seed=...)``.

Every argument is optional. The run is replicate ``replicate`` (default 0) of the experiment with seed ``seed``:
the same SeedSequence, the same individual and so the same numbers as that run of ``abscopal run``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from . import individual
from .config import SECTIONS, ConfigError, Experiment, did_you_mean, load_experiment, resolve
from .streams import replicate_seed

#: The default experiment, package data (in a wheel too); the repository's experiments/cryo_checkpoint.toml is a
#: link to it.
DEFAULT_CONFIG = resources.files("abscopal") / "cryo_checkpoint.toml"


def experiment(config: str | Path | dict | Experiment | None) -> Experiment:
    """The experiment of ``config``: a TOML file's path, a config dict, an Experiment, or None (the default)."""
    if config is None:
        with resources.as_file(DEFAULT_CONFIG) as path:
            return load_experiment(path)
    if isinstance(config, Experiment):
        return config
    if isinstance(config, dict):
        return resolve(config)
    if isinstance(config, (str, Path)):
        return load_experiment(config)
    raise ConfigError(f"config = {config!r}: expected a path to a TOML experiment, a config dict or an Experiment")


def default_arm(exp: Experiment) -> str:
    """The arm a viewer sees first: the first that combines an ablation with a drug (the abscopal setting this
    package is about), else the first with any treatment, else the first."""
    treatments = ("ablation", "drugs", "adjuvant", "resection", "metastases")
    for wanted in (lambda p: "ablation" in p and "drugs" in p, lambda p: any(t in p for t in treatments)):
        arm = next((name for name, params in exp.arms.items() if wanted(params)), None)
        if arm is not None:
            return arm
    return next(iter(exp.arms))


def choose_arm(exp: Experiment, arm: str | None) -> str:
    """``arm`` if the experiment has it (else a ConfigError naming it), or the :func:`default_arm` for None."""
    if arm is None:
        return default_arm(exp)
    if arm not in exp.arms:
        raise ConfigError(f"arm = {arm!r}: expected one of {list(exp.arms)}{did_you_mean(arm, exp.arms)}")
    return arm


def run_inputs(config=None, arm: str | None = None, seed: int | None = None, replicate: int = 0,
               overrides: dict | None = None) -> tuple[dict, dict, np.random.SeedSequence]:
    """The arm's parameters (scaled by the replicate's individual), the settings and the replicate's SeedSequence.

    ``overrides``: dotted config keys set as ``--set`` sets them (``{"immune.kill_probability": 0.2}``).
    Raise ConfigError naming the argument, its value and what is expected.
    """
    exp = experiment(config)
    if overrides:
        exp = exp.with_params(overrides)
    arm = choose_arm(exp, arm)
    settings = dict(exp.settings)
    if seed is not None:
        settings["seed"] = SECTIONS["experiment"]["seed"].check("seed", seed)
    if isinstance(replicate, bool) or not isinstance(replicate, int) or not 0 <= replicate < settings["replicates"]:
        raise ConfigError(f"replicate = {replicate!r}: expected a whole number in [0, {settings['replicates'] - 1}] "
                          f"(experiment.replicates = {settings['replicates']})")
    seq = replicate_seed(settings["seed"], replicate)
    params = exp.arms[arm]
    return individual.apply(params, individual.draw(params["individual"], seq)), settings, seq
