"""Property: any config and any ``--set`` either validates and runs a simulated day, or is refused up front
with a one-line ConfigError that names the key. Configs are drawn from the schema itself (random keys,
values inside, at and outside their ranges, wrong types, unknown keys, random arms, lesions and
treatments), so the property keeps holding as the schema grows."""

import copy

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from abscopal.cli import main
from abscopal.config import (
    ABLATION, ADJUVANT, ARM_ONLY, DRUGS, MODALITIES, NAMED_SECTIONS, RESECTION, SECTIONS, TOP_LEVEL, ConfigError, Param,
    apply_sets, resolve,
)
from abscopal.runner import simulate
from abscopal.streams import replicate_seed

#: Upper and lower limits of the values drawn inside a range: lattices stay small (a run is fast) and days
#: near the simulated ones (-1 to 1), so that about as many configs run as are refused. A proliferative rim
#: deeper than the lesion's tissue window crashes lesion._within (issue 8: a negative slice stop; lesions of
#: the schema's 0.1 mm, rims of its 2000 µm): drop diameter_mm and proliferative_rim_um here once that is fixed.
HIGHEST = {"diameter_mm": 1.5, "domain_mm": 3.0, "day": 3, "start_day": 3, "end_day": 3, "readout_day": 3,
           "proliferative_rim_um": 300.0}
LOWEST = {"cell_diameter_um": 15.0, "field_resolution_um": 80.0, "day": -3, "start_day": -3, "diameter_mm": 0.4}
LESION_NAMES = ("index", "distant", "lung", "distnt")
ARM_NAMES = ("control", "cryo", "cryo_anti_pd1", "cryo_anti_pd_1")
WRONG = st.one_of(st.text(max_size=4), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


def values(key: str, p: Param):
    """Values for one parameter: mostly inside its range or at its bounds, now and then outside it or of a
    wrong type (each a key in twenty)."""
    outside = [float("nan"), float("inf")]
    if p.choices:
        good = st.sampled_from(p.choices)
    elif isinstance(p.default, bool):
        good = st.booleans()
    elif isinstance(p.default, str):
        good = st.sampled_from(LESION_NAMES) if key == "lesion" else st.text(max_size=6)
    else:
        low = max(p.low if p.low is not None else -1e3, LOWEST.get(key, -float("inf")))
        high = min(p.high if p.high is not None else 1e3, HIGHEST.get(key, float("inf")))
        # rates of ~1e-300 per day overflow odes.relax (source / loss; reported with issue 8, for the numerics
        # branch): the filter keeps them out until that is fixed
        kind = (st.integers(int(low), int(high)) if isinstance(p.default, int)
                else st.floats(low, high).filter(lambda x: x == 0 or abs(x) >= 1e-12))
        good = st.one_of(kind, st.sampled_from([low, high]))
        outside += [x for x in (p.low - 1 if p.low is not None else None, p.high + 1 if p.high is not None else None)
                    if x is not None]
    return st.integers(0, 19).flatmap(lambda r: WRONG if r == 19 else st.sampled_from(outside) if r == 18 else good)


def table(draw, schema: dict[str, Param], prefix: str, changed: list[str], most: int = 3) -> dict:
    """A table of some keys of ``schema`` (and now and then an unknown one)."""
    out = {}
    for key in draw(st.lists(st.sampled_from(sorted(schema)), max_size=most, unique=True)):
        out[key] = draw(values(key, schema[key]))
        changed.append(f"{prefix}.{key}")
    if draw(st.integers(0, 29)) == 29:  # rare: Hypothesis draws small numbers most
        out["kill_probabilty"] = 0.2
        changed.append(f"{prefix}.kill_probabilty")
    return out


@st.composite
def configs(draw):
    """(config, keys it sets): tiny lesions, days -1..1, random sections, lesions, arms and treatments."""
    changed: list[str] = []
    cfg = {"experiment": {"name": "h", "start_day": -1, "end_day": 1, "readout_day": 1, "replicates": 1}}
    if draw(st.integers(0, 3)) == 3:
        cfg["experiment"].update(table(draw, SECTIONS["experiment"], "experiment", changed, most=2))
    for section in draw(st.lists(st.sampled_from(sorted(set(SECTIONS) - {"experiment"})), max_size=3, unique=True)):
        cfg[section] = table(draw, SECTIONS[section], section, changed)
    small = {"diameter_mm": 1.0, "domain_mm": 2.0}
    lesions = draw(st.lists(st.sampled_from(LESION_NAMES), max_size=3, unique=True))
    if lesions:
        cfg["lesions"] = {n: {**small, **table(draw, NAMED_SECTIONS["lesions"], f"lesions.{n}", changed, 2)} for n in lesions}
    else:  # the default index and distant lesions, made small
        cfg["lesions"] = {"index": small, "distant": small}
    changed += [f"lesions.{n}.{k}" for n in cfg["lesions"] for k in small]
    arms = {}
    for arm in draw(st.lists(st.sampled_from(ARM_NAMES), min_size=1, max_size=3, unique=True)):
        arms[arm] = treatments(draw, f"arms.{arm}", changed)
    cfg["arms"] = arms
    if draw(st.integers(0, 7)) == 7:  # a treatment or an unknown section at the top level
        name = draw(st.sampled_from([*ARM_ONLY, "tumor", "sweep"]))
        cfg[name] = {}
        changed.append(name)
    return cfg, changed


def treatments(draw, prefix: str, changed: list[str]) -> dict:
    arm = {}
    if draw(st.booleans()):
        modality = draw(st.sampled_from(MODALITIES))
        keys = {k: p for k, p in ABLATION.items() if k in ("lesion", "day", "margin_mm", "probe_offset_mm")}
        arm["ablation"] = {"modality": modality, "lesion": "index", "day": 0, **table(draw, keys, f"{prefix}.ablation", changed)}
        changed += [f"{prefix}.ablation.{k}" for k in ("modality", "lesion", "day")]
    if draw(st.booleans()):
        drugs = draw(st.lists(st.sampled_from([*DRUGS, "anti_pd2"]), min_size=1, max_size=2, unique=True))
        arm["drugs"] = {d: table(draw, NAMED_SECTIONS["drugs"], f"{prefix}.drugs.{d}", changed, 2) for d in drugs}
        changed += [f"{prefix}.drugs.{d}{k}" for d in drugs for k in ("", *(f".{k}" for k in NAMED_SECTIONS["drugs"]))]
    for name, schema in (("adjuvant", ADJUVANT), ("resection", RESECTION)):
        if draw(st.integers(0, 3)) == 3:
            arm[name] = table(draw, schema, f"{prefix}.{name}", changed, 2)
            changed += [f"{prefix}.{name}.{k}" for k in schema]  # the defaults filled in are in play too
    if draw(st.integers(0, 3)) == 3:
        met = {"day": 0, "diameter_mm": 0.5, "domain_mm": 1.5}
        met.update(table(draw, NAMED_SECTIONS["metastases"], f"{prefix}.metastases.liver", changed, 2))
        changed += [f"{prefix}.metastases.liver.{k}" for k in NAMED_SECTIONS["metastases"]]
        arm["metastases"] = {"liver": met}
    if draw(st.integers(0, 3)) == 3:
        arm["immune"] = table(draw, SECTIONS["immune"], f"{prefix}.immune", changed, 2)
    return arm


def set_items():
    """``--set key=value`` strings: schema keys under existing or misspelt arms and lesions, TOML values."""
    keys = st.one_of(
        st.builds(lambda s, k: f"{s}.{k}", st.sampled_from(sorted(SECTIONS)), st.sampled_from(["kill_probability", "diameter_mm", "seed"])),
        st.builds(lambda n, k: f"lesions.{n}.{k}", st.sampled_from(LESION_NAMES), st.sampled_from(sorted(NAMED_SECTIONS["lesions"]))),
        st.builds(lambda a, k: f"arms.{a}.{k}", st.sampled_from(ARM_NAMES),
                  st.sampled_from(["ablation.margin_mm", "drugs.anti_pd1.start_day", "immune.kill_probability",
                                   "lesions.index.blood_flow_share", "metastases.liver.day"])),
        st.text(alphabet="abc._=", max_size=8),
    )
    text = st.one_of(st.sampled_from(["0", "-1", "0.5", "1e9", "true", '"x"', "[1, 2]", "{a = 1}", "nan", "", "=="]),
                     st.floats(-10, 10).map(repr))
    return st.lists(st.builds(lambda k, v: f"{k}={v}", keys, text), max_size=2)


def assert_refused_well(err: ConfigError, changed: list[str]) -> None:
    message = str(err)
    assert "\n" not in message and message, message
    keys = [key.partition("=")[0] for key in changed]  # a --set item's key
    unknown_sections = {key.split(".")[0] for key in keys} - set(TOP_LEVEL)
    tables = {key.rpartition(".")[0] for key in keys if key.count(".") >= 2}  # a table a key's defaults fill in
    names = ({key.split(".")[-1] for key in keys} | set(keys) | {repr(key) for key in keys} | unknown_sections
             | tables) - {""}
    assert any(name in message for name in names), (message, changed)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(configs(), set_items(), st.integers(0, 2**32))
def test_a_config_runs_a_day_or_is_refused_in_one_line_naming_the_key(drawn, sets, seed):
    cfg, changed = drawn
    cfg = copy.deepcopy(cfg)
    changed = changed + sets
    try:
        apply_sets(cfg, sets)
        exp = resolve(cfg)
    except ConfigError as err:
        assert_refused_well(err, changed)
        event("refused")
        return
    event(f"ran {len(exp.arms)} arms")
    day = {**exp.settings, "end_day": exp.settings["start_day"] + 1}
    for params in exp.arms.values():
        frame, events, _ = simulate(params, day, replicate_seed(seed, 0))
        assert frame["time_day"].max() == day["end_day"] or events[-1]["kind"] == "stop"  # or stopped early


@settings(max_examples=15, deadline=None)
@given(set_items())
def test_cli_validate_exits_0_or_2_with_one_line(sets):
    import contextlib
    import io

    argv = ["validate", "experiments/cryo_checkpoint.toml"]
    for item in sets:
        argv += ["--set", item]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    assert code in (0, 2)
    if code == 2:
        assert err.getvalue().startswith("abscopal: ") and err.getvalue().count("\n") == 1, err.getvalue()
