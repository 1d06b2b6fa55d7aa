"""Sobol sensitivity indices of a sobol sweep (SALib): which sampled parameter drives an outcome.

    res = abscopal.Sweep(config, sample={...}, method="sobol", n=256, replicates=3).run(out=...)
    abscopal.sensitivity(res, output="distant_change_pct")

The output is averaged over replicates per point, then SALib's ``sobol.analyze`` (first-order and total
indices with bootstrap confidence intervals, ``calc_second_order=False``) runs per arm, and per
combination of grid values when the sweep also has grid axes. Needs ``pip install 'abscopal[sensitivity]'``.
"""

from __future__ import annotations

import pandas as pd


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


def sensitivity(res, output: str = "distant_change_pct", lesion: str | None = None, arm: str | None = None,
                num_resamples: int = 1000, conf_level: float = 0.95, seed: int | None = 1) -> pd.DataFrame:
    """Sobol indices of ``output`` for each sampled parameter of a sobol sweep.

    Returns one row per arm (x grid combination) x parameter: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
    (conf: half-width of the ``conf_level`` bootstrap interval).
    """
    try:
        from SALib.analyze import sobol
    except ImportError:
        raise RuntimeError("sensitivity needs SALib: pip install 'abscopal[sensitivity]'") from None
    spec = res.manifest["sweep"]
    if spec["method"] != "sobol":
        raise ValueError(f"sensitivity needs a sweep with method = 'sobol', not {spec['method']!r}")
    names = list(spec["sample"])
    grid = list(spec["grid"])
    d = len(names)
    block = int(spec["n"]) * (d + 2)  # points per grid combination (the Saltelli design)
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
            si = sobol.analyze(problem, chunk.to_numpy(dtype=float), calc_second_order=False,
                               num_resamples=num_resamples, conf_level=conf_level, seed=seed)
            values = res.manifest["points"][start]["values"]
            for i, name in enumerate(names):
                out.append({"arm": a, **{g: values[g] for g in grid}, "parameter": name,
                            "S1": si["S1"][i], "S1_conf": si["S1_conf"][i],
                            "ST": si["ST"][i], "ST_conf": si["ST_conf"][i]})
    return pd.DataFrame(out)
