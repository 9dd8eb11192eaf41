"""Test functions for hyper-parameter search: cheap stand-ins for "train and return the validation error".

A real wrapper call trains a network for minutes; these take microseconds, so a benchmark can run many
seeds and compare strategies by *simple regret* r = f(x_best) - f*, the gap between the best value
found and the known optimum f* (Surjanovic & Bingham's Virtual Library of Simulation Experiments gives
the definitions and optima used here):

    Branin      2-D, three global minima, f* = 0.397887
    Hartmann-6  6-D, four local minima, f* = -3.32237
    Ackley      d-D, many shallow local minima around one deep one, f* = 0 at the origin
    EmbeddedBranin  Branin in 2 of D dimensions; the others do not matter (low effective
                    dimensionality, Bergstra & Bengio 2012: the reason random beats grid)

Each function is a picklable object with a `space` (for the searchers), an `optimum` f* and
`__call__(params: dict) -> float`, so it can go to a process pool or a Dask worker as is.
Used by notebook 04, benchmarks/hpo.py and the tests.
"""
from __future__ import annotations

import math

import numpy as np

from labkit.errors import fail
from labkit.hpo.space import Space, Uniform


class Branin:
    """f(x0, x1) = a (x1 - b x0^2 + c x0 - r)^2 + s (1 - t) cos x0 + s on [-5, 10] x [0, 15].

    >>> round(Branin()({"x0": math.pi, "x1": 2.275}), 5)
    0.39789
    """
    optimum = 0.397887

    def __init__(self):
        self.space = Space({"x0": Uniform(-5.0, 10.0), "x1": Uniform(0.0, 15.0)})

    def __call__(self, params: dict) -> float:
        x0, x1 = params["x0"], params["x1"]
        a, b, c = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi
        r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
        return float(a * (x1 - b * x0 ** 2 + c * x0 - r) ** 2 + s * (1 - t) * math.cos(x0) + s)


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


class Hartmann6:
    """f(x) = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2) on [0, 1]^6.

    >>> x = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    >>> round(Hartmann6()({f"x{j}": v for j, v in enumerate(x)}), 4)
    -3.3224
    """
    optimum = -3.32237

    def __init__(self):
        self.space = Space({f"x{j}": Uniform(0.0, 1.0) for j in range(6)})

    def __call__(self, params: dict) -> float:
        x = np.array([params[f"x{j}"] for j in range(6)])  # (6,)
        return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


class Ackley:
    """f(x) = -20 exp(-0.2 sqrt(mean x^2)) - exp(mean cos 2 pi x) + 20 + e on [-32.768, 32.768]^d.

    >>> round(Ackley(3)({"x0": 0.0, "x1": 0.0, "x2": 0.0}), 12)
    0.0
    """
    optimum = 0.0

    def __init__(self, dim: int = 2):
        if not isinstance(dim, int) or dim < 1:
            raise fail("dim", "Ackley", "an int >= 1", dim)
        self.dim = dim
        self.space = Space({f"x{j}": Uniform(-32.768, 32.768) for j in range(dim)})

    def __call__(self, params: dict) -> float:
        x = np.array([params[f"x{j}"] for j in range(self.dim)])  # (d,)
        return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x ** 2)))
                     - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + math.e)


class EmbeddedBranin:
    """Branin of x0, x1 plus `extra` dimensions z0, z1, ... on [0, 1] that change nothing.

    >>> f = EmbeddedBranin(extra=3)
    >>> f.space.dim, f({"x0": math.pi, "x1": 2.275, "z0": 0.1, "z1": 0.9, "z2": 0.5}) == Branin()({"x0": math.pi, "x1": 2.275})
    (5, True)
    """
    optimum = Branin.optimum

    def __init__(self, extra: int = 8):
        if not isinstance(extra, int) or extra < 0:
            raise fail("extra", "EmbeddedBranin", "an int >= 0", extra)
        self.extra = extra
        self._branin = Branin()
        self.space = Space({**self._branin.space.params, **{f"z{j}": Uniform(0.0, 1.0) for j in range(extra)}})

    def __call__(self, params: dict) -> float:
        return self._branin(params)
