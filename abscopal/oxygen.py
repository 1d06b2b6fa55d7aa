"""Oxygen in a lesion and its effect on radiation: a proxy until the model has vessels.

The lesions have no vessels yet (issue 9), so oxygen enters only at the lesion's outer edge: the partial
pressure of oxygen (pO2, mmHg) at a depth below the edge is that of planar diffusion with constant
consumption, p0 (1 - x/L)² for x < L and 0 beyond, where L is the oxygen diffusion distance (the
solution Thomlinson & Gray 1955 used to explain viable cords about 150 µm thick around vessels, with
necrosis beyond). A future oxygen field fed by vessels replaces ``po2_mmhg``; ``dose_modifying_factor``
stays.
"""

from __future__ import annotations

import numpy as np


def po2_mmhg(depth_um, edge_po2_mmhg: float, diffusion_distance_um: float) -> np.ndarray:
    """pO2 (mmHg) at ``depth_um`` (µm) below the lesion's outer edge, whose pO2 is ``edge_po2_mmhg``; none
    deeper than ``diffusion_distance_um`` (µm)."""
    depth = np.asarray(depth_um, dtype=float)
    left = np.clip(1.0 - depth / diffusion_distance_um, 0.0, 1.0)
    return edge_po2_mmhg * left**2


def dose_modifying_factor(po2, oer_max: float, k_mmhg: float) -> np.ndarray:
    """The share of the dose a cell at pO2 ``po2`` (mmHg) effectively receives, relative to a fully oxic cell:
    1/``oer_max`` when anoxic, toward 1 when well oxygenated (1 at ``np.inf``).

    Alper & Howard-Flanders (1956): radiosensitivity relative to anoxia is (m p + K) / (p + K), with m the
    maximal oxygen enhancement ratio and K the pO2 of half the effect (about 3 mmHg). Applied to the dose, it
    scales alpha by the factor and beta by its square (oxygen as a dose modifier: Wouters & Brown 1997;
    Carlson et al. 2006).
    """
    anoxic_share = k_mmhg / (np.asarray(po2, dtype=float) + k_mmhg)  # 1 when anoxic, 0 at infinite pO2
    return 1.0 - anoxic_share * (1.0 - 1.0 / oer_max)
