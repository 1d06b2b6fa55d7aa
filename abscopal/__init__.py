"""abscopal: simulate the abscopal effect after tumour ablation, with checkpoint inhibitors.

    import abscopal
    exp = abscopal.load_experiment("experiments/cryo_checkpoint.toml")
    res = abscopal.run(exp, replicates=10, seed=1, workers=2)
    res.timeseries, res.summary
"""

from .config import ConfigError, Experiment, load_experiment, resolve
from .model import AbscopalModel
from .results import Results
from .runner import run
from .sensitivity import sensitivity
from .sweep import Sweep, SweepResults

__all__ = ["AbscopalModel", "ConfigError", "Experiment", "Results", "load_experiment", "resolve", "run",
           "Sweep", "SweepResults", "sensitivity"]
__version__ = "0.1.0"
