"""The memory a run needs, estimated from its lattices before it starts, and the memory the machine has.

A lesion's lattice is a square of ``domain_mm / cell_diameter_um`` sites a side (one site = one cell),
held for the whole run whatever the lesion's size; its antigen, DAMP and IFN-γ fields are squares of
``field_resolution_um`` pixels over the same domain. Peak memory is the interpreter and libraries plus,
for every lesion and metastasis, bytes per lattice site (the per-cell arrays and the temporaries of growth
and ablation over a lesion as large as its domain) and per field pixel (the fields and their diffusion
operators). The coefficients were fitted to measured peaks (``experiments/memory_calibration.py``).
A process pool of N workers holds N runs at once, each in its own process, plus the driver that hands them
out (``pool_memory_mb``).
"""

from __future__ import annotations

import os

from . import compiled

#: Resident memory of a process that has imported abscopal and run a tiny lesion (measured 186 MB; 165 MB before
#: the execution layer), plus the ~40 MB by which the peak of one run varied between fresh environments
#: (243-284 MB for two 15 mm lesions in 16 mm domains).
#: With the compiled kernels (``abscopal.compiled``), numba's compiler (LLVM) adds to every process that imports
#: abscopal: measured 116 MB at import and 139 MB at the peak of one run (389 against 250 MB for two 15 mm lesions
#: in 16 mm domains, ``experiments/memory_calibration.py`` with ``ABSCOPAL_NUMBA`` 1 and 0).
COMPILER_MB = 140.0
BASE_MB = 240.0 + (COMPILER_MB if compiled.KERNELS is not None else 0.0)
#: Peak bytes per lattice site: 20 in per-cell arrays (5 of them radiotherapy's lethal damage), about 45 per
#: site of tissue in the temporaries of growth and ablation; a lesion may grow to fill its domain (measured 50 at
#: a disc filling 78 % of it, before the lethal-damage arrays).
BYTES_PER_SITE = 65.0
#: Peak bytes per field pixel: four float64 fields, the diffusion operators and their products (measured ~50).
BYTES_PER_PIXEL = 64.0


def lattice_side(domain_mm: float, cell_um: float) -> int:
    """Sites along a side of a lesion's square lattice (as ``Lesion`` makes it)."""
    return int(round(domain_mm * 1000.0 / cell_um))


def lesion_memory_mb(spec: dict, params: dict) -> float:
    """Peak memory (MB) that one lesion's lattice and fields add to a run."""
    cell_um = params["tumour"]["cell_diameter_um"]
    n = lattice_side(spec["domain_mm"], cell_um)
    block = max(1, int(round(params["release"]["field_resolution_um"] / cell_um)))
    pixels = -(-n // block)
    return (BYTES_PER_SITE * n * n + BYTES_PER_PIXEL * pixels * pixels) / 1e6


def lesions_memory_mb(params: dict) -> dict[str, float]:
    """Each lesion's and metastasis's share of a run's peak memory (MB)."""
    specs = {**params["lesions"], **params.get("metastases", {})}
    return {name: lesion_memory_mb(spec, params) for name, spec in specs.items()}


def run_memory_mb(params: dict) -> float:
    """Estimated peak resident memory (MB) of one run of an arm."""
    return BASE_MB + sum(lesions_memory_mb(params).values())


def pool_memory_mb(run_mb: float, workers: int) -> float:
    """Estimated peak (MB) of ``workers`` worker processes each running a run of ``run_mb``, plus the driver
    (a process that has imported abscopal: ``BASE_MB``)."""
    return workers * run_mb + BASE_MB


def workers_that_fit(run_mb: float, free_mb: float) -> int:
    """The most worker processes whose runs and driver fit in ``free_mb`` (0 if not even one)."""
    return max(0, int((free_mb - BASE_MB) // run_mb))


def available_mb() -> float:
    """Memory the machine can give a new process now (MB): MemAvailable of /proc/meminfo (Linux), else
    the free physical pages (os.sysconf), else infinite (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return float("inf")
