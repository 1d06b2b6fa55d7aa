"""The lattice kernels of a lesion agree with their plain definitions (scipy's or brute force)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from abscopal.config import resolve
from abscopal.lesion import EMPTY, LIVE, Lesion, _fill_holes, _gaussian_operator, _within, nearest_free
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
    assert (_fill_holes(occupied) == ndimage.binary_fill_holes(occupied)).all()


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
        lesion.spontaneous_death(0.25, lesion.live_sites())
    n, b = lesion.state.shape[0], lesion.block
    assert n % b != 0
    nf = lesion.antigen.shape[0]
    padded = np.zeros((nf * b, nf * b))
    padded[:n, :n] = lesion.state == LIVE
    expected = padded.reshape(nf, b, nf, b).mean(axis=(1, 3))
    np.testing.assert_array_equal(lesion.live_density(), expected.astype(np.float32))
    assert lesion.live_sites().size == int((lesion.state == LIVE).sum())
