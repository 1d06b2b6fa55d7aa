"""The model built the Mesa way, from keyword arguments: the same numbers as the runner's run of that replicate."""

import pandas as pd
import pytest

from abscopal import AbscopalModel, ConfigError
from abscopal.build import DEFAULT_CONFIG, default_arm
from abscopal.config import resolve
from abscopal.runner import simulate
from abscopal.streams import replicate_seed
from conftest import small_config


@pytest.mark.parametrize("replicate", [0, 1])
def test_keywords_give_the_runners_numbers_for_that_replicate(replicate):
    exp = resolve(small_config())
    expected, events, _ = simulate(exp.arms["cryo_anti_pd1"], exp.settings, replicate_seed(7, replicate))
    model = AbscopalModel(config=small_config(), arm="cryo_anti_pd1", seed=7, replicate=replicate)
    model.run(exp.settings["end_day"])
    pd.testing.assert_frame_equal(pd.DataFrame(model.records), expected)
    assert model.events == events


def test_every_argument_has_a_default_the_default_experiment():
    model = AbscopalModel()
    exp = resolve(__import__("tomllib").loads(DEFAULT_CONFIG.read_text()))
    assert model.settings["seed"] == exp.settings["seed"] == 20261127
    assert model.params["label"] == "cryo + anti-PD-1" and default_arm(exp) == "cryo_anti_pd1"
    assert model.day == exp.settings["start_day"] and set(model.lesions) == {"index", "distant"}


def test_default_arm_falls_back_to_any_treatment_then_the_first():
    config = small_config()
    config["arms"] = {"control": {}, "pd1": {"drugs": {"anti_pd1": {}}}}
    assert default_arm(resolve(config)) == "pd1"
    config["arms"] = {"control": {}, "other": {"label": "other"}}
    assert default_arm(resolve(config)) == "control"


def test_overrides_set_config_keys():
    model = AbscopalModel(config=small_config(), overrides={"immune.kill_probability": 0.05})
    assert model.params["immune"]["kill_probability"] == 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"arm": "cryo_anti_pd"}, "arm = 'cryo_anti_pd': expected one of ['control', 'cryo_anti_pd1'] (did you mean cryo_anti_pd1?)"),
    ({"seed": -1}, "seed = -1: expected a value in [0, 9223372036854775807]"),
    ({"seed": "x"}, "seed = 'x': expected a whole number in [0, 9223372036854775807]"),
    ({"replicate": 2}, "replicate = 2: expected a whole number in [0, 1] (experiment.replicates = 2)"),
    ({"overrides": {"immune.kill_probability": 2}}, "immune.kill_probability = 2: expected a value in [0, 1]"),
])
def test_bad_keywords_are_one_line_errors_naming_the_argument(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        AbscopalModel(config=small_config(), **kwargs)
    assert str(caught.value) == message


def test_a_config_of_the_wrong_kind_is_named():
    with pytest.raises(ConfigError, match=r"^config = 3: expected a path to a TOML experiment, a config dict or an Experiment$"):
        AbscopalModel(config=3)


def test_runner_arguments_and_keywords_do_not_mix():
    exp = resolve(small_config())
    with pytest.raises(TypeError, match="not both"):
        AbscopalModel(exp.arms["control"], exp.settings, replicate_seed(1, 0), arm="control")
