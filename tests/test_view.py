"""The live view: `abscopal view` served on 127.0.0.1 and driven in headless Chromium by Playwright.

Chromium is Debian's (/usr/bin/chromium): found, or installed with apt-get where the test runs as root (CI does);
the test is skipped, saying why, only where neither can be. Playwright's own browser download is not used.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import nullcontext
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abscopal import live
from abscopal.cli import main
from abscopal.config import resolve
from conftest import small_config

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """Debian's Chromium, installed with apt-get when missing and this process may (root, apt-get there)."""
    found = shutil.which("chromium") or (Path("/usr/bin/chromium").exists() and "/usr/bin/chromium")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found or None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        if subprocess.run(command, env=env, capture_output=True, timeout=900).returncode != 0:
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium: /usr/bin/chromium is missing and apt-get install chromium is not possible here "
                    "(needs root and Debian's apt-get)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The default experiment with one arm that sets a main parameter of its own (the sliders follow the arm).
CRYO_KILL = 0.6
VIEW_CONFIG = f"""{(ROOT / "experiments/cryo_checkpoint.toml").read_text()}
[arms.cryo.immune]
kill_probability = {CRYO_KILL}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`abscopal view` of the default experiment (its cryo arm with a kill probability of its own) on a free port,
    until the module's tests end."""
    config = tmp_path_factory.mktemp("view") / "view.toml"
    config.write_text(VIEW_CONFIG)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "abscopal.cli", "view", str(config), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120  # a loaded two-core machine takes half a minute to import solara
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"abscopal view did not serve {url}: {proc.communicate()[0][-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_app_steps_days_draws_them_and_resets_with_a_new_input_in_a_real_browser(chromium, server, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server, timeout=60_000)
            day = page.locator(".abscopal-day")
            day.wait_for(timeout=60_000)
            assert day.inner_text().strip() == "Day -7"  # experiment.start_day of the default experiment
            burden = page.locator(".abscopal-burden img")
            burden.wait_for(timeout=30_000)
            before = burden.get_attribute("src")
            for expected in ("-6", "-5", "-4"):
                page.get_by_role("button", name="Step").click()
                page.wait_for_function(f"document.querySelector('.abscopal-day').innerText.trim() == 'Day {expected}'",
                                       timeout=30_000)
            page.wait_for_function("src => document.querySelector('.abscopal-burden img').src != src", arg=before,
                                   timeout=30_000)
            shot = page.screenshot(path=str(tmp_path / "view.png"))
            body = page.inner_text("body")
            assert "Time:" not in body and "Use Threads" not in body  # one clock: the day of the experiment
            # a bad seed or replicate is refused in one line on Reset, and the run shown goes on
            seed = page.get_by_label("seed (experiment.seed)")
            seed.fill("abc")
            seed.press("Enter")
            page.get_by_role("button", name="Reset").click()
            error = page.locator(".abscopal-input-error")
            error.wait_for(timeout=30_000)
            assert error.inner_text() == ("seed = 'abc': expected a whole number in [0, 9223372036854775807]; "
                                          "the run shown goes on")
            assert day.inner_text().strip() == "Day -4" and "Traceback" not in page.inner_text("body")
            seed.fill("20261127")
            seed.press("Enter")
            # the sliders show the chosen arm's values: cryo sets its own kill probability
            kill = page.locator(".v-input", has_text="kill probability").locator("[role=slider]")
            expect(kill).to_have_attribute("aria-valuenow", "0.3")
            page.locator(".v-select", has_text="arm").locator(".v-field").click()
            page.locator(".v-overlay__content .v-list-item-title").get_by_text("cryo", exact=True).click()
            expect(kill).to_have_attribute("aria-valuenow", str(CRYO_KILL), timeout=10_000)
            page.get_by_role("button", name="Reset").click()
            page.wait_for_function(f"document.body.innerText.includes('this run: kill_probability {CRYO_KILL},')",
                                   timeout=30_000)
            assert not error.count()
            # a changed input takes effect on Reset: a new run from day -7 with the kill probability set to 0
            kill.focus()
            kill.press("Home")
            page.get_by_role("button", name="Reset").click()
            page.wait_for_function("document.body.innerText.includes('this run: kill_probability 0,')", timeout=30_000)
            assert day.inner_text().strip() == "Day -7"
        finally:
            browser.close()
    pixels = np.asarray(Image.open(BytesIO(shot)).convert("L"), dtype=float)
    assert pixels.std() > 20, f"a blank screenshot (grey level SD {pixels.std():.1f})"


@pytest.mark.parametrize("argv, message", [
    (["view", "no_such.toml"], "abscopal: config error: config file no_such.toml does not exist"),
    (["view", "--arm", "cryo_anti"], "abscopal: config error: arm = 'cryo_anti': expected one of"),
    (["view", "--port", "0"], "abscopal: view: argument --port: '0': expected a port number in [1, 65535]"),
])
def test_view_refuses_bad_input_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) if "--port" in argv else nullcontext():  # argparse exits, the others return 2
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_the_lattice_image_is_a_pixel_per_site_with_t_cells_over_the_tissue():
    model = live.LiveModel(config=small_config())
    lesion = model.lesions["index"]
    window = model.window("index")
    image = live.lattice_image(lesion, window)
    side = window[0].stop - window[0].start
    assert image.shape == (side, side, 3) and image.dtype == np.uint8
    state = lesion.state[window]
    assert (image[state == 0] == live.STATE_RGB[0]).all()
    lesion.t_cells.admit(5, lesion, model.day, np.random.default_rng(1), 0.0, over_days=1.0)
    r, c = int(round(lesion.t_cells.row[0])) - window[0].start, int(round(lesion.t_cells.col[0])) - window[1].start
    assert (live.lattice_image(lesion, window)[r, c] == live.T_CELL_RGB[0]).all()
    pd_l1 = live.lattice_image(lesion, window, colour="pd_l1", pd_l1_top=6.0)
    assert not (pd_l1[state == 1] == live.STATE_RGB[1]).all(axis=-1).any()


def test_the_window_holds_the_widest_the_tissue_has_spanned():
    model = live.LiveModel(config=small_config())
    wide = model.window("distant")
    model.lesions["distant"].tissue.state[:] = 0  # the lesion gone: the zoom stays
    assert model.window("distant") == wide


def test_sliders_take_units_and_ranges_from_the_schema():
    kill = live.slider("immune.kill_probability", 0.3)
    assert (kill["type"], kill["min"], kill["max"], kill["value"]) == ("SliderFloat", 0, 1, 0.3)
    budget = live.slider("immune.kill_budget", 5)
    assert (budget["type"], budget["min"], budget["max"], budget["label"]) == ("SliderInt", 1, 25, "kill budget (kills) 1-25")
    growth = live.slider("tumour.growth_rate_per_day", 0.4)
    assert growth["label"] == "growth rate (1/day) 0-2"


def test_the_live_model_stops_at_the_end_day():
    model = live.LiveModel(config=small_config(), arm="control")
    steps = 0
    while model.running:
        model.step()
        steps += 1
    assert steps == 8 and model.day == 6  # days -2 to 6 of the small config


def test_the_treatment_log_puts_a_drugs_doses_on_one_line():
    from abscopal.app import treatment_lines

    events = [{"kind": "dose", "day": 0.0, "target": "anti_pd1"},
              {"kind": "ablation", "day": 0.0, "target": "index", "modality": "cryo", "necrotic": 114071, "apoptotic": 0},
              {"kind": "dose", "day": 3.0, "target": "anti_pd1"},
              {"kind": "stop", "day": 9.0, "target": "all lesions", "reason": "cleared"}]
    assert treatment_lines(events) == ["day 0: cryo of index (114,071 necrotic, 0 apoptotic cells)",
                                       "day 9: run stopped (cleared)", "anti_pd1: doses on days 0, 3"]


SEED_MAX = 2**63 - 1
SMALL = resolve(small_config())


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(-10, 10).map(str), st.integers(SEED_MAX - 2, SEED_MAX + 2).map(str),
                 st.text(max_size=8), st.sampled_from(["1.5", "1e30", " 7 ", "+3", "-0"])))
def test_reset_takes_a_seed_box_or_refuses_it_in_one_line_keeping_the_run(text):
    shown = live.LiveModel(config=SMALL, arm="control")
    shown.step()
    model, message = live.reset(shown, SMALL, arm="control", seed=text)
    if re.fullmatch(r"\s*[+-]?\d+\s*", text) and 0 <= int(text) <= SEED_MAX:
        assert message is None and model is not shown and model.settings["seed"] == int(text)
    else:
        assert model is shown and shown.day == -1  # the run shown goes on where it was
        assert message.startswith("seed = ") and message.endswith("; the run shown goes on") and "\n" not in message
        assert "expected a whole number in [0, 9223372036854775807]" in message or (
            "expected a value in [0, 9223372036854775807]" in message)


@pytest.mark.parametrize("replicate", [2, -1, "x", "1.5"])
def test_reset_refuses_a_bad_replicate_in_one_line_keeping_the_run(replicate):
    shown = live.LiveModel(config=SMALL, arm="control")
    model, message = live.reset(shown, SMALL, arm="control", replicate=replicate)
    assert model is shown
    assert message == (f"replicate = {live.whole_number(replicate)!r}: expected a whole number in [0, 1] "
                       f"(experiment.replicates = 2); the run shown goes on")


def test_the_inputs_follow_the_chosen_arm_and_set_its_parameters():
    config = small_config()
    config["arms"]["cryo_anti_pd1"]["immune"] = {"kill_probability": 0.5}  # an arm's value of its own
    assert live.arm_values(config, "control")["immune.kill_probability"] == 0.3
    assert live.arm_values(config, "cryo_anti_pd1")["immune.kill_probability"] == 0.5
    assert live.model_params(config, "cryo_anti_pd1")["immune.kill_probability"]["value"] == 0.5
    # a slider's value is the chosen arm's, over the arm's own value
    model = live.LiveModel(config=config, arm="cryo_anti_pd1", **{"immune.kill_probability": 0.1})
    assert model.params["immune"]["kill_probability"] == 0.1
