"""Claims about Bayesian optimization: our GP is scikit-learn's GP, the acquisitions are the textbook
formulas (checked against scikit-optimize's), and choosing points from past results beats random."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from labkit.hpo import BayesConfig, BayesSearch, GaussianProcess, GPConfig, RandomSearch, Uniform
from labkit.hpo.acquisition import expected_improvement, probability_of_improvement, upper_confidence_bound
from labkit.hpo.functions import Branin
from labkit.hpo.gp import _neg_log_likelihood, matern52


def test_matern52_equals_sklearn_kernel():
    rng = np.random.default_rng(0)
    A, B, ls = rng.random((5, 3)), rng.random((4, 3)), np.array([0.3, 1.0, 2.0])
    ours = matern52(A, B, ls, amplitude=1.7)
    theirs = (ConstantKernel(1.7) * Matern(length_scale=ls, nu=2.5))(A, B)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_likelihood_gradient_is_exact():
    rng = np.random.default_rng(1)
    X, z = rng.random((12, 3)), rng.standard_normal(12)
    diff2 = (X[:, None] - X[None]) ** 2
    theta = np.array([np.log(0.4), np.log(0.8), np.log(1.5), 0.3, np.log(1e-2)])
    for prior in (None, (3.0, 6.0)):
        numeric = _central(lambda t: _neg_log_likelihood(t, diff2, z, 1e-8, prior)[0], theta)
        np.testing.assert_allclose(_neg_log_likelihood(theta, diff2, z, 1e-8, prior)[1], numeric, rtol=1e-4, atol=1e-5)


def test_gp_posterior_equals_sklearn_with_the_same_hyperparameters():
    rng = np.random.default_rng(2)
    X = rng.random((15, 2))
    y = np.sin(5 * X[:, 0]) + X[:, 1] ** 2
    gp = GaussianProcess().fit(X, y, rng)
    z_std = y.std()
    kernel = (ConstantKernel(gp.amplitude_, "fixed") * Matern(gp.length_scales_, "fixed", nu=2.5)
              + WhiteKernel(gp.noise_ + gp.config.jitter, "fixed"))
    sk = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None).fit(X, y)
    Xs = rng.random((7, 2))
    mean, std = gp.predict(Xs)
    sk_mean, sk_std = sk.predict(Xs, return_std=True)
    np.testing.assert_allclose(mean, sk_mean, rtol=1e-6, atol=1e-8)
    # sklearn's std includes the white noise; ours is the latent function's
    np.testing.assert_allclose(std ** 2 + (gp.noise_ + gp.config.jitter) * z_std ** 2, sk_std ** 2, rtol=1e-5)


# the data are noise-free, so sklearn's noise level rightly ends at its lower bound, and it says so
@pytest.mark.filterwarnings("ignore:The optimal value found for dimension 0 of parameter k2__noise_level")
def test_gp_fit_is_at_least_as_likely_as_sklearn():
    rng = np.random.default_rng(3)
    X = rng.random((15, 2))
    y = np.cos(4 * X[:, 0]) * X[:, 1]
    gp = GaussianProcess(GPConfig(length_scale_prior=None)).fit(X, y, rng)   # maximum likelihood, as sklearn
    z = (y - y.mean()) / y.std()
    ours = -_neg_log_likelihood(gp.theta_, (X[:, None] - X[None]) ** 2, z, gp.config.jitter)[0]
    kernel = ConstantKernel(1.0, (0.01, 100)) * Matern(np.ones(2), (0.01, 100), nu=2.5) + WhiteKernel(1e-3, (1e-6, 0.1))
    sk = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1, random_state=0).fit(X, y)
    assert ours >= sk.log_marginal_likelihood_value_ - 0.5


def test_gp_gradient_is_exact():
    rng = np.random.default_rng(5)
    X = rng.random((25, 3))
    gp = GaussianProcess().fit(X, np.sin(4 * X[:, 0]) + X[:, 1] * X[:, 2], rng)
    x = rng.random(3)
    mean, std, dmean, dstd = gp.predict_gradient(x)
    np.testing.assert_allclose([mean, std], np.ravel(gp.predict(x[None])), rtol=1e-10)
    np.testing.assert_allclose(dmean, _central(lambda v: gp.predict(v[None])[0][0], x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dstd, _central(lambda v: gp.predict(v[None])[1][0], x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("acquisition", ["ei", "pi", "ucb"])
def test_polished_acquisition_gradient_is_exact(acquisition):
    rng = np.random.default_rng(6)
    X = rng.random((20, 2))
    search = BayesSearch({"a": Uniform(0, 1), "b": Uniform(0, 1)}, acquisition=acquisition)
    search._start()
    search.gp_ = GaussianProcess().fit(X, np.cos(5 * X[:, 0]) * X[:, 1], rng)
    negative = search._negative_acquisition(best=-0.3)
    x = np.array([0.4, 0.7])
    np.testing.assert_allclose(negative(x)[1], _central(lambda v: negative(v)[0], x), rtol=1e-4, atol=1e-8)


def _central(f, x, h=1e-6):
    """Central finite differences of a scalar f at x (error O(h^2), unlike forward differences' O(h))."""
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in h * np.eye(len(x))])


def test_ei_default_is_jones_ei_without_margin():
    mean, std = np.array([0.1, -0.2]), np.array([0.3, 0.5])
    search = BayesSearch({"x": Uniform(0, 1)})
    search._start()
    np.testing.assert_allclose(search.acquire(mean, std, 0.0), expected_improvement(mean, std, 0.0, xi=0.0))
    pi = BayesSearch({"x": Uniform(0, 1)}, acquisition="pi")
    pi._start()
    np.testing.assert_allclose(pi.acquire(mean, std, 0.0), probability_of_improvement(mean, std, 0.0, xi=0.01))


def test_acquisitions_match_scikit_optimize():
    skopt_acq = pytest.importorskip("skopt.acquisition")

    class Fixed:  # a "model" that returns the given mean and std, as skopt's functions expect
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def predict(self, X, return_std=True):
            return self.mean, self.std

    rng = np.random.default_rng(4)
    mean, std, best = rng.standard_normal(50), rng.random(50) + 0.1, -0.3
    model = Fixed(mean, std)
    X = np.zeros((50, 1))
    np.testing.assert_allclose(expected_improvement(mean, std, best, xi=0.01),
                               skopt_acq.gaussian_ei(X, model, y_opt=best, xi=0.01), rtol=1e-10)
    np.testing.assert_allclose(probability_of_improvement(mean, std, best, xi=0.01),
                               skopt_acq.gaussian_pi(X, model, y_opt=best, xi=0.01), rtol=1e-10)
    np.testing.assert_allclose(upper_confidence_bound(mean, std, kappa=1.96),
                               -skopt_acq.gaussian_lcb(X, model, kappa=1.96), rtol=1e-10)


def test_acquisition_invariants():
    mean, std = np.linspace(-1, 1, 9), np.full(9, 0.5)
    ei = expected_improvement(mean, std, best=0.0)
    assert np.all(ei >= 0) and np.all(np.diff(ei) < 0)             # lower mean, more improvement
    assert np.all(np.diff(expected_improvement(np.zeros(5), np.linspace(0.1, 2, 5), 0.0)) > 0)
    pi = probability_of_improvement(mean, std, best=0.0)
    assert np.all((0 <= pi) & (pi <= 1))


@pytest.mark.parametrize("acquisition", ["ei", "ucb"])   # PI is greedy and may stall: see notebook 04
def test_bayes_beats_random_on_branin(acquisition):
    f, config = Branin(), BayesConfig(n_initial=6, n_candidates=500, n_restarts=1, gp=GPConfig(restarts=1, max_iter=60))
    bo = [BayesSearch(f.space, acquisition=acquisition, config=config, seed=s).optimize(f, 20).best_value_
          for s in range(2)]
    rs = [RandomSearch(f.space, seed=s).optimize(f, 20).best_value_ for s in range(2)]
    assert np.median(bo) < np.median(rs)
    assert np.median(bo) - f.optimum < 0.2


def test_custom_acquisition_is_a_plain_function():
    f = Branin()
    greedy = lambda mean, std, best: -mean  # noqa: E731  pure exploitation
    bo = BayesSearch(f.space, acquisition=greedy, config=BayesConfig(n_initial=5, n_candidates=200, n_restarts=1,
                                                                     gp=GPConfig(restarts=0)),
                     seed=0).optimize(f, 8)
    assert len(bo.history_) == 8
