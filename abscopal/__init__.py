"""abscopal: simulate the abscopal effect after tumour ablation, with checkpoint inhibitors.

    import abscopal
    exp = abscopal.load_experiment("experiments/cryo_checkpoint.toml")
    res = abscopal.run(exp, replicates=10, seed=1, workers=2)
    res.timeseries, res.summary

``abscopal.readouts`` (clinical readouts) is imported with the package; ``abscopal.plots`` (figures) when first
used, so that ``import abscopal`` does not import matplotlib.
"""

import importlib

from . import readouts
from .config import ConfigError, Experiment, load_experiment, resolve
from .model import AbscopalModel
from .results import Results
from .runner import run
from .sensitivity import sensitivity
from .store import FolderError
from .sweep import Sweep, SweepResults

__all__ = ["AbscopalModel", "ConfigError", "Experiment", "FolderError", "Results", "load_experiment", "plots",
           "readouts", "resolve", "run", "Sweep", "SweepResults", "sensitivity"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``abscopal.plots`` imported on first use (it imports matplotlib and seaborn)."""
    if name == "plots":
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
