"""Exact steps of the model's linear compartment equations (dendritic cells, lymph node, suppressors).

Rates here reach several per day, comparable to the time step, so explicit Euler would make results
depend on the step. Over one step the coefficients are held fixed and the linear system
x' = A x + b is advanced exactly with a matrix exponential.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm


def linear_step(a: np.ndarray, b: np.ndarray, x: np.ndarray, dt: float) -> np.ndarray:
    """Advance x' = a @ x + b (a, b constant) by dt exactly; returns the new x."""
    n = len(x)
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = a
    m[:n, n] = b
    return (expm(m * dt) @ np.append(x, 1.0))[:n]


def relax(x: float, source: float, loss: float, dt: float) -> float:
    """Advance x' = source - loss * x by dt exactly (loss in 1/day, source per day).

    Written as x e^(-loss dt) + source (1 - e^(-loss dt)) / loss, with expm1, so that a vanishing loss
    (1e-300 per day) gives x + source * dt instead of overflowing source / loss.
    """
    if loss <= 0:
        return x + source * dt
    return x * np.exp(-loss * dt) - source * np.expm1(-loss * dt) / loss


def relax_to_ramp(x: float, start: float, end: float, rate: float, dt: float) -> float:
    """Advance x' = rate * (target(t) - x) by dt exactly, the target moving linearly from ``start`` to ``end`` over
    the step (rate in 1/day).

    Written as x + (start - x) u + (end - start) (1 - u / (rate dt)) with u = 1 - e^(-rate dt): a convex combination
    of x, start and end (so it stays between them), and x itself, exactly, when x = start = end.
    """
    a = rate * dt
    u = -np.expm1(-a)
    return x + (start - x) * u + (end - start) * (1.0 - u / a)


def hill(x, half: float, n: float = 1.0):
    """x^n / (x^n + half^n), 0 for x <= 0."""
    x = np.maximum(x, 0.0)
    xn = x**n
    return xn / (xn + half**n)
