"""Named random streams of one run (common random numbers).

A run's SeedSequence is split by name ("distant", "growth") instead of by order, so every arm of a
replicate draws the same numbers for the same purpose wherever their histories agree, and adding a
lesion or a treatment does not shift the draws of the others. A lesion's streams are keyed by day as
well (``Streams.daily``, as Starsim jumps its streams each step): once two arms' histories diverge,
one extra draw would shift every later one, but each day starts both from the same point again. Never
the global RNG.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Generators keyed by names, all derived from one run seed."""

    def __init__(self, seed: np.random.SeedSequence):
        self.seed = seed

    def generator(self, *keys: str | int) -> np.random.Generator:
        """The generator of a key: names (hashed) and integers such as a day (negative ones wrap)."""
        key = tuple(zlib.crc32(k.encode()) if isinstance(k, str) else k % 2**32 for k in keys)
        return np.random.default_rng(
            np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, *key))
        )

    def daily(self, lesion: str, day: int | None = None) -> "LesionStreams":
        """A lesion's streams for one day (day None: those of its creation)."""
        return LesionStreams(self, lesion, day)


class LesionStreams:
    """A lesion's generators by purpose ("growth", "t_cells", ...), keyed by (lesion, purpose, day) and made on
    first use (a day's generator costs a SeedSequence: cheap once a day, not per draw)."""

    def __init__(self, streams: Streams, lesion: str, day: int | None):
        self.streams, self.key, self.made = streams, (lesion,) if day is None else (lesion, day), {}

    def __getitem__(self, purpose: str) -> np.random.Generator:
        if purpose not in self.made:
            lesion, *day = self.key
            self.made[purpose] = self.streams.generator(lesion, purpose, *day)
        return self.made[purpose]


def replicate_seed(experiment_seed: int, replicate: int) -> np.random.SeedSequence:
    """The seed of one replicate: child ``replicate`` of the experiment's SeedSequence (as spawn() gives)."""
    return np.random.SeedSequence(experiment_seed, spawn_key=(replicate,))
