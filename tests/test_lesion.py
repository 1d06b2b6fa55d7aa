"""The lattice kernels of a lesion agree with their plain definitions (scipy's or brute force); its numerics
do not depend on the time step or the field grid."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from abscopal.config import resolve
from abscopal.lesion import Lesion
from abscopal.lesion.fields import _gaussian_operator
from abscopal.lesion.geometry import EMPTY, _within, fill_holes, nearest_free
from abscopal.lesion.tissue import APOPTOTIC, LIVE, NECROTIC
from abscopal.streams import Streams, replicate_seed
from conftest import small_config


def blobs(seed: int, n: int = 90) -> np.ndarray:
    """A ragged disc with holes, touching the array's border on one side."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:n, :n]
    occupied = ((yy - n / 2) ** 2 + (xx - n / 2) ** 2 <= (n / 2.5) ** 2) & (rng.random((n, n)) < 0.75)
    occupied[:, :3] = True
    return occupied


@pytest.mark.parametrize("seed", range(4))
def test_holes_filled_as_scipy_fills_them(seed):
    occupied = blobs(seed)
    assert (fill_holes(occupied) == ndimage.binary_fill_holes(occupied)).all()


@pytest.mark.parametrize("radius", [1.0, 3.3, 8.0, 10.6667])
def test_rim_depth_masks_match_the_distance_transform(radius):
    filled = ndimage.binary_fill_holes(blobs(1))
    depth = ndimage.distance_transform_edt(filled).astype(np.float32)
    assert (_within(~filled, radius) == (depth <= radius)).all()


def within_brute_force(mask: np.ndarray, radius: float) -> np.ndarray:
    """Sites whose (float32) Euclidean distance to some True site of ``mask`` is at most ``radius``."""
    r, c = np.indices(mask.shape)
    tr, tc = np.nonzero(mask)
    d = np.sqrt((r.ravel()[:, None] - tr) ** 2 + (c.ravel()[:, None] - tc) ** 2).astype(np.float32)
    return (d <= radius).any(axis=1).reshape(mask.shape) if tr.size else np.zeros_like(mask)


@settings(max_examples=300, deadline=None)
@given(mask=st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(lambda shape: arrays(bool, shape)),
       radius=st.floats(0.0, 14.0))
def test_within_is_the_brute_force_disc_for_any_mask_shape_and_radius(mask, radius):
    assert (_within(mask, radius) == within_brute_force(mask, radius)).all()


def test_within_a_window_of_fewer_rows_than_the_radius():
    """A lesion's tissue window of <= 6 rows: a negative slice stop used to wrap around (issue 8)."""
    mask = np.zeros((5, 30), bool)
    mask[0, 0] = True
    out = _within(mask, 8.0)
    assert (out == within_brute_force(mask, 8.0)).all()
    assert not _within(np.zeros((5, 30), bool), 8.0).any()


@pytest.mark.parametrize("sigma", [0.7, 4.1, 25.0])
def test_gaussian_operator_is_scipys_gaussian_filter(sigma):
    field = np.random.default_rng(2).random((60, 60)) ** 6
    g = _gaussian_operator(sigma, 60)
    np.testing.assert_allclose(g @ field @ g.T, ndimage.gaussian_filter(field, sigma, mode="constant"),
                               rtol=1e-12, atol=1e-15)


def test_nearest_free_takes_a_nearest_empty_site_within_reach():
    radius, pad = 4.0, 4
    inner = np.where(np.random.default_rng(3).random((40, 40)) < 0.85, LIVE, EMPTY).astype(np.int8)
    state = np.full((48, 48), LIVE, np.int8)  # the border that is never free
    state[pad:-pad, pad:-pad] = inner
    r, c = np.nonzero(state[pad:-pad, pad:-pad] == LIVE)
    sites = (r + pad) * 48 + c + pad
    found, targets = nearest_free(state, sites, radius)
    er, ec = np.nonzero(state == EMPTY)
    for site in sites:
        d = np.hypot(er - site // 48, ec - site % 48)
        if site in found:
            t = targets[found == site][0]
            assert state.flat[t] == EMPTY
            assert np.hypot(t // 48 - site // 48, t % 48 - site % 48) == pytest.approx(d.min())
        else:
            assert d.min() > radius


def test_live_density_is_the_live_fraction_of_each_pixel():
    """Also when the lattice does not divide into whole pixels (15 µm cells, 11-site pixels)."""
    cfg = small_config()
    cfg["tumour"] = {"cell_diameter_um": 15.0}
    params = resolve(cfg).arms["control"]
    lesion = Lesion("distant", params["lesions"]["distant"], params, Streams(replicate_seed(3, 0)), 0.0)
    for _ in range(3):
        lesion.grow(0.0, 0.25)
        lesion.spontaneous_death(0.25, lesion.tissue.live_sites())
    n, b = lesion.state.shape[0], lesion.fields.block
    assert n % b != 0
    nf = lesion.fields.antigen.shape[0]
    padded = np.zeros((nf * b, nf * b))
    padded[:n, :n] = lesion.state == LIVE
    expected = padded.reshape(nf, b, nf, b).mean(axis=(1, 3))
    np.testing.assert_array_equal(lesion.live_density(), expected.astype(np.float32))
    assert lesion.tissue.live_sites().size == int((lesion.state == LIVE).sum())


def grown(step_h: float, days: int, seed: int) -> int:
    """Live cells of a 1 mm lesion after ``days`` of growth (no immune system) in steps of ``step_h``."""
    cfg = small_config()
    cfg["tumour"] = {"spontaneous_death_per_day": 0.0}
    params = resolve(cfg).arms["control"]
    spec = dict(params["lesions"]["distant"], diameter_mm=1.0, domain_mm=3.0)
    lesion = Lesion("distant", spec, params, Streams(replicate_seed(seed, 0)), 0.0)
    n = int(round(24 / step_h))
    for day in range(days):
        for k in range(n):
            lesion.grow(day + k / n, 1.0 / n)
    return lesion.counts()["tumor_cells"]


def test_growth_does_not_depend_on_the_time_step():
    """Divisions happen at their drawn times, daughters divide again within a step, and crowded cells take the
    next free site: a day in one step grows the lesion as much as in 12 steps of 2 h."""
    coarse = np.mean([grown(24, 4, s) for s in range(3)])
    fine = np.mean([grown(2, 4, s) for s in range(3)])
    assert coarse == pytest.approx(fine, rel=0.01), (coarse, fine)


def lesion_at(resolution_um: float, seed: int = 0, **release) -> Lesion:
    cfg = small_config()
    cfg["release"] = {"field_resolution_um": resolution_um, **release}
    params = resolve(cfg).arms["control"]
    return Lesion("distant", params["lesions"]["distant"], params, Streams(replicate_seed(seed, 0)), 0.0)


def test_dcs_meet_the_same_damp_level_of_scattered_dying_cells_on_any_field_grid():
    """A few cells dying apart: their DAMPs at their antigen do not grow as the field's pixels shrink."""
    levels = {}
    for resolution_um in (160.0, 80.0, 40.0):
        lesion = lesion_at(resolution_um)
        live = lesion.tissue.live_sites()
        lesion.kill(live[:: live.size // 5][:5], APOPTOTIC, quality=1.0, damp_factor=1.0)
        levels[resolution_um] = lesion.fields.antigen_for_dcs(0.25)[1]
    assert levels[80.0] == pytest.approx(levels[160.0], rel=0.05), levels
    assert levels[40.0] == pytest.approx(levels[160.0], rel=0.05), levels


@pytest.mark.parametrize("dt", [0.25, 0.0625])
def test_what_dies_during_a_step_is_released_over_it(dt):
    """Antigen released by cells dying during a step decays, on average, over half of it (exactly: the mean of
    exp(-k t) over the step); what a treatment released before the step decays over all of it. (Without
    diffusion, which would carry antigen out of the small domain.)"""
    lesion = lesion_at(160.0, diffusion_um2_per_s=0.0)
    k = lesion.params["release"]["antigen_decay_per_day"]
    live = lesion.tissue.live_sites()
    lesion.kill(live[:100], NECROTIC, quality=1.0, damp_factor=1.0)  # a treatment, before the step
    lesion.fields.begin_step()
    before = lesion.counts()["antigen"]
    lesion.kill(live[100:200], NECROTIC, quality=1.0, damp_factor=1.0)  # during the step
    during = lesion.counts()["antigen"] - before
    lesion.fields.update(dt, lesion.t_cells)
    expected = before * math.exp(-k * dt) + during * (1 - math.exp(-k * dt)) / (k * dt)
    assert lesion.counts()["antigen"] == pytest.approx(expected, rel=1e-3)
