"""Named random streams of one run (common random numbers).

A run's SeedSequence is split by name ("distant", "growth") instead of by order, so every arm of a
replicate draws the same numbers for the same purpose wherever their histories agree, and adding a
lesion or a treatment does not shift the draws of the others. Never the global RNG.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Generators keyed by names, all derived from one run seed."""

    def __init__(self, seed: np.random.SeedSequence):
        self.seed = seed

    def generator(self, *names: str) -> np.random.Generator:
        key = tuple(zlib.crc32(n.encode()) for n in names)
        return np.random.default_rng(
            np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, *key))
        )


def replicate_seed(experiment_seed: int, replicate: int) -> np.random.SeedSequence:
    """The seed of one replicate: child ``replicate`` of the experiment's SeedSequence (as spawn() gives)."""
    return np.random.SeedSequence(experiment_seed, spawn_key=(replicate,))
