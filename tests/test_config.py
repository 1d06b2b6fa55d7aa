"""The experiment schema: defaults, overrides, and errors that name the key, the value and what is allowed."""

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
        assert row["source"] in bibliography or row["source"] in ("-", "assumption"), (row["key"], row["source"])


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
