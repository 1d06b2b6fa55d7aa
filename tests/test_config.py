"""The experiment schema: defaults, overrides, and errors that name the key, the value and what is allowed."""

import re

import pytest

from abscopal.config import ConfigError, load_config, load_experiment, parameter_table, resolve
from conftest import small_config


def test_defaults_fill_every_arm():
    exp = resolve(small_config())
    arm = exp.arms["cryo_anti_pd1"]
    assert arm["immune"]["kill_probability"] == 0.3
    assert arm["drugs"]["anti_pd1"]["dose_mg_per_kg"] == 10.0  # filled from the schema
    assert arm["ablation"]["freeze_thaw_cycles"] == 2  # cryo settings filled, others absent
    assert "dose_per_fraction_gy" not in arm["ablation"]
    assert "ablation" not in exp.arms["control"]


def test_arm_overrides_only_its_arm():
    cfg = small_config()
    cfg["arms"]["control"]["immune"] = {"kill_probability": 0.1}
    exp = resolve(cfg)
    assert exp.arms["control"]["immune"]["kill_probability"] == 0.1
    assert exp.arms["cryo_anti_pd1"]["immune"]["kill_probability"] == 0.3


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda c: c.setdefault("immune", {}).update(kill_probabilty=0.2), ["immune.kill_probabilty", "kill_probability"]),
        (lambda c: c.setdefault("immune", {}).update(kill_probability=1.5), ["immune.kill_probability", "1.5", "[0, 1]"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["ablation"].update(modality="laser"), ["modality", "laser", "cryo"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["ablation"].update(dose_per_fraction_gy=8), ["dose_per_fraction_gy", "radiotherapy"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["ablation"].update(lesion="liver"), ["ablation.lesion", "liver", "distant"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["ablation"].update(day=0.5), ["ablation.day", "0.5", "whole days"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["drugs"].update(anti_pd2={}), ["anti_pd2", "anti_pd1"]),
        (lambda c: c["experiment"].update(time_step_h=5), ["time_step_h", "5", "divisor of 24"]),
        (lambda c: c.update(tumor={}), ["tumor", "tumour"]),
        (lambda c: c["experiment"].update(replicates=2.5), ["experiment.replicates", "2.5", "whole number"]),
        (lambda c: c["lesions"]["index"].update(diameter_mm=5.0), ["lesions.index.diameter_mm", "domain_mm"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["drugs"]["anti_pd1"].update(start_day=-5), ["anti_pd1.start_day", "-5", "experiment.start_day"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["ablation"].update(modality="heat", peak_temperature_c=50), ["peak_temperature_c", "50", "necrosis_temperature_c"]),
        (lambda c: c.update(ablation={"lesion": "index"}), ["ablation = {'lesion': 'index'}", "every arm", "put it in an arm"]),
        (lambda c: c.update(drugs={"anti_pd1": {}}), ["drugs", "control included", "put it in an arm"]),
        (lambda c: c.update(metastases={"lung": {}}), ["metastases", "put it in an arm"]),
        (lambda c: c["arms"]["control"].update(resectoin={}), ["arms.control.resectoin", "did you mean resection?"]),
        (lambda c: c["lesions"]["index"].update(blood_flow_share=0.6) or c["lesions"]["distant"].update(blood_flow_share=0.5),
         ["blood_flow_share", "1.1 of the circulation", "index 0.6, distant 0.5", "at most 1"]),
        (lambda c: c["arms"]["control"].update(lesions={"distant": {"blood_flow_share": 0.99}}),
         ["arms.control.lesions", "1.04", "distant 0.99"]),
        (lambda c: c["arms"]["cryo_anti_pd1"]["drugs"]["anti_pd1"].update(start_day=7), ["anti_pd1.start_day = 7", "end_day = 6"]),
        # accepted before and then failed in the run (ablation.py's own checks)
        (lambda c: c.update(cryoablation={"lethal_temperature_fast_c": 0}), ["cryoablation.lethal_temperature_fast_c = 0", "below 0 °C"]),
        (lambda c: c.update(cryoablation={"lethal_temperature_slow_c": -10}), ["lethal_temperature_fast_c = -20", "lethal_temperature_slow_c = -10"]),
        (lambda c: c.update(heat_ablation={"body_temperature_c": 42, "sublethal_temperature_c": 37})
         or c["arms"]["cryo_anti_pd1"]["ablation"].update(modality="heat"), ["sublethal_temperature_c = 37", "body_temperature_c = 42"]),
        (lambda c: c["experiment"].update(end_day=0), ["readout_day = 6", "end_day", "[-2, 0]"]),
    ],
)
def test_bad_input_names_key_value_and_allowed(mutate, words):
    cfg = small_config()
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    for word in words:
        assert word in str(err.value)


def test_set_overrides_parse_as_toml(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('[experiment]\nname = "x"\n[arms.a]\n')
    cfg = load_config(path, ["immune.kill_probability=0.2", "arms.a.ablation.margin_mm=-2", "experiment.name=y"])
    assert cfg["immune"]["kill_probability"] == 0.2
    assert cfg["arms"]["a"]["ablation"]["margin_mm"] == -2
    assert resolve(cfg).name == "y"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "nope.toml")


def test_every_default_cites_a_source_in_the_bibliography():
    import tomllib

    bibliography = tomllib.loads(open("seeds/bibliography.toml").read())
    for row in parameter_table():
        assert row["meaning"], row["key"]
        # "assumption: why" for an assumption whose reason belongs in the source column (a mechanism off by default)
        source = row["source"].split(":")[0]
        assert source in bibliography or source in ("-", "assumption"), (row["key"], row["source"])


def test_shipped_experiments_are_valid():
    from pathlib import Path

    from abscopal.sweep import load_sweep

    for path in sorted(Path("experiments").glob("*.toml")):
        if "sweep" in load_config(path):
            assert len(load_sweep(path)) > 1
        else:
            load_experiment(path)


def test_setting_one_lesion_keeps_the_default_lesions(tmp_path):
    path = tmp_path / "no_lesions.toml"
    path.write_text('[experiment]\nname = "x"\n[arms.control]\n')
    exp = resolve(load_config(path, ["lesions.distant.blood_flow_share=0.2"]))
    assert set(exp.arms["control"]["lesions"]) == {"index", "distant"}
    assert exp.arms["control"]["lesions"]["distant"]["blood_flow_share"] == 0.2
    listed = resolve({"lesions": {"primary": {"diameter_mm": 5.0}}, "arms": {"control": {}}})
    assert set(listed.arms["control"]["lesions"]) == {"primary"}  # a config that lists lesions gets those


def test_treatment_outside_arms_is_refused_and_in_an_arm_given_to_that_arm_only():
    cfg = small_config()
    cfg["arms"]["cryo"] = {"ablation": {"lesion": "index", "margin_mm": 1.0}}
    exp = resolve(cfg)
    assert "ablation" in exp.arms["cryo"] and "ablation" not in exp.arms["control"]
    cfg["adjuvant"] = {"lesion": "index"}
    with pytest.raises(ConfigError, match=r"^adjuvant = .*put it in an arm"):
        resolve(cfg)


def test_blood_flow_counts_the_lesions_present_together():
    cfg = small_config()
    cfg["lesions"] = {"primary": {"diameter_mm": 2.0, "domain_mm": 4.0, "blood_flow_share": 0.6}}
    met = {"day": 3, "diameter_mm": 1.0, "domain_mm": 4.0, "blood_flow_share": 0.6}
    cfg["arms"] = {"surgery": {"resection": {"lesion": "primary", "day": 0}, "metastases": {"lung": met}}}
    resolve(cfg)  # the primary is gone when the metastasis is seeded
    del cfg["arms"]["surgery"]["resection"]
    with pytest.raises(ConfigError, match=r"arms\.surgery\.lesions.*1\.2 of the circulation \(primary 0\.6, lung 0\.6\)"):
        resolve(cfg)


@pytest.mark.parametrize("key, words", [
    ("arms.cryo_anti_pd_1.ablation.margin_mm", ["arms.cryo_anti_pd_1.ablation.margin_mm = -1", "no arm 'cryo_anti_pd_1'",
                                                "did you mean cryo_anti_pd1?", "control, cryo, cryo_anti_ctla4, cryo_anti_pd1"]),
    ("lesions.distnt.diameter_mm", ["lesions.distnt.diameter_mm = -1", "no lesion 'distnt'", "did you mean distant?"]),
    ("arms.control.lesions.indx.diameter_mm", ["no lesion 'indx'", "did you mean index?"]),
    ("arms.cryo_anti_pd1.metastases.lung.day", ["no metastasis 'lung'", "the config has none"]),
    ("arms.new", ["no arm 'new'"]),
])
def test_set_cannot_create_an_arm_or_lesion_by_a_typo(key, words):
    with pytest.raises(ConfigError) as err:
        load_config("experiments/cryo_checkpoint.toml", [f"{key}=-1"])
    assert str(err.value).startswith("--set ")
    for word in words:
        assert word in str(err.value)


def test_set_reaches_existing_arms_lesions_and_the_default_arm(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('[experiment]\nname = "x"\n')
    cfg = load_config(path, ["arms.control.immune.kill_probability=0.1", "lesions.index.diameter_mm=3"])
    exp = resolve(cfg)
    assert exp.arms["control"]["immune"]["kill_probability"] == 0.1
    assert exp.arms["control"]["lesions"]["index"]["diameter_mm"] == 3


def test_a_lattice_that_cannot_fit_in_memory_is_refused(monkeypatch):
    from abscopal import memory

    cfg = small_config()
    cfg["lesions"]["distant"]["domain_mm"] = 40.0  # 2000 x 2000 sites of 20 µm
    need = memory.run_memory_mb(resolve(cfg).arms["control"])
    assert need > memory.run_memory_mb(resolve(small_config()).arms["control"]) + 200
    monkeypatch.setattr(memory, "available_mb", lambda: need - 1)
    with pytest.raises(ConfigError, match=r"^arms\.control\.lesions\.distant\.domain_mm = 40: a lattice of 2000 x 2000 "
                                          r"sites of 20 µm; a run would need about [\d,]+ MB, the machine has [\d,]+ MB"):
        resolve(cfg)
    monkeypatch.setattr(memory, "available_mb", lambda: need + 1)
    resolve(cfg)


def test_memory_estimate_is_above_a_measured_peak():
    """A run of two lesions filling most of their 16 mm domains, in a fresh process (ru_maxrss)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "experiments/memory_calibration.py", "--domain-mm", "16", "--diameter-mm",
                          "15", "--days", "1"], capture_output=True, text=True, check=True).stdout
    measured = json.loads(out)
    assert measured["peak_mb"] <= measured["estimate_mb"] <= 1.5 * measured["peak_mb"], measured


def test_cli_validate_refuses_in_one_line_and_prints_the_memory_estimate(tmp_path, capsys):
    from abscopal.cli import main

    assert main(["validate", "experiments/cryo_checkpoint.toml", "--set", "lesions.distnt.diameter_mm=1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("abscopal: config error: --set lesions.distnt")
    assert main(["validate", "experiments/cryo_checkpoint.toml"]) == 0
    assert "peak memory of a run: about" in capsys.readouterr().out


def test_a_unitless_value_out_of_range_ends_the_line_cleanly():
    with pytest.raises(ConfigError) as err:
        resolve(small_config(seed=-1))
    assert str(err.value) == "experiment.seed = -1: expected a value in [0, 9223372036854775807]"
    cfg = small_config()
    cfg["immune"] = {"kill_probability": 1.5}  # unit "-": no unit after the range
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    assert str(err.value) == "immune.kill_probability = 1.5: expected a value in [0, 1]"
    cfg["immune"] = {"kill_probability": "high"}
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    assert str(err.value) == "immune.kill_probability = 'high': expected a number in [0, 1]"


def test_a_bad_value_is_echoed_as_written_not_as_converted():
    """A whole number given for a real-valued parameter was echoed after conversion (``= -1.0``)."""
    with pytest.raises(ConfigError) as err:
        resolve(small_config(time_step_h=-1))
    assert str(err.value) == "experiment.time_step_h = -1: expected a value in [0.25, 24] h"


def test_a_whole_number_out_of_range_names_its_unit_and_a_name_must_be_a_string():
    cfg = small_config()
    cfg["lymph_node"] = {"divisions": 2.5}
    with pytest.raises(ConfigError) as err:
        resolve(cfg)
    assert str(err.value) == "lymph_node.divisions = 2.5: expected a whole number in [1, 30] generations"
    with pytest.raises(ConfigError) as err:
        resolve(small_config(name=5))
    assert str(err.value) == "experiment.name = 5: expected a string"


def test_arm_labels_default_to_the_name_and_are_validated():
    exp = resolve({"arms": {"cryo_anti_pd1": {"label": "cryo + anti-PD-1"}, "control": {}}})
    assert [p["label"] for p in exp.arms.values()] == ["cryo + anti-PD-1", "control"]
    for label, expected in ((3, "expected a line of 1 to 40 printable characters"), ("", "expected a line"),
                            ("a\nb", "expected a line"), ("x" * 41, "expected a line")):
        with pytest.raises(ConfigError, match=rf"arms.a.label = {re.escape(repr(label))}: {expected}"):
            resolve({"arms": {"a": {"label": label}}})
    with pytest.raises(ConfigError, match=r"arms.b.label = 'same': expected a label of its own \(arm a has it\)"):
        resolve({"arms": {"a": {"label": "same"}, "b": {"label": "same"}}})


def test_axis_labels_name_the_parameter_and_its_unit():
    from abscopal.config import axis_label

    assert axis_label("immune.kill_probability") == "immune: kill probability"
    assert axis_label("tumour.growth_rate_per_day") == "tumour: growth rate (1/day)"
    assert axis_label("lesions.distant.blood_flow_share") == "distant lesion: blood flow share"
    assert axis_label("arms.cryo.ablation.margin_mm") == "ablation: margin (mm), arm cryo"
    assert axis_label("arms.x.drugs.anti_pd1.start_day") == "anti_pd1: start day (day), arm x"
    assert axis_label("not.a.key") == "not.a.key"
