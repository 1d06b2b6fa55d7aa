"""The exact compartment steps of abscopal.odes."""

import math

import numpy as np
from hypothesis import given, strategies as st

from abscopal.odes import relax


@given(x=st.floats(0, 1e9), source=st.floats(0, 1e9), loss=st.floats(0, 50), dt=st.floats(1e-3, 1))
def test_relax_is_finite_and_matches_the_closed_form(x, source, loss, dt):
    """x' = source - loss x: finite for every loss down to 1e-300 per day, and the textbook solution where it
    is well conditioned (it overflowed as source / loss for tiny losses)."""
    got = relax(x, source, loss, dt)
    assert math.isfinite(got) and got >= 0
    if loss > 1e-6:
        steady = source / loss
        assert np.isclose(got, steady + (x - steady) * math.exp(-loss * dt), rtol=1e-9, atol=1e-6)


def test_relax_with_a_vanishing_loss_is_a_pure_source():
    assert np.isclose(relax(2.0, 3.0, 2.2e-311, 0.25), 2.0 + 3.0 * 0.25, rtol=1e-9)
    assert relax(2.0, 3.0, 0.0, 0.25) == 2.75
