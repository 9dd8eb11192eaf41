"""Checks for notebook 04 (hyper-parameter optimization): a log-uniform sampler, the grid, the EI formula.

Each check runs the student's function on small inputs and compares it with labkit.hpo (and the grid
with scikit-learn's ParameterGrid); it prints a tick or raises with a hint.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.model_selection import ParameterGrid

from . import call, expect, expect_close, expect_equal, passed
from ..hpo.acquisition import expected_improvement


def check_log_uniform(fn) -> None:
    """``fn(low, high, n, rng)`` must return n values whose log is uniform on [log low, log high]."""
    rng = np.random.default_rng(0)
    x = np.asarray(call(fn, 1e-5, 1e-1, 4000, rng, what="sample_log_uniform"), dtype=float)
    expect_equal(x.shape, (4000,), "an array of n = 4000 samples", "return one value per sample")
    expect(np.all((x >= 1e-5) & (x <= 1e-1)), "every sample in [low, high] = [1e-5, 1e-1]",
           "draw u in [0, 1) and map it; do not add noise afterwards")
    p_log = stats.kstest(np.log10(x), stats.uniform(-5, 4).cdf).pvalue
    expect(p_log > 1e-3, f"log10 of the samples to be uniform on [-5, -1] (KS p = {p_log:.2g})",
           "uniform in the value puts 90 % of the samples above 1e-2; take exp(log low + u (log high - log low))")
    share = np.mean(x < 1e-3)
    passed(f"sample_log_uniform: log10 uniform on [-5, -1]; {100 * share:.0f} % of samples below 1e-3 "
           "(a plain uniform draw would put 1 % there)")


def check_grid(fn) -> None:
    """``fn(values: dict name -> list)`` must return every combination as a list of dicts."""
    values = {"lr": [1e-3, 1e-2, 1e-1], "width": [32, 64], "optimizer": ["adam", "sgd"]}
    out = call(fn, {k: list(v) for k, v in values.items()}, what="make_grid")
    expect(isinstance(out, list) and all(isinstance(p, dict) for p in out), "a list of dicts",
           "one dict {name: value} per combination")
    expected = list(ParameterGrid(values))
    expect_equal(len(out), len(expected), "3 x 2 x 2 = 12 combinations", "itertools.product over the value lists")
    key = lambda p: tuple(sorted((k, repr(v)) for k, v in p.items()))  # noqa: E731
    expect(sorted(map(key, out)) == sorted(map(key, expected)), "the same sets as scikit-learn's ParameterGrid",
           "every combination exactly once, each dict naming every parameter")
    passed("make_grid: the same 12 sets as sklearn's ParameterGrid; 3 values for each of d parameters cost 3^d trials")


def check_expected_improvement(fn) -> None:
    """``fn(mean, std, best, xi)`` must return EI = (best - mean - xi) Phi(z) + std phi(z) elementwise."""
    rng = np.random.default_rng(1)
    mean, std, best = rng.normal(size=20), rng.uniform(0.05, 1.0, size=20), -0.2
    out = call(fn, mean.copy(), std.copy(), best, 0.01, what="expected_improvement")
    expect_equal(np.shape(out), (20,), "one score per candidate, shape (20,)", "work elementwise on the arrays")
    expect(np.all(np.asarray(out) >= -1e-12), "EI >= 0 everywhere",
           "an expected improvement cannot be negative: check the sign of z = (best - mean - xi) / std")
    expect_close(out, expected_improvement(mean, std, best, xi=0.01), "EI = (best - m - xi) Phi(z) + s phi(z)",
                 "use scipy.stats.norm.cdf for Phi and norm.pdf for phi; we minimise the error", rtol=1e-6, atol=1e-9)
    passed("expected_improvement: matches the closed form; it grows as the mean falls and as the sd grows")
