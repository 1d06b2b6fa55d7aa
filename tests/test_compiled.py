"""The compiled kernels (numba, abscopal[fast]) and the numpy code give the same numbers bit for bit."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes, arrays

from abscopal import compiled
from abscopal.config import resolve
from abscopal.lesion.geometry import fill_holes
from abscopal.model import AbscopalModel
from abscopal.streams import replicate_seed
from conftest import small_config

TESTS = Path(__file__).parent


def run_digest(arm: str) -> str:
    """Digest of a small run's records, events and final lattice (cells, PD-L1, T cells, fields)."""
    exp = resolve(small_config(end_day=10, readout_day=10))
    model = AbscopalModel(exp.arms[arm], exp.settings, replicate_seed(exp.settings["seed"], 1))
    model.run(10)
    h = hashlib.sha256((repr(model.records) + repr(model.events)).encode())
    for lesion in model.lesions.values():
        tc = lesion.t_cells
        for a in (lesion.tissue.state, lesion.tissue.pd_l1, lesion.tissue.antigenicity, lesion.tissue.lethal_damage,
                  lesion.fields.antigen, lesion.fields.damp, lesion.fields.ifn, tc.row, tc.col, tc.kills, tc.exhausted):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("arm", ["control", "cryo_anti_pd1"])
def test_the_kernels_and_the_numpy_code_give_the_same_run(arm, monkeypatch):
    pytest.importorskip("numba")
    if compiled.KERNELS is None:
        pytest.skip("ABSCOPAL_NUMBA=0: the kernels are off")
    with_kernels = run_digest(arm)
    monkeypatch.setattr(compiled, "KERNELS", None)
    assert run_digest(arm) == with_kernels


def test_the_pinned_numbers_hold_without_the_kernels():
    env = {**os.environ, "ABSCOPAL_NUMBA": "0"}
    code = "from abscopal import compiled; assert compiled.KERNELS is None; import test_pinned_numbers as t; t.test_a_tiny_runs_records_are_those_pinned()"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=TESTS, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_bad_switch_is_named_with_its_value():
    env = {**os.environ, "ABSCOPAL_NUMBA": "yes"}
    done = subprocess.run([sys.executable, "-c", "import abscopal.compiled"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "ABSCOPAL_NUMBA = 'yes': expected 0 (numpy code) or 1" in done.stderr.strip().splitlines()[-1]


@settings(max_examples=200, deadline=None)
@given(arrays(bool, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=30)))
def test_the_compiled_hole_filling_fills_the_same_holes(occupied):
    pytest.importorskip("numba")
    from abscopal import kernels

    saved = compiled.KERNELS
    try:
        compiled.KERNELS = None
        expected = fill_holes(occupied)
    finally:
        compiled.KERNELS = saved
    assert np.array_equal(kernels.fill_holes(occupied), expected)
