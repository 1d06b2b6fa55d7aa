"""The switch between the compiled kernels and the numpy code of the lattice's hot loops.

With numba installed (the optional extra ``abscopal[fast]``) the loops of cell division, PD-L1 relaxation and
hole filling run as compiled kernels (``abscopal.kernels``); without it, or with the environment variable
``ABSCOPAL_NUMBA=0``, the numpy code runs. Both give the same numbers bit for bit: the kernels take their random
numbers from the model's numpy Generators, drawn by the caller in the same order, and use no fast-math.
``ABSCOPAL_NUMBA`` is read once, at import: 1 (the default) uses numba where it is installed, 0 never does.
"""

from __future__ import annotations

import importlib.util
import os

_SWITCH = os.environ.get("ABSCOPAL_NUMBA", "1")
if _SWITCH not in ("0", "1"):
    raise ValueError(f"ABSCOPAL_NUMBA = {_SWITCH!r}: expected 0 (numpy code) or 1 (compiled kernels where numba is installed)")

#: The kernels module, or None: the numpy code runs (numba missing, or ABSCOPAL_NUMBA=0).
KERNELS = None
if _SWITCH == "1" and importlib.util.find_spec("numba") is not None:
    from . import kernels as KERNELS  # noqa: N812 (a module used as a switch)
