"""Clinical readouts of simulated experiments, as tidy DataFrames.

Response criteria (:class:`Criteria`, the config's ``[readout]`` table): by default the preclinical criteria of
mouse studies, by tumour volume (caliper volume V = L x W² / 2, :func:`tumour_volume_mm3`; categories of Gao et
al., Nat Med 2015, "mRECIST"; progression for PFS when a lesion's volume reaches ``progression_volume_fold`` x
its baseline volume, or a new lesion appears); RECIST 1.1 or iRECIST (longest diameters) for patient-scale
lesions. A 4-7 mm mouse lesion can hardly progress by RECIST 1.1 (+20 % and +5 mm), so RECIST would read a lesion
that grew +45 % in diameter as stable. Every readout that categorises (``lesion_category``, the summary, PFS,
best response, the figures) takes the criteria from one place.

Burden change, RECIST 1.1, iRECIST, abscopal (distant-lesion) response and its rate with a binomial
confidence interval, time-to-event endpoints with Kaplan-Meier curves and log-rank tests, and immune
readouts per lesion.

Every function takes the results frames (``timeseries``: one row per recorded day and lesion, with
``lesion == "systemic"`` for whole-body rows; ``events``) and returns a DataFrame. ``by`` names the columns
that identify one simulated patient (default ``("arm", "replicate")``); a sweep adds its own columns (a
parameter value, ``point``) to ``by``. Days are days relative to the reference day 0 (usually the
ablation; the simulator records day 0 before a day-0 ablation), diameters are in mm, burden in cells.

Simplifications of RECIST 1.1 (deliberate; a simulated lesion is always measurable):

- Target lesions are, by default, every lesion that has a record at or before the baseline day (no
  10 mm measurability limit, no cap of five targets or two per organ). Lesions that exist at baseline but
  are not in ``target_lesions`` are non-target lesions: they only turn a target CR into PR while any is
  still visible (> 0 mm); unequivocal non-target progression is not assessed.
- A new lesion is one whose first record (or its day in ``new_lesion_days``) is after the baseline day;
  from the first assessment at or after its appearance every RECIST assessment is PD.
- PD needs both +20 % over the nadir (smallest sum so far, baseline included, current assessment
  excluded) and +5 mm absolute; with a nadir of 0 mm (after a CR) any regrowth of >= 5 mm is PD.
- Responses need no confirmation and SD no minimum duration. Assessments are kept only after the baseline
  day and up to the last recorded day of each patient (a run that stopped early has no later assessments).
- Comparisons are made with a tolerance of 1e-9 so that exactly -30 % is PR and exactly +20 % with +5 mm is PD.

iRECIST (Seymour et al., Lancet Oncol 2017), simplified:

- The first RECIST progression (target PD vs nadir, or a new lesion) is iUPD. At the next assessment it
  is confirmed (iCPD) if progression is still there: target PD again vs the nadir, or the sum grew by
  >= 5 mm over the iUPD sum, or another new lesion appeared, or the new lesions' diameters grew by >= 5 mm
  in sum. Otherwise it was pseudo-progression: the iUPD stays in the record, the patient's
  ``pseudo_progression`` is True, the bar is reset (the new lesions seen so far become the reference) and
  later assessments read iCR/iPR/iSD until a new progression gives a new iUPD.
- Before any iUPD the responses read CR/PR/SD, as in RECIST. After iCPD every assessment reads iCPD (the
  confirmed progression ends the patient's course). An iUPD at the last assessment stays unconfirmed.
- Target CR with a remaining (accepted) new lesion > 0 mm reads iPR.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "Criteria",
    "tumour_volume_mm3",
    "lesion_category",
    "volume_response",
    "best_response",
    "lesion_roles",
    "lesion_response",
    "summarise_run",
    "burden_change",
    "recist",
    "best_overall_response",
    "irecist",
    "abscopal_response",
    "abscopal_response_rate",
    "time_to_event",
    "kaplan_meier",
    "logrank",
    "immune_readouts",
]

DEFAULT_BY = ("arm", "replicate")
SYSTEMIC = "systemic"
TOTAL = "total"  # burden_change: the sum of all real lesions
ANY = "any"  # abscopal_response: the patient-level row (any untreated lesion responds)
MEASURED, SEEDED_AFTER_READOUT = "measured", "seeded_after_readout"  # summarise_run: readout_status

PR_PCT = -30.0  # RECIST 1.1 partial response: <= -30 % from the baseline sum
PD_PCT = 20.0  # RECIST 1.1 progression: >= +20 % over the nadir ...
PD_MM = 5.0  # ... and >= +5 mm absolute
_EPS = 1e-9

UNTREATED = "untreated"  # the role of a lesion no local event touched
ABLATION_ROLES = {"cryo": "ablated", "heat": "ablated", "radiotherapy": "irradiated"}  # by modality
LOCAL_EVENT_ROLES = {"resection": "resected", "adjuvant": "injected"}  # other local events, by kind

#: Gao et al. 2015's mRECIST for mouse tumours, in the order applied: (category, best response below (%), best
#: average response below (%)) on the change in volume from baseline; PD when none applies.
VOLUME_CLASSES = (("CR", -95.0, -40.0), ("PR", -50.0, -20.0), ("SD", 35.0, 30.0))
CRITERIA_TITLES = {"volume": "mRECIST by tumour volume (Gao 2015)", "recist": "RECIST 1.1", "irecist": "iRECIST"}

_RANK = {"CR": 0, "iCR": 0, "PR": 1, "iPR": 1, "SD": 2, "iSD": 2, "PD": 3, "iUPD": 3, "iCPD": 3, "NE": 4}


@dataclass(frozen=True)
class Criteria:
    """The response criteria of every readout: the config's ``[readout]`` table (units and sources in
    ``abscopal params``).

    ``criteria``: "volume" (Gao 2015's mRECIST on the caliper volume, the default), "recist" (RECIST 1.1) or
    "irecist"; ``assessment_interval_days``: days between assessments from the baseline day;
    ``best_response_from_day``: the best response is taken over assessments at least this many days after
    baseline (Gao: 10 days), up to the readout; ``progression_volume_fold``: by volume, progression (PFS) when a
    lesion reaches this multiple of its baseline volume.
    """

    criteria: str = "volume"
    assessment_interval_days: float = 3.0
    best_response_from_day: float = 10.0
    progression_volume_fold: float = 2.0

    def __post_init__(self):
        if self.criteria not in CRITERIA_TITLES:
            raise ValueError(f"criteria = {self.criteria!r}: expected one of {list(CRITERIA_TITLES)}")

    @classmethod
    def of(cls, value=None) -> "Criteria":
        """Criteria from Criteria, a name ("volume", "recist", "irecist"), a ``[readout]`` table (dict), or None
        (the defaults)."""
        if isinstance(value, cls):
            return value
        table = {"criteria": value} if isinstance(value, str) else dict(value or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"readout: unknown keys {unknown}; expected {sorted(known)}")
        return cls(**table)

    @property
    def by_volume(self) -> bool:
        return self.criteria == "volume"

    @property
    def title(self) -> str:
        """The criteria's name, as figures and captions state it."""
        return CRITERIA_TITLES[self.criteria]

    @property
    def change_column(self) -> str:
        """The change (%) the criteria categorise: in volume or in longest diameter."""
        return "volume_change_pct" if self.by_volume else "longest_diameter_change_pct"

    def assessment_days(self, baseline_day: float, last_day: float) -> np.ndarray:
        """Assessment days after ``baseline_day`` up to ``last_day``, every ``assessment_interval_days``."""
        step = self.assessment_interval_days
        return np.arange(baseline_day + step, last_day + _EPS, step)


# ---- helpers ------------------------------------------------------------------------------------
def _keys(by, *frames: pd.DataFrame) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by or ())
    if not keys:
        raise ValueError("by: expected at least one column (e.g. 'arm')")
    for frame in frames:
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise KeyError(f"by: columns {missing} not in the frame (columns: {list(frame.columns)})")
    return keys


def _lesions(ts: pd.DataFrame) -> pd.DataFrame:
    """Rows of real lesions (not the systemic rows), sorted by day."""
    les = ts[ts["lesion"].notna() & (ts["lesion"] != SYSTEMIC)]
    return les.sort_values("time_day", kind="stable")


def _snapshot(les: pd.DataFrame, keys: list[str], day: float | None = None) -> pd.DataFrame:
    """Last record of each group x lesion at or before ``day`` (the last record when ``day`` is None).

    ``les`` must be sorted by ``time_day``.
    """
    rec = les if day is None else les[les["time_day"] <= day + _EPS]
    return rec.drop_duplicates([*keys, "lesion"], keep="last")


def _order(frame: pd.DataFrame, ref: pd.DataFrame, keys: list[str], then: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` with its groups in their order of first appearance in ``ref`` (e.g. arms in config order)."""
    rank = ref[keys].drop_duplicates().assign(_order=lambda f: np.arange(len(f)))
    out = frame.merge(rank, on=keys, how="left", sort=False)
    return out.sort_values(["_order", *then], kind="stable").drop(columns="_order").reset_index(drop=True)


def _pct(new: pd.Series, old: pd.Series) -> pd.Series:
    """Percent change; NaN where the reference is 0 or missing."""
    return 100.0 * (new - old) / old.where(old > 0)


def _groupby(frame: pd.DataFrame, keys: list[str]):
    return frame.groupby(keys, dropna=False, sort=False)


def lesion_response(baseline_mm, diameter_mm) -> np.ndarray:
    """RECIST 1.1 thresholds applied to one lesion against its own baseline diameter (no nadir).

    CR at 0 mm, PR at <= -30 %, PD at >= +20 % and >= +5 mm, else SD; NE when the baseline is not > 0 mm
    or the diameter is missing. The one response categorisation of a single lesion (readouts, summary, plots).
    """
    base_mm, now_mm = np.asarray(baseline_mm, float), np.asarray(diameter_mm, float)
    grow = now_mm - base_mm
    return np.select(
        [
            ~(base_mm > 0) | np.isnan(now_mm),
            now_mm <= _EPS,
            grow <= PR_PCT / 100.0 * base_mm + _EPS,
            (grow >= PD_PCT / 100.0 * base_mm - _EPS) & (grow >= PD_MM - _EPS),
        ],
        ["NE", "CR", "PR", "PD"],
        "SD",
    ).astype(object)


def volume_response(change_pct) -> np.ndarray:
    """Gao 2015's volume thresholds applied at one assessment: CR below -95 %, PR below -50 %, SD below +35 %,
    else PD, on the change in volume from baseline (%); NE where the change is missing. (The best response over
    time adds Gao's average-response conditions: :func:`best_response`.)"""
    change = np.asarray(change_pct, float)
    (_, cr, _), (_, pr, _), (_, sd, _) = VOLUME_CLASSES
    return np.select([np.isnan(change), change < cr, change < pr, change < sd], ["NE", "CR", "PR", "SD"],
                     "PD").astype(object)


def lesion_category(change: pd.DataFrame, criteria=None) -> np.ndarray:
    """The response of each lesion at one assessment against its own baseline, by ``criteria``
    (:class:`Criteria`, a name, or None for the default volume criteria): the one categorisation of a single
    lesion that the summary, the readouts and the figures use.

    ``change``: rows of :func:`burden_change` (or :func:`abscopal_response`). Volume: :func:`volume_response` of
    ``volume_change_pct``; RECIST 1.1 and iRECIST (no confirmation at one assessment):
    :func:`lesion_response` of the longest diameters.
    """
    if Criteria.of(criteria).by_volume:
        return volume_response(change["volume_change_pct"])
    return lesion_response(change["longest_diameter_baseline_mm"], change["longest_diameter_mm"])


def tumour_volume_mm3(ts: pd.DataFrame, by=DEFAULT_BY) -> pd.Series:
    """Caliper volume of each lesion row, V = L x W² / 2 (mm³), as mouse studies measure tumours (NaN on
    systemic rows).

    L is the longest diameter; the simulated lesion is a 2D section, so the width W perpendicular to it is that
    of the ellipse with the lesion's longest diameter and tissue area A (live and uncleared dead cells, as
    ``longest_diameter_mm``): W = min(L, 4 A / (π L)). A is counted in cells of the run's size
    (``viable_area_mm2`` / ``tumor_cells``); a frame without ``viable_area_mm2`` (a hand-built one) gets W = L.
    ``by``: the columns of one run (the cell size is the same within it).
    """
    length = ts["longest_diameter_mm"].astype(float)
    if "viable_area_mm2" in ts.columns:
        keys = [k for k in ([by] if isinstance(by, str) else list(by or ())) if k in ts.columns]
        live = ts["tumor_cells"].astype(float)
        per_cell = (ts["viable_area_mm2"] / live.where(live > 0)).astype(float)
        cell_mm2 = per_cell.groupby([ts[k] for k in keys], dropna=False).transform("median") if keys else \
            pd.Series(per_cell.median(), index=ts.index)
        dead = sum(ts[c].fillna(0.0) for c in ("necrotic_cells", "apoptotic_cells") if c in ts.columns)
        area = (live + dead) * cell_mm2
        with np.errstate(divide="ignore", invalid="ignore"):
            width = np.fmin(length, 4.0 * area / (np.pi * length))
        width = width.where(length > 0, 0.0)
    else:
        width = length
    return (length * width**2 / 2.0).rename("volume_mm3")


def _event_lesions(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The rows of one ``kind`` of an events frame, with the lesion they name in a ``lesion`` column.

    The event log names the lesion in ``lesion`` or (as the simulator writes it) ``target``.
    """
    ev = events[events["kind"] == kind] if kind is not None and "kind" in events.columns else events
    if "lesion" not in ev.columns and "target" in ev.columns:
        ev = ev.rename(columns={"target": "lesion"})
    return ev


def lesion_roles(events: pd.DataFrame, by=()) -> pd.DataFrame:
    """The local treatments of every lesion a local event touched, per group x lesion.

    Local events: ``ablation`` (``modality`` cryo or heat: "ablated"; radiotherapy: "irradiated"),
    ``resection`` ("resected") and ``adjuvant`` (an intratumoral injection: "injected"); doses, new
    metastases and stops are not local. A lesion treated at any time of the run counts, even after the
    readout: abscopal endpoints use only lesions never treated locally. Columns: by... (those the events
    frame has), ``lesion``, ``local_treatments`` (the distinct treatments in order of time, joined by "+",
    e.g. "ablated+resected"), ``role`` (the first of them; lesions not listed are "untreated").
    """
    keys = [by] if isinstance(by, str) else list(by or ())
    cols = [*(k for k in keys if k in events.columns), "lesion", "local_treatments", "role"]
    if not len(events) or "kind" not in events.columns:
        return pd.DataFrame(columns=cols)
    ev = _event_lesions(events, None)
    modality = ev["modality"] if "modality" in ev.columns else pd.Series(None, index=ev.index, dtype=object)
    ablated = modality.map(ABLATION_ROLES).fillna("ablated")  # an ablation without a modality: "ablated"
    role = ev["kind"].map(LOCAL_EVENT_ROLES).where(ev["kind"] != "ablation", ablated)
    ev = ev.assign(role=role)[role.notna()]
    if "day" in ev.columns:
        ev = ev.sort_values("day", kind="stable")
    group = cols[:-2]
    ev = ev.drop_duplicates([*group, "role"])
    out = _groupby(ev, group).agg(local_treatments=("role", "+".join), role=("role", "first")).reset_index()
    return out[cols]


def _treated_mask(frame: pd.DataFrame, treated, keys: list[str]) -> pd.Series:
    """True for rows of ``frame`` (with a ``lesion`` column) whose lesion was treated locally.

    ``treated``: a lesion name, names, or an events frame (its local events, see :func:`lesion_roles`,
    name the treated lesions of each group, matched on the ``by`` columns the events frame has).
    """
    if treated is None:
        return pd.Series(False, index=frame.index)
    if isinstance(treated, pd.DataFrame):
        roles = lesion_roles(treated, keys)
        common = [k for k in keys if k in roles.columns]
        roles = roles[[*common, "lesion"]].assign(_treated=True)
        merged = frame[[*common, "lesion"]].merge(roles, on=[*common, "lesion"], how="left")
        return pd.Series(merged["_treated"].notna().to_numpy(), index=frame.index)
    names = {treated} if isinstance(treated, str) else set(treated)
    return frame["lesion"].isin(names)


# ---- burden -------------------------------------------------------------------------------------
def burden_change(ts: pd.DataFrame, baseline_day: float = 0.0, day: float | None = None,
                  by=DEFAULT_BY) -> pd.DataFrame:
    """Tumour burden and longest diameter per group x lesion at baseline and at ``day``, and their change.

    Baseline is the last record at or before ``baseline_day``; a lesion seeded after the baseline day is
    measured from its first record (``baseline_day`` is then that record's day). The readout is the last
    record at or before ``day`` (default: each lesion's last record). A ``"total"`` row per group sums
    cells and diameters of the real lesions; its baseline counts only the lesions present at the baseline
    day (a lesion seeded later adds to the total's change). Lesions with no record at or before ``day``
    are left out.

    Columns: by..., ``lesion``, ``baseline_day``, ``day`` (days of the records used),
    ``tumor_cells_baseline``, ``tumor_cells`` (cells), ``longest_diameter_baseline_mm``,
    ``longest_diameter_mm`` (mm), ``volume_baseline_mm3``, ``volume_mm3`` (mm³, :func:`tumour_volume_mm3`),
    ``tumor_cells_change_pct``, ``longest_diameter_change_pct``, ``volume_change_pct`` (%).
    """
    keys = _keys(by, ts)
    les = _lesions(ts)
    les = les.assign(volume_mm3=tumour_volume_mm3(les, keys))
    cols = [*keys, "lesion", "time_day", "tumor_cells", "longest_diameter_mm", "volume_mm3"]
    end = _snapshot(les, keys, day)[cols]
    base = _snapshot(les, keys, baseline_day)[cols]
    first = les.drop_duplicates([*keys, "lesion"], keep="first")[cols]
    base = pd.concat([base, first], ignore_index=True).drop_duplicates([*keys, "lesion"], keep="first")
    out = end.merge(base, on=[*keys, "lesion"], how="left", suffixes=("", "_baseline"))
    out = out.rename(columns={"time_day": "day", "time_day_baseline": "baseline_day",
                              "longest_diameter_mm_baseline": "longest_diameter_baseline_mm",
                              "volume_mm3_baseline": "volume_baseline_mm3"})
    present = out["baseline_day"] <= baseline_day + _EPS
    total = _groupby(out.assign(
        _bd=out["baseline_day"].where(present),
        _bc=out["tumor_cells_baseline"].where(present, 0.0),
        _bm=out["longest_diameter_baseline_mm"].where(present, 0.0),
        _bv=out["volume_baseline_mm3"].where(present, 0.0)), keys).agg(
        baseline_day=("_bd", "max"), day=("day", "max"),
        tumor_cells=("tumor_cells", "sum"), longest_diameter_mm=("longest_diameter_mm", "sum"),
        volume_mm3=("volume_mm3", "sum"), tumor_cells_baseline=("_bc", "sum"),
        longest_diameter_baseline_mm=("_bm", "sum"), volume_baseline_mm3=("_bv", "sum"),
    ).reset_index().assign(lesion=TOTAL)
    out = pd.concat([out, total], ignore_index=True)
    out["tumor_cells_change_pct"] = _pct(out["tumor_cells"], out["tumor_cells_baseline"])
    out["longest_diameter_change_pct"] = _pct(out["longest_diameter_mm"], out["longest_diameter_baseline_mm"])
    out["volume_change_pct"] = _pct(out["volume_mm3"], out["volume_baseline_mm3"])
    out = _order(out, ts, keys)
    return out[[*keys, "lesion", "baseline_day", "day", "tumor_cells_baseline", "tumor_cells",
                "longest_diameter_baseline_mm", "longest_diameter_mm", "volume_baseline_mm3", "volume_mm3",
                "tumor_cells_change_pct", "longest_diameter_change_pct", "volume_change_pct"]]


# ---- RECIST 1.1 ---------------------------------------------------------------------------------
def _new_lesions(les, keys, groups, base, baseline_day, new_lesion_days) -> pd.DataFrame:
    """Per group: lesions new after baseline and the day each appeared (columns by..., lesion, appear_day)."""
    if new_lesion_days is None:
        first = _groupby(les, [*keys, "lesion"])["time_day"].min().rename("appear_day").reset_index()
        nl = first
    else:
        if isinstance(new_lesion_days, Mapping):
            nld = pd.DataFrame({"lesion": list(new_lesion_days), "appear_day": list(new_lesion_days.values())})
        else:
            nld = _event_lesions(new_lesion_days, "metastasis")
            nld = nld.rename(columns={"day": "appear_day", "time_day": "appear_day"})
        common = [k for k in keys if k in nld.columns]
        nld = nld[[*common, "lesion", "appear_day"]]
        nl = groups.merge(nld, on=common) if common else groups.merge(nld, how="cross")
    nl = nl[nl["appear_day"] > baseline_day + _EPS]
    present = base[[*keys, "lesion"]].assign(_base=True)
    nl = nl.merge(present, on=[*keys, "lesion"], how="left")
    return nl[nl["_base"].isna()].drop(columns="_base")


def _assess(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days) -> pd.DataFrame:
    """RECIST bookkeeping per group x assessment (target sums, nadir, new lesions, responses)."""
    les = _lesions(ts)
    diam = [*keys, "lesion", "longest_diameter_mm"]
    groups = les[keys].drop_duplicates()
    last_day = _groupby(les, keys)["time_day"].max().rename("_last_day").reset_index()
    base = _snapshot(les, keys, baseline_day)
    if target_lesions is None:
        is_target = pd.Series(True, index=base.index)
    else:
        names = {target_lesions} if isinstance(target_lesions, str) else set(target_lesions)
        is_target = base["lesion"].isin(names)
    targets = base.loc[is_target, [*keys, "lesion"]]
    nontargets = base.loc[~is_target, [*keys, "lesion"]]
    baseline_sum = (_groupby(base[is_target], keys)["longest_diameter_mm"].sum()
                    .rename("baseline_sum_mm").reset_index())
    new = _new_lesions(les, keys, groups, base, baseline_day, new_lesion_days)

    days = sorted({float(d) for d in np.atleast_1d(assessment_days) if float(d) > baseline_day + _EPS})
    frames = []
    for d in days:  # a small loop over assessments
        snap = _snapshot(les, keys, d)[diam]
        s = (_groupby(snap.merge(targets, on=[*keys, "lesion"]), keys)["longest_diameter_mm"].sum()
             .rename("sum_diameters_mm").reset_index())
        nt = snap.merge(nontargets, on=[*keys, "lesion"])
        nt = (_groupby(nt[nt["longest_diameter_mm"] > _EPS], keys).size()
              .rename("nontargets_visible").reset_index())
        nl = new[new["appear_day"] <= d + _EPS].merge(snap, on=[*keys, "lesion"], how="left")
        nl = _groupby(nl, keys).agg(new_lesions=("lesion", "size"),
                                    new_lesion_sum_mm=("longest_diameter_mm", "sum")).reset_index()
        frame = groups.assign(day=d)
        for part in (s, nt, nl):
            frame = frame.merge(part, on=keys, how="left")
        frames.append(frame)
    cols = [*keys, "day", "sum_diameters_mm", "nontargets_visible", "new_lesions", "new_lesion_sum_mm"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    df = df.merge(last_day, on=keys, how="left")
    df = df[df["day"] <= df["_last_day"] + _EPS].drop(columns="_last_day")
    df = df.merge(baseline_sum, on=keys, how="left")
    df[["nontargets_visible", "new_lesions", "new_lesion_sum_mm"]] = (
        df[["nontargets_visible", "new_lesions", "new_lesion_sum_mm"]].fillna(0))
    df = df.astype({"nontargets_visible": int, "new_lesions": int, "new_lesion_sum_mm": float,
                    "day": float, "sum_diameters_mm": float, "baseline_sum_mm": float})
    df = _order(df, ts, keys, then=("day",))

    g = _groupby(df, keys)
    prev_min = df.assign(_cm=g["sum_diameters_mm"].cummin()).groupby(keys, dropna=False, sort=False)["_cm"].shift()
    df["nadir_sum_mm"] = np.fmin(df["baseline_sum_mm"], prev_min)
    s, b, n = df["sum_diameters_mm"], df["baseline_sum_mm"], df["nadir_sum_mm"]
    df["change_from_baseline_pct"] = _pct(s, b)
    df["change_from_nadir_pct"] = _pct(s, n)
    grow = s - n
    df["target_pd"] = ((grow >= PD_PCT / 100.0 * n - _EPS) & (grow >= PD_MM - _EPS)).to_numpy(dtype=bool)
    evaluable = (b > 0).to_numpy(dtype=bool)
    target_cr = (s <= _EPS).to_numpy()
    df["target_response"] = np.select(
        [~evaluable, df["target_pd"], target_cr & (df["nontargets_visible"] > 0), target_cr,
         (s - b <= PR_PCT / 100.0 * b + _EPS)],
        ["NE", "PD", "PR", "CR", "PR"], "SD").astype(object)
    df["target_pd"] &= evaluable
    df["response"] = np.where(df["new_lesions"] > 0, "PD", df["target_response"]).astype(object)
    return df


_RECIST_COLS = ["day", "sum_diameters_mm", "baseline_sum_mm", "nadir_sum_mm", "change_from_baseline_pct",
                "change_from_nadir_pct", "new_lesions"]


def recist(ts: pd.DataFrame, assessment_days: Iterable[float], baseline_day: float = 0.0,
           target_lesions: str | Iterable[str] | None = None, by=DEFAULT_BY,
           new_lesion_days: pd.DataFrame | Mapping[str, float] | None = None) -> pd.DataFrame:
    """RECIST 1.1 response per group x assessment day.

    Sum of the longest diameters (mm) of the target lesions (default: every lesion present at the
    baseline day). CR: all targets 0 mm; PR: <= -30 % from the baseline sum; PD: >= +20 % over the nadir
    (smallest earlier sum, baseline included) and >= +5 mm, or a new lesion has appeared; else SD; NE when
    the baseline sum is 0. ``new_lesion_days`` overrides when new lesions count as appeared: a mapping
    lesion -> day, or a frame with ``lesion`` (or ``target``) and ``day``, matched on the ``by`` columns it
    has (an events frame: its ``metastasis`` rows); default: each lesion's first record after the baseline
    day.

    Columns: by..., ``day``, ``sum_diameters_mm``, ``baseline_sum_mm``, ``nadir_sum_mm`` (mm, the nadir
    the assessment is compared with), ``change_from_baseline_pct``, ``change_from_nadir_pct`` (%),
    ``new_lesions`` (count appeared so far), ``response`` (CR/PR/SD/PD/NE).
    """
    keys = _keys(by, ts)
    df = _assess(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days)
    return df[[*keys, *_RECIST_COLS, "response"]]


def best_overall_response(recist_df: pd.DataFrame, by=DEFAULT_BY) -> pd.DataFrame:
    """Best response per group: the best category seen (CR > PR > SD > PD > NE), PD if the first assessment is PD.

    Works on ``recist`` and ``irecist`` output (iCR ranks with CR, iPR with PR, iSD with SD, iUPD/iCPD with
    PD; an iUPD first is not PD, so pseudo-progression keeps its later best). No minimum duration for SD and
    no confirmation of responses. Columns: by..., ``best_response``, ``best_response_day``, ``n_assessments``.
    """
    keys = _keys(by, recist_df)
    df = recist_df.sort_values([*keys, "day"], kind="stable")
    df = df.assign(_rank=df["response"].map(_RANK).fillna(len(_RANK)),
                   _first=_groupby(df, keys).cumcount() == 0)
    first_pd = df.loc[df["_first"] & (df["response"] == "PD"), keys].assign(_first_pd=True)
    best = df.sort_values([*keys, "_rank", "day"], kind="stable").drop_duplicates(keys, keep="first")
    best = best[[*keys, "response", "day"]].rename(columns={"response": "best_response", "day": "best_response_day"})
    best = best.merge(first_pd, on=keys, how="left")
    pd_first = best["_first_pd"].notna().to_numpy()
    first_day = _groupby(df, keys)["day"].min().rename("_first_day").reset_index()
    best = best.merge(first_day, on=keys, how="left")
    best.loc[pd_first, "best_response"] = "PD"
    best.loc[pd_first, "best_response_day"] = best.loc[pd_first, "_first_day"]
    n = _groupby(df, keys).size().rename("n_assessments").reset_index()
    best = best.merge(n, on=keys, how="left")
    return best[[*keys, "best_response", "best_response_day", "n_assessments"]].reset_index(drop=True)


# ---- iRECIST ------------------------------------------------------------------------------------
def irecist(ts: pd.DataFrame, assessment_days: Iterable[float], baseline_day: float = 0.0,
            target_lesions: str | Iterable[str] | None = None, by=DEFAULT_BY,
            new_lesion_days: pd.DataFrame | Mapping[str, float] | None = None) -> pd.DataFrame:
    """iRECIST response per group x assessment day (same arguments and assessments as :func:`recist`).

    A first progression is iUPD; the next assessment confirms it (iCPD) if progression persists (target PD
    again vs the nadir, sum +5 mm over the iUPD sum, another new lesion, or new lesions +5 mm), otherwise
    it was pseudo-progression and later responses read iCR/iPR/iSD (see the module docstring for the
    simplifications). Columns: those of :func:`recist`, ``response`` (CR/PR/SD/NE/iUPD/iCPD/iCR/iPR/iSD),
    ``recist_response`` (the plain RECIST 1.1 reading) and ``pseudo_progression`` (bool, per group: an iUPD
    was followed by iSD/iPR/iCR).
    """
    keys = _keys(by, ts)
    df = _assess(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days)
    gid = _groupby(df, keys).ngroup().to_numpy()
    pos = _groupby(df, keys).cumcount().to_numpy()
    n_groups, n_pos = (gid.max() + 1, pos.max() + 1) if len(df) else (0, 0)

    def wide(col, fill):
        arr = np.full((n_groups, n_pos), fill, dtype=object if isinstance(fill, str) else float)
        arr[gid, pos] = df[col].to_numpy()
        return arr

    valid = np.zeros((n_groups, n_pos), dtype=bool)
    valid[gid, pos] = True
    S, NL, NN = wide("sum_diameters_mm", np.nan), wide("new_lesion_sum_mm", 0.0), wide("new_lesions", 0.0)
    TPD = wide("target_pd", 0.0).astype(bool)
    TCAT = wide("target_response", "NE")
    labels = np.full((n_groups, n_pos), "", dtype=object)
    status = np.zeros(n_groups, dtype=int)  # 0 assessing, 1 iUPD pending confirmation, 2 iCPD
    after = np.zeros(n_groups, dtype=bool)  # an iUPD has been seen: responses read iCR/iPR/iSD
    pseudo = np.zeros(n_groups, dtype=bool)
    s_ref = np.zeros(n_groups)
    n_ref = np.zeros(n_groups)
    nl_ref = np.zeros(n_groups)
    for k in range(n_pos):  # a small loop over assessments, vectorised over groups
        v, s, nl, nn, tpd = valid[:, k], S[:, k], NL[:, k], NN[:, k], TPD[:, k]
        cat = np.where((TCAT[:, k] == "CR") & (nl > _EPS), "PR", TCAT[:, k]).astype(object)
        icat = np.where(cat == "NE", "NE", "i" + cat).astype(object)
        new_prog = (nn > n_ref) | (nl - nl_ref >= PD_MM - _EPS)
        prog = tpd | new_prog
        assessing, pending, confirmed = v & (status == 0), v & (status == 1), v & (status == 2)
        up = assessing & prog
        calm = assessing & ~prog
        confirm = pending & (prog | (s - s_ref >= PD_MM - _EPS))
        reset = pending & ~confirm
        lab = labels[:, k]
        lab[up] = "iUPD"
        lab[calm] = np.where(after, icat, cat)[calm]
        lab[confirm | confirmed] = "iCPD"
        lab[reset] = icat[reset]
        pseudo |= reset
        after |= up
        status[up], status[confirm], status[reset] = 1, 2, 0
        s_ref[up] = s[up]
        n_ref[up | reset] = nn[up | reset]
        nl_ref[up | reset] = nl[up | reset]
    out = df[[*keys, *_RECIST_COLS]].copy()
    out["response"] = labels[gid, pos] if len(df) else pd.Series(dtype=object)
    out["recist_response"] = df["response"]
    out["pseudo_progression"] = pseudo[gid] if len(df) else pd.Series(dtype=bool)
    return out


# ---- abscopal response --------------------------------------------------------------------------
def abscopal_response(ts: pd.DataFrame, treated_lesion="index", day: float | None = None,
                      baseline_day: float = 0.0, by=DEFAULT_BY, criteria=None) -> pd.DataFrame:
    """Response of each untreated lesion against its own baseline, by ``criteria`` (:func:`lesion_category`;
    default: by volume, Gao 2015).

    ``treated_lesion``: name(s) of the treated lesion, or an events frame (its local events, ablation,
    resection and adjuvant injection, name the treated lesions per arm in ``lesion`` or ``target``; see
    :func:`lesion_roles`). Every other lesion present at baseline with a diameter > 0 mm is
    assessed at ``day`` (last record at or before it, default the last record) against its baseline (last
    record at or before ``baseline_day``): by volume CR below -95 %, PR below -50 %, PD at +35 % or more;
    by RECIST CR at 0 mm, PR at <= -30 %, PD at >= +20 % and >= +5 mm of the diameter; else SD. Lesions seeded
    after baseline are not assessed. A row ``lesion == "any"`` per group says whether any untreated lesion
    responded (its ``response`` is the best one).

    Columns: by..., ``lesion``, ``baseline_day``, ``day``, ``longest_diameter_baseline_mm``,
    ``longest_diameter_mm`` (mm), ``longest_diameter_change_pct`` (%), ``volume_baseline_mm3``, ``volume_mm3``
    (mm³), ``volume_change_pct`` (%), ``response`` (CR/PR/SD/PD), ``responder`` (bool: CR or PR).
    """
    keys = _keys(by, ts)
    bc = burden_change(ts, baseline_day=baseline_day, day=day, by=keys)
    present = bc["baseline_day"] <= baseline_day + _EPS  # lesions seeded later are not assessed
    bc = bc[(bc["lesion"] != TOTAL) & present & (bc["longest_diameter_baseline_mm"] > 0)]
    bc = bc[~_treated_mask(bc, treated_lesion, keys).to_numpy()]
    measures = ["longest_diameter_baseline_mm", "longest_diameter_mm", "longest_diameter_change_pct",
                "volume_baseline_mm3", "volume_mm3", "volume_change_pct"]
    out = bc[[*keys, "lesion", "baseline_day", "day", *measures]].copy()
    out["response"] = lesion_category(out, criteria)
    out["responder"] = out["response"].isin(["CR", "PR"])
    ranked = out.assign(_rank=out["response"].map(_RANK)).sort_values("_rank", kind="stable")
    best = ranked.drop_duplicates(keys, keep="first")[[*keys, "response"]]
    anyr = _groupby(out, keys).agg(baseline_day=("baseline_day", "max"), day=("day", "max"),
                                   responder=("responder", "any")).reset_index()
    anyr = anyr.merge(best, on=keys, how="left").assign(lesion=ANY)
    out = pd.concat([out, anyr], ignore_index=True)
    out["responder"] = out["responder"].astype(bool)
    return _order(out, ts, keys)[[*keys, "lesion", "baseline_day", "day", *measures, "response", "responder"]]


def _binomial_ci(k: int, n: int, confidence: float, method: str) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method=method)
    return float(ci.low), float(ci.high)


def abscopal_response_rate(data: pd.DataFrame, by=("arm",), confidence: float = 0.95, method: str = "wilson",
                           treated_lesion="index", day: float | None = None, baseline_day: float = 0.0,
                           unit=DEFAULT_BY, criteria=None) -> pd.DataFrame:
    """Abscopal response rate per ``by`` group x lesion, with a binomial confidence interval.

    ``data``: the output of :func:`abscopal_response`, or a time series (then ``treated_lesion``, ``day``,
    ``baseline_day``, ``unit`` (the columns of one patient) and ``criteria`` are passed to it). The ``lesion == "any"``
    rows give the patient-level rate. ``method``: ``"wilson"`` (score interval, no continuity correction),
    ``"wilsoncc"``, or ``"exact"`` / ``"clopper-pearson"``.

    Columns: by..., ``lesion``, ``n``, ``responders``, ``rate`` (fraction), ``ci_low``, ``ci_high``,
    ``confidence``, ``method``.
    """
    if "time_day" in data.columns:
        data = abscopal_response(data, treated_lesion=treated_lesion, day=day, baseline_day=baseline_day, by=unit,
                                 criteria=criteria)
    keys = _keys(by, data)
    method = {"clopper-pearson": "exact", "clopper_pearson": "exact"}.get(method.lower(), method.lower())
    if method not in ("wilson", "wilsoncc", "exact"):
        raise ValueError(f"method = {method!r}: expected 'wilson', 'wilsoncc' or 'exact'")
    out = _groupby(data, [*keys, "lesion"]).agg(n=("responder", "size"), responders=("responder", "sum")).reset_index()
    out["responders"] = out["responders"].astype(int)
    out["rate"] = out["responders"] / out["n"].where(out["n"] > 0)
    ci = [_binomial_ci(k, n, confidence, method) for k, n in zip(out["responders"], out["n"])]  # one per group
    out["ci_low"] = [c[0] for c in ci]
    out["ci_high"] = [c[1] for c in ci]
    out["confidence"] = confidence
    out["method"] = method
    return out


def best_response(ts: pd.DataFrame, treated_lesion="index", day: float | None = None, baseline_day: float = 0.0,
                  by=DEFAULT_BY, criteria=None) -> pd.DataFrame:
    """Each untreated lesion's best response up to ``day`` (default: its last record), by ``criteria``.

    Assessments every ``assessment_interval_days`` after baseline (:func:`abscopal_response` at each, up to each
    group's last record); the best is taken over those at least ``best_response_from_day`` days after baseline
    (all of them when none is), so that an early assessment of a growing lesion is not its best. By volume
    (Gao 2015): the best change is the smallest change in volume, the best average the smallest running mean of
    the changes from baseline (0 %) on, and the category is CR, PR or SD when both are below its thresholds
    (:data:`VOLUME_CLASSES`), else PD. By RECIST 1.1 or iRECIST: the smallest change in diameter and its
    :func:`lesion_response`.

    Columns: by..., ``lesion``, ``best_change_pct`` (%, of volume or diameter), ``best_change_day``,
    ``best_average_change_pct`` (%, volume only), ``best_response``, ``assessments`` (in the window).
    """
    c = Criteria.of(criteria)
    keys = _keys(by, ts)
    les = _lesions(ts)
    cols = [*keys, "lesion", "best_change_pct", "best_change_day", "best_average_change_pct", "best_response",
            "assessments"]
    days = c.assessment_days(baseline_day, les["time_day"].max() if day is None else day)
    if not len(days):
        return pd.DataFrame(columns=cols)
    assessed = abscopal_response(ts, treated_lesion, None, baseline_day, keys, c)  # the lesions and baselines
    assessed = assessed.loc[assessed["lesion"] != ANY,
                            [*keys, "lesion", "longest_diameter_baseline_mm", "volume_baseline_mm3"]]
    last = _groupby(les, keys)["time_day"].max().rename("_last").reset_index()
    ab = assessed.merge(pd.DataFrame({"_at": days}), how="cross").merge(last, on=keys, how="left")
    ab = ab[ab["_at"] <= ab["_last"] + _EPS].assign(_on=lambda f: f["_at"] + _EPS).sort_values("_on")
    records = les.assign(volume_mm3=tumour_volume_mm3(les, keys))[
        [*keys, "lesion", "time_day", "longest_diameter_mm", "volume_mm3"]].sort_values("time_day")
    ab = pd.merge_asof(ab, records, left_on="_on", right_on="time_day", by=[*keys, "lesion"])  # last record by then
    ab["longest_diameter_change_pct"] = _pct(ab["longest_diameter_mm"], ab["longest_diameter_baseline_mm"])
    ab["volume_change_pct"] = _pct(ab["volume_mm3"], ab["volume_baseline_mm3"])
    ab["response"] = lesion_category(ab, c)
    ab = ab.sort_values("_at", kind="stable")
    change = c.change_column
    g = _groupby(ab, [*keys, "lesion"])
    ab["_average"] = g[change].cumsum() / (g.cumcount() + 2)  # the running mean, baseline's 0 % included
    window = ab["_at"] >= baseline_day + c.best_response_from_day - _EPS
    ab = ab[window | ~window.groupby([ab[k] for k in [*keys, "lesion"]], dropna=False).transform("any")]
    g = _groupby(ab, [*keys, "lesion"])
    out = ab.sort_values(change, kind="stable").drop_duplicates([*keys, "lesion"], keep="first")
    out = out.merge(g["_average"].min().rename("best_average_change_pct").reset_index(), on=[*keys, "lesion"])
    out = out.merge(g.size().rename("assessments").reset_index(), on=[*keys, "lesion"])
    out = out.rename(columns={change: "best_change_pct", "_at": "best_change_day"})
    if c.by_volume:
        best, average = out["best_change_pct"], out["best_average_change_pct"]
        out["best_response"] = np.select([best.isna(), *((best < b) & (average < a) for _, b, a in VOLUME_CLASSES)],
                                         ["NE", *(name for name, _, _ in VOLUME_CLASSES)], "PD").astype(object)
    else:
        out["best_average_change_pct"] = np.nan
        out["best_response"] = out["response"]
    return _order(out, ts, keys)[cols]


def _volume_progression(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days,
                        fold: float) -> pd.Series:
    """Per group: the first assessment at which a target lesion's volume reached ``fold`` x its baseline volume
    or a new lesion had appeared (progression by the volume criteria)."""
    les = _lesions(ts)
    les = les.assign(volume_mm3=tumour_volume_mm3(les, keys))
    groups = _groupby(les, keys)["time_day"].max().rename("_last").reset_index()
    base = _snapshot(les, keys, baseline_day)
    if target_lesions is not None:
        base = base[base["lesion"].isin({target_lesions} if isinstance(target_lesions, str) else set(target_lesions))]
    base = base.loc[base["volume_mm3"] > 0, [*keys, "lesion", "volume_mm3"]].rename(columns={"volume_mm3": "_base"})
    new = _new_lesions(les, keys, groups[keys], _snapshot(les, keys, baseline_day), baseline_day, new_lesion_days)
    hits = []
    for d in sorted({float(d) for d in np.atleast_1d(assessment_days) if float(d) > baseline_day + _EPS}):
        snap = _snapshot(les, keys, d).merge(base, on=[*keys, "lesion"])
        grown = snap.loc[snap["volume_mm3"] >= fold * snap["_base"] - _EPS, keys]
        hits.append(pd.concat([grown, new.loc[new["appear_day"] <= d + _EPS, keys]]).assign(_prog=d))
    hits = pd.concat(hits, ignore_index=True).merge(groups, on=keys) if hits else groups.assign(_prog=np.nan)
    return _groupby(hits[hits["_prog"] <= hits["_last"] + _EPS], keys)["_prog"].min()


# ---- time to event ------------------------------------------------------------------------------
def time_to_event(ts: pd.DataFrame, assessment_days: Iterable[float], burden_limit_cells: float | None = None,
                  treated_lesion="index", baseline_day: float = 0.0,
                  target_lesions: str | Iterable[str] | None = None,
                  new_lesion_days: pd.DataFrame | Mapping[str, float] | None = None,
                  criteria=None, by=DEFAULT_BY, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Time-to-event endpoints per group, in days since ``baseline_day``, by ``criteria`` (:class:`Criteria`).

    ``endpoint == "pfs"``: progression-free survival. Event at the first progression: by volume (the default)
    the first assessment at which a target lesion's volume reached ``progression_volume_fold`` x its baseline
    volume or a new lesion appeared; by RECIST 1.1 the first PD; by iRECIST the iUPD that was then confirmed;
    or at death by burden: the first recorded day
    (at or after baseline) on which the total tumour cells of the real lesions exceed ``burden_limit_cells``
    (None: the day a run stopped at its burden limit, ``experiment.stop_burden_cells``, as the ``stop``
    rows of ``events`` with ``reason == "burden_limit"`` tell; no death by burden without them), whichever
    is first; otherwise censored at the group's last recorded day.
    ``endpoint == "distant_response"``: first assessment at which an untreated lesion present at baseline
    has PR or CR by the criteria (:func:`abscopal_response`), censored at death by burden or the last
    day; only groups with such a lesion.

    Columns: by..., ``endpoint``, ``time_day`` (days since baseline), ``event`` (bool), ``cause``
    ("progression", "burden", "response", or None when censored).
    """
    keys = _keys(by, ts)
    les = _lesions(ts)
    groups = _groupby(les, keys)["time_day"].max().rename("_last").reset_index()
    c = Criteria.of(criteria)
    if c.by_volume:
        prog = _volume_progression(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days,
                                   c.progression_volume_fold)
    elif c.criteria == "recist":
        rec = recist(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days)
        prog = _groupby(rec[rec["response"] == "PD"], keys)["day"].min()
    else:
        rec = irecist(ts, assessment_days, baseline_day, target_lesions, keys, new_lesion_days)
        rec = rec.assign(_prev=_groupby(rec, keys)["day"].shift())
        prog = _groupby(rec[rec["response"] == "iCPD"], keys)["_prev"].min()
    out = groups.merge(prog.rename("_prog").reset_index(), on=keys, how="left")
    if burden_limit_cells is not None:
        total = (_groupby(les[les["time_day"] >= baseline_day - _EPS], [*keys, "time_day"])["tumor_cells"].sum()
                 .reset_index())
        death = _groupby(total[total["tumor_cells"] > burden_limit_cells], keys)["time_day"].min()
        out = out.merge(death.rename("_death").reset_index(), on=keys, how="left")
    elif events is not None and len(events) and "reason" in events.columns:
        stops = events[(events["kind"] == "stop") & (events["reason"] == "burden_limit")]
        common = [k for k in keys if k in stops.columns]
        death = stops.groupby(common, dropna=False, sort=False)["day"].min() if common else None
        out = (out.merge(death.rename("_death").reset_index(), on=common, how="left") if common
               else out.assign(_death=stops["day"].min() if len(stops) else np.nan))
    else:
        out["_death"] = np.nan
    pfs_day = np.fmin(out["_prog"], out["_death"])
    pfs = out[keys].assign(
        endpoint="pfs", time_day=pfs_day.fillna(out["_last"]) - baseline_day, event=pfs_day.notna().to_numpy(),
        cause=np.where(out["_prog"] <= out["_death"].fillna(np.inf), "progression",
                       np.where(out["_death"].notna(), "burden", None)))

    frames = []
    days = sorted({float(d) for d in np.atleast_1d(assessment_days) if float(d) > baseline_day + _EPS})
    for d in days:  # a small loop over assessments
        ab = abscopal_response(ts, treated_lesion, day=d, baseline_day=baseline_day, by=keys, criteria=c)
        frames.append(ab[ab["lesion"] == ANY].assign(_at=d))
    if frames:
        ab = pd.concat(frames, ignore_index=True).merge(out[[*keys, "_last", "_death"]], on=keys)
        ab = ab[ab["_at"] <= ab["_last"] + _EPS]
        evaluable = ab[keys].drop_duplicates()
        resp = _groupby(ab[ab["responder"]], keys)["_at"].min().rename("_resp").reset_index()
        dr = evaluable.merge(out, on=keys, how="left").merge(resp, on=keys, how="left")
        stop = np.fmin(dr["_death"], dr["_last"])
        event = (dr["_resp"] <= stop + _EPS).to_numpy()
        dr = dr[keys].assign(endpoint="distant_response",
                             time_day=np.where(event, dr["_resp"], stop) - baseline_day,
                             event=event, cause=np.where(event, "response", None))
        frames = [dr]
    out = pd.concat([pfs, *frames], ignore_index=True)
    out["event"] = out["event"].astype(bool)
    out["cause"] = out["cause"].astype(object).where(out["cause"].notna(), None)
    return out[[*keys, "endpoint", "time_day", "event", "cause"]]


def _strata(tte: pd.DataFrame, keys: list[str]) -> list[str]:
    return [*keys, "endpoint"] if "endpoint" in tte.columns and "endpoint" not in keys else keys


def kaplan_meier(tte: pd.DataFrame, by="arm", confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier survival per ``by`` group (and per ``endpoint`` when the frame has one).

    Product-limit estimate with Greenwood variance and the exponential-Greenwood (log(-log)) band, as
    lifelines' ``KaplanMeierFitter``. One row at time 0 and one per distinct observed time.
    Columns: by..., [``endpoint``], ``time_day``, ``at_risk`` (alive and uncensored just before),
    ``events``, ``censored``, ``survival``, ``ci_low``, ``ci_high``.
    """
    keys = _strata(tte, _keys(by, tte))
    tab = (_groupby(tte, [*keys, "time_day"]).agg(events=("event", "sum"), observed=("event", "size"))
           .reset_index().sort_values([*keys, "time_day"], kind="stable"))
    g = _groupby(tab, keys)
    tab["at_risk"] = g["observed"].transform("sum") - g["observed"].cumsum() + tab["observed"]
    tab["events"] = tab["events"].astype(int)
    tab["censored"] = tab["observed"] - tab["events"]
    tab["survival"] = (1.0 - tab["events"] / tab["at_risk"]).groupby([tab[k] for k in keys], dropna=False).cumprod()
    with np.errstate(divide="ignore", invalid="ignore"):
        term = tab["events"] / (tab["at_risk"] * (tab["at_risk"] - tab["events"]))
    tab["_gw"] = term.groupby([tab[k] for k in keys], dropna=False).cumsum()
    start = (g["observed"].sum().rename("at_risk").reset_index()
             .assign(time_day=0.0, events=0, censored=0, survival=1.0, _gw=0.0))
    tab = pd.concat([start, tab.drop(columns="observed")], ignore_index=True)  # events at time 0 win
    tab = tab.drop_duplicates([*keys, "time_day"], keep="last")
    tab = tab.sort_values([*keys, "time_day"], kind="stable").reset_index(drop=True)
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(tab["survival"])
        half = z * np.sqrt(tab["_gw"]) / v
        a = np.exp(-np.exp(np.log(-v) + half))
        b = np.exp(-np.exp(np.log(-v) - half))
    lo, hi = np.fmin(a, b), np.fmax(a, b)
    one, zero = tab["survival"] >= 1.0, tab["survival"] <= 0.0  # the band collapses at 1 and 0 (as lifelines)
    tab["ci_low"] = np.select([one, zero], [1.0, 0.0], lo)
    tab["ci_high"] = np.select([one, zero], [1.0, 0.0], hi)
    return tab[[*keys, "time_day", "at_risk", "events", "censored", "survival", "ci_low", "ci_high"]]


def _logrank_test(time, event, label) -> tuple[float, int, float]:
    """K-sample log-rank test (chi-square with K-1 degrees of freedom), as lifelines' multivariate test."""
    d = pd.crosstab(time, label, values=event.astype(int), aggfunc="sum").fillna(0.0)
    seen = pd.crosstab(time, label).reindex(index=d.index, columns=d.columns, fill_value=0)
    n = seen.iloc[::-1].cumsum().iloc[::-1].to_numpy(dtype=float)  # at risk just before each time
    d = d.to_numpy(dtype=float)
    n_tot, d_tot = n.sum(axis=1), d.sum(axis=1)
    frac = n / n_tot[:, None]
    o_minus_e = (d - frac * d_tot[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot - 1), 0.0)
    var = np.einsum("t,tj,jl->jl", w, frac, np.eye(frac.shape[1])) - np.einsum("t,tj,tl->jl", w, frac, frac)
    k = frac.shape[1]
    u = o_minus_e[:-1]
    stat = float(u @ np.linalg.pinv(var[:-1, :-1]) @ u)
    return stat, k - 1, float(stats.chi2.sf(stat, k - 1))


def logrank(tte: pd.DataFrame, by="arm", within=()) -> pd.DataFrame:
    """Log-rank tests between the ``by`` groups: one over all groups and one per pair.

    Separate tests per ``endpoint`` (when the frame has one) and per ``within`` columns (e.g. a sweep's
    ``point``). Groups of several ``by`` columns are labelled "a / b". Columns: [within..., endpoint],
    ``comparison`` ("all" or "A vs B"), ``group_a``, ``group_b``, ``test_statistic`` (chi-square),
    ``degrees_of_freedom``, ``p_value``.
    """
    keys = _keys(by, tte)
    strata = _strata(tte, [within] if isinstance(within, str) else list(within))
    label = tte[keys].astype(str).agg(" / ".join, axis=1)
    tte = tte.assign(_label=label)
    rows = []
    parts = _groupby(tte, strata) if strata else [((), tte)]
    for stratum, part in parts:  # a small loop over strata and pairs of groups
        stratum = stratum if isinstance(stratum, tuple) else (stratum,)
        base = dict(zip(strata, stratum))
        labels = list(dict.fromkeys(part["_label"]))
        if len(labels) < 2:
            continue
        stat, df_, p = _logrank_test(part["time_day"], part["event"], part["_label"])
        rows.append({**base, "comparison": "all", "group_a": None, "group_b": None,
                     "test_statistic": stat, "degrees_of_freedom": df_, "p_value": p})
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                pair = part[part["_label"].isin([a, b])]
                stat, df_, p = _logrank_test(pair["time_day"], pair["event"], pair["_label"])
                rows.append({**base, "comparison": f"{a} vs {b}", "group_a": a, "group_b": b,
                             "test_statistic": stat, "degrees_of_freedom": df_, "p_value": p})
    cols = [*strata, "comparison", "group_a", "group_b", "test_statistic", "degrees_of_freedom", "p_value"]
    return pd.DataFrame(rows, columns=cols)


# ---- immune readouts ----------------------------------------------------------------------------
def immune_readouts(ts: pd.DataFrame, day: float | None = None, by=DEFAULT_BY) -> pd.DataFrame:
    """Immune state per group x lesion: peak effectors up to ``day`` and the state at ``day``.

    ``day``: last record at or before it (default: the last record). Columns: by..., ``lesion``, ``day``,
    ``effector_t_cells_peak`` (cells, over the records up to ``day``), ``effector_peak_day`` (first day of
    the peak), ``effector_t_cells``, ``exhausted_t_cells``, ``tregs`` (cells), ``cd8_treg_ratio``
    (effector_t_cells / tregs; NaN when tregs is 0 or missing), ``pd_l1_mean`` (as recorded).
    """
    keys = _keys(by, ts)
    les = _lesions(ts)
    if day is not None:
        les = les[les["time_day"] <= day + _EPS]
    peak = (les.sort_values(["effector_t_cells", "time_day"], ascending=[False, True], na_position="last",
                            kind="stable")
            .drop_duplicates([*keys, "lesion"], keep="first")[[*keys, "lesion", "effector_t_cells", "time_day"]]
            .rename(columns={"effector_t_cells": "effector_t_cells_peak", "time_day": "effector_peak_day"}))
    state = [c for c in ("effector_t_cells", "exhausted_t_cells", "tregs", "pd_l1_mean") if c in les.columns]
    now = _snapshot(les, keys)[[*keys, "lesion", "time_day", *state]].rename(columns={"time_day": "day"})
    out = now.merge(peak, on=[*keys, "lesion"], how="left")
    out["cd8_treg_ratio"] = out["effector_t_cells"] / out["tregs"].where(out["tregs"] > 0)
    cols = [*keys, "lesion", "day", "effector_t_cells_peak", "effector_peak_day", *state, "cd8_treg_ratio"]
    return _order(out, ts, keys)[cols]


# ---- the run summary ----------------------------------------------------------------------------
def summarise_run(ts: pd.DataFrame, readout_day: float, baseline_day: float = 0.0, events=(),
                  criteria=None) -> pd.DataFrame:
    """One row per lesion of one run at the readout day: the rows of ``summary.parquet``.

    Every number comes from the readouts above, so the summary and the readouts agree: burden and longest
    diameter at baseline (``baseline_day``; a lesion seeded later: its first record) and at the last record
    at or before ``readout_day`` (:func:`burden_change`); the effector peak up to the readout and PD-L1 at
    it (:func:`immune_readouts`); ``role`` and ``local_treatments`` (:func:`lesion_roles`); by ``criteria``
    (:class:`Criteria`, named in the ``criteria`` column): ``response`` at the readout (:func:`lesion_category`),
    ``best_response`` up to it (:func:`best_response`) and ``abscopal_responder`` (:func:`abscopal_response`:
    True/False for a lesion never treated locally and present at baseline, missing for the others). A lesion seeded after
    the readout day gets a row with missing readouts and ``readout_status`` "seeded_after_readout" (else
    "measured"). ``events``: the run's event log (dicts or a frame); its ``stop`` entry gives
    ``stop_reason`` and ``stop_day``, else they are "end_day" and the last recorded day.
    """
    ev = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    c = Criteria.of(criteria)
    run, keys = ts.assign(_run=0), ["_run"]
    names = pd.DataFrame({"lesion": list(dict.fromkeys(_lesions(ts)["lesion"]))})
    out = names.merge(lesion_roles(ev)[["lesion", "local_treatments", "role"]], on="lesion", how="left")
    out["role"] = out["role"].fillna(UNTREATED)
    out["local_treatments"] = out["local_treatments"].fillna("")
    bc = burden_change(run, baseline_day, readout_day, by=keys).rename(columns={
        "day": "readout_day", "tumor_cells": "tumor_cells_readout", "longest_diameter_mm": "longest_diameter_readout_mm",
        "tumor_cells_change_pct": "burden_change_pct", "longest_diameter_change_pct": "diameter_change_pct",
        "volume_mm3": "volume_readout_mm3"})
    imm = immune_readouts(run, day=readout_day, by=keys).rename(columns={"pd_l1_mean": "pd_l1_readout"})
    ab = abscopal_response(run, ev, day=readout_day, baseline_day=baseline_day, by=keys, criteria=c)
    ab = ab.loc[ab["lesion"] != ANY, ["lesion", "responder"]].rename(columns={"responder": "abscopal_responder"})
    best = best_response(run, None, day=readout_day, baseline_day=baseline_day, by=keys, criteria=c)
    out = (out.merge(bc.drop(columns="_run"), on="lesion", how="left")
           .merge(imm[["lesion", "effector_t_cells_peak", "pd_l1_readout"]], on="lesion", how="left")
           .merge(ab, on="lesion", how="left").merge(best[["lesion", "best_response"]], on="lesion", how="left"))
    out = out.astype({col: float for col in (
        "baseline_day", "readout_day", "tumor_cells_baseline", "tumor_cells_readout", "longest_diameter_baseline_mm",
        "longest_diameter_readout_mm", "volume_baseline_mm3", "volume_readout_mm3", "effector_t_cells_peak",
        "pd_l1_readout")})
    out["response"] = lesion_category(out.rename(columns={"longest_diameter_readout_mm": "longest_diameter_mm"}), c)
    out["best_response"] = out["best_response"].astype(object).where(out["best_response"].notna(), "NE")
    out["criteria"] = c.criteria
    out["abscopal_responder"] = out["abscopal_responder"].astype("boolean")
    out["readout_status"] = np.where(out["readout_day"].notna(), MEASURED, SEEDED_AFTER_READOUT).astype(object)
    systemic = ts[(ts["lesion"] == SYSTEMIC) & (ts["time_day"] <= readout_day + _EPS)].sort_values("time_day")
    out["primed_cd8_total"] = float(systemic["primed_cd8_total"].iloc[-1])
    stop = ev[ev["kind"] == "stop"] if len(ev) else ev
    out["stop_reason"] = stop["reason"].iloc[0] if len(stop) else "end_day"
    out["stop_day"] = float(stop["day"].iloc[0] if len(stop) else ts["time_day"].max())
    return out[["lesion", "role", "local_treatments", "baseline_day", "readout_day", "tumor_cells_baseline",
                "tumor_cells_readout", "longest_diameter_baseline_mm", "longest_diameter_readout_mm",
                "volume_baseline_mm3", "volume_readout_mm3", "effector_t_cells_peak", "pd_l1_readout",
                "burden_change_pct", "diameter_change_pct", "volume_change_pct", "criteria", "response",
                "best_response", "abscopal_responder", "readout_status", "primed_cd8_total", "stop_reason",
                "stop_day"]]
