"""Sensitivity of a sobol or morris sweep (SALib): which sampled parameter drives an outcome.

    res = abscopal.Sweep(config, sample={...}, method="sobol", n=256, replicates=3).run(out=...)
    abscopal.sensitivity(res, output="distant_change_pct")

The output is averaged over replicates per point, then per arm, and per combination of grid values when the
sweep also has grid axes, SALib's ``sobol.analyze`` (first-order and total indices with bootstrap confidence
intervals, ``calc_second_order=False``) or ``morris.analyze`` (elementary effects: mean, mean of absolute
values with a bootstrap interval, standard deviation) runs. Morris screens many parameters with few runs
(``n * (d + 1)``); Sobol apportions the output's variance but needs ``n * (d + 2)`` with larger ``n``.
Needs ``pip install 'abscopal[sensitivity]'``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .sweep import _range

#: The statistics of each method, one column each.
COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu", "mu_star", "mu_star_conf", "sigma")}


def _output_column(summary: pd.DataFrame, output: str, lesion: str | None) -> tuple[pd.DataFrame, str]:
    """Rows and column of ``output``: a summary column (with ``lesion``) or "<lesion>_change_pct"."""
    if output in summary.columns:
        rows = summary if lesion is None else summary[summary["lesion"] == lesion]
        if lesion is None and summary["lesion"].nunique() > 1 and output != "primed_cd8_total":
            raise ValueError(f"output {output!r} is per lesion: pass lesion= one of {sorted(summary['lesion'].unique())}")
        return rows, output
    name, sep, rest = output.partition("_")
    column = {"change_pct": "burden_change_pct", "diameter_change_pct": "diameter_change_pct"}.get(rest)
    if not sep or column is None or name not in set(summary["lesion"]):
        raise ValueError(f"output {output!r}: expected a summary column or '<lesion>_change_pct' / "
                         f"'<lesion>_diameter_change_pct' with a lesion in {sorted(summary['lesion'].unique())}")
    return summary[summary["lesion"] == name], column


def _unit(points: list[dict], sample: dict) -> np.ndarray:
    """The points' sampled values on the unit cube (log ranges on the log scale): the design before scaling."""
    x = np.empty((len(points), len(sample)))
    for j, (key, spec) in enumerate(sample.items()):
        low, high, scale, _ = _range(key, spec)
        v = np.array([p["values"][key] for p in points], dtype=float)
        x[:, j] = np.log(v / low) / np.log(high / low) if scale == "log" else (v - low) / (high - low)
    return x


def sensitivity(res, output: str = "distant_change_pct", lesion: str | None = None, arm: str | None = None,
                num_resamples: int = 1000, conf_level: float = 0.95, seed: int | None = 1) -> pd.DataFrame:
    """Sobol indices (a sobol sweep) or Morris elementary effects (a morris sweep) of ``output``.

    Returns one row per arm (x grid combination) x parameter. Sobol: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``.
    Morris: ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma``, in units of ``output`` per whole range of the
    parameter (an elementary effect is the change of ``output`` over a step of 2/3 of the range, divided by 2/3;
    on the log scale for log ranges): for ``output = 5 * a`` with a in (0, 2), mu = mu_star = 10, sigma = 0.
    conf: half-width of the ``conf_level`` bootstrap interval (``num_resamples``, ``seed``).
    """
    try:
        from SALib.analyze import morris, sobol
    except ImportError:
        raise RuntimeError("sensitivity needs SALib: pip install 'abscopal[sensitivity]'") from None
    spec = res.manifest["sweep"]
    method = spec["method"]
    if method not in COLUMNS:
        raise ValueError(f"sensitivity needs a sweep with method = 'sobol' (Sobol indices) or 'morris' "
                         f"(elementary effects), not {method!r}")
    names = list(spec["sample"])
    grid = list(spec["grid"])
    d = len(names)
    block = int(spec["n"]) * (d + 2 if method == "sobol" else d + 1)  # points per grid combination
    rows, column = _output_column(res.summary, output, lesion)
    arms = [arm] if arm is not None else list(dict.fromkeys(rows["arm"]))
    n_points = len(res.manifest["points"])
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    out = []
    for a in arms:
        y = rows[rows["arm"] == a].groupby("point")[column].mean().reindex(range(n_points))
        for start in range(0, n_points, block):
            chunk = y.iloc[start:start + block]
            if chunk.isna().any():
                missing = chunk.index[chunk.isna()].tolist()[:5]
                raise ValueError(f"arm {a}: {output} missing at points {missing} (failed runs or no such lesion); "
                                 "resume the sweep first")
            points = res.manifest["points"][start:start + block]
            y_block = chunk.to_numpy(dtype=float)
            if method == "sobol":
                si = sobol.analyze(problem, y_block, calc_second_order=False, num_resamples=num_resamples,
                                   conf_level=conf_level, seed=seed)
            else:
                si = morris.analyze(problem, _unit(points, spec["sample"]), y_block, num_resamples=num_resamples,
                                    conf_level=conf_level, num_levels=int(spec["levels"]), seed=seed)
            values = points[0]["values"]
            for i, name in enumerate(names):
                out.append({"arm": a, **{g: values[g] for g in grid}, "parameter": name,
                            **{c: float(si[c][i]) for c in COLUMNS[method]}})
    return pd.DataFrame(out)
