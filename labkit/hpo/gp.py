"""The Gaussian-process surrogate of Bayesian optimization: a belief about the validation error.

Given trials (x_i, y_i), i = 1..n, in the unit cube, a GP with kernel k predicts at a new point x

    mean(x) = k(x)^T (K + s_n^2 I)^{-1} y          var(x) = k(x, x) - k(x)^T (K + s_n^2 I)^{-1} k(x)

with K_ij = k(x_i, x_j) and k(x)_i = k(x, x_i). The kernel is Matern-5/2 with one length scale l_j per
dimension (automatic relevance determination: a parameter that does not matter gets a long l_j):

    r^2 = sum_j (x_j - x'_j)^2 / l_j^2,     k(x, x') = s^2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)

The amplitude s^2, the noise s_n^2 and the l_j maximise the log marginal likelihood

    log p(y | theta) = -1/2 y^T (K + s_n^2 I)^{-1} y - 1/2 log det(K + s_n^2 I) - n/2 log 2 pi,

plus, by default, a Gamma(3, 6) log prior on each length scale (mode 1/3 of the cube's width; BoTorch's
default prior): sum_j (a log l_j - b l_j) in theta_j = log l_j. Without it, 30 trials bunched in one basin
of Hartmann-6 made the likelihood call two parameters irrelevant (l = 13 and 7), the GP was then sure
that no other basin could be better, EI vanished there (1e-22) and the search never left a local minimum;
with it (seeds 100-109) one run fewer stayed trapped. The fit is L-BFGS-B from a fixed start and a few
random ones, with the exact gradient d log p / d theta = 1/2 tr((alpha alpha^T - K^{-1}) dK/d theta),
alpha = K^{-1} y (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", eqs. 2.25-2.26,
4.17, 5.9).

Why our own and not scikit-learn's GaussianProcessRegressor (the model skopt uses): the same model in
~100 lines a student can read next to these formulas, a fixed small cost (no input checks on each of
thousands of acquisition calls), and a fit that depends only on the data and the given generator, which
a resumed study needs to propose the same points again. tests/test_hpo_bayes.py checks it against
scikit-learn's on the same data. Used by bayes.py (notebook 04, benchmarks/hpo.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize

SQRT5 = np.sqrt(5.0)


@dataclass
class GPConfig:
    length_scale_bounds: tuple = (0.01, 100.0)   # in unit-cube widths; skopt uses (0.01, 100)
    amplitude_bounds: tuple = (0.01, 100.0)      # s^2, on standardised y
    noise_bounds: tuple = (1e-6, 0.1)            # s_n^2, on standardised y
    restarts: int = 2                            # random L-BFGS starts besides the fixed one
    max_iter: int = 100                          # L-BFGS iterations per start
    jitter: float = 1e-8                         # added to K's diagonal for a stable Cholesky
    length_scale_prior: tuple | None = (3.0, 6.0)  # Gamma(a, b) on each l_j: BoTorch's SingleTaskGP
                                                 # default up to v0.11; None: plain maximum likelihood


def matern52(A, B, length_scales, amplitude):
    """Matern-5/2 kernel matrix (len(A), len(B)) between point sets A (n, d) and B (m, d)."""
    diff = (A[:, None, :] - B[None, :, :]) / length_scales   # (n, m, d)
    r = np.sqrt(np.sum(diff ** 2, axis=-1))                  # (n, m)
    return amplitude * (1 + SQRT5 * r + 5 / 3 * r ** 2) * np.exp(-SQRT5 * r)


class GaussianProcess:
    """A GP regressor with a Matern-5/2 ARD kernel, fitted by maximum marginal likelihood.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((20, 2)); y = np.sin(6 * X[:, 0])
    >>> gp = GaussianProcess().fit(X, y, rng)
    >>> mean, std = gp.predict(X[:3])
    >>> bool(np.allclose(mean, y[:3], atol=1e-2)), bool(np.all(std < 0.05))
    (True, True)
    """

    def __init__(self, config: GPConfig | None = None):
        self.config = config or GPConfig()

    def fit(self, X, y, rng: np.random.Generator):
        X, y = np.asarray(X, float), np.asarray(y, float)   # (n, d), (n,)
        self.X_ = X
        self.y_mean_, self.y_std_ = y.mean(), (y.std() if y.std() > 0 else 1.0)
        z = (y - self.y_mean_) / self.y_std_                 # standardised targets
        n, d = X.shape
        diff2 = (X[:, None, :] - X[None, :, :]) ** 2          # (n, n, d)
        c = self.config
        bounds = np.log([c.length_scale_bounds] * d + [c.amplitude_bounds, c.noise_bounds])
        starts = [np.r_[np.full(d, np.log(0.5)), 0.0, np.log(1e-3)]]
        starts += [rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(c.restarts)]
        best = None
        for theta0 in starts:
            result = minimize(_neg_log_likelihood, theta0, args=(diff2, z, c.jitter, c.length_scale_prior), jac=True,
                              method="L-BFGS-B", bounds=bounds, options={"maxiter": c.max_iter})
            if best is None or result.fun < best.fun:
                best = result
        self.theta_ = best.x
        self.length_scales_ = np.exp(best.x[:d])
        self.amplitude_, self.noise_ = np.exp(best.x[d]), np.exp(best.x[d + 1])
        K = matern52(X, X, self.length_scales_, self.amplitude_) + (self.noise_ + c.jitter) * np.eye(n)
        self.L_ = cholesky(K, lower=True)
        self.alpha_ = cho_solve((self.L_, True), z)           # (K + s_n^2 I)^{-1} y
        return self

    def predict(self, X):
        """Posterior mean and standard deviation of the latent function at X (m, d), in y's units."""
        Ks = matern52(np.asarray(X, float), self.X_, self.length_scales_, self.amplitude_)  # (m, n)
        mean = Ks @ self.alpha_
        v = solve_triangular(self.L_, Ks.T, lower=True)       # (n, m)
        var = np.maximum(self.amplitude_ - np.sum(v ** 2, axis=0), 1e-12)
        return mean * self.y_std_ + self.y_mean_, np.sqrt(var) * self.y_std_


    def predict_gradient(self, x):
        """Mean, sd and their gradients (d,) at one point x (d,): what L-BFGS needs to polish a(x).

        dk(x, x_i)/dx_j = -5/3 s^2 (1 + sqrt5 r) exp(-sqrt5 r) (x_j - x_ij) / l_j^2, so
        dm/dx = dk^T alpha and dvar/dx = -2 k^T (K + s_n^2 I)^{-1} dk.

        >>> rng = np.random.default_rng(0)
        >>> gp = GaussianProcess().fit(rng.random((10, 2)), rng.random(10), rng)
        >>> mean, std, dmean, dstd = gp.predict_gradient(np.array([0.3, 0.6]))
        >>> dmean.shape, dstd.shape
        ((2,), (2,))
        """
        x = np.asarray(x, float)
        diff = (x[None, :] - self.X_) / self.length_scales_ ** 2      # (n, d)
        r = np.sqrt(np.sum(diff ** 2 * self.length_scales_ ** 2, axis=1))  # (n,)
        e = np.exp(-SQRT5 * r)
        k = self.amplitude_ * (1 + SQRT5 * r + 5 / 3 * r ** 2) * e      # (n,)
        dk = -5 / 3 * self.amplitude_ * ((1 + SQRT5 * r) * e)[:, None] * diff   # (n, d)
        v = solve_triangular(self.L_, k, lower=True)                   # (n,)
        dv = solve_triangular(self.L_, dk, lower=True)                 # (n, d)
        var = max(self.amplitude_ - v @ v, 1e-12)
        std = np.sqrt(var)
        dstd = -(v @ dv) / std if var > 1e-12 else np.zeros_like(x)    # d sqrt(var) = dvar / (2 sd)
        return (k @ self.alpha_ * self.y_std_ + self.y_mean_, std * self.y_std_,
                dk.T @ self.alpha_ * self.y_std_, dstd * self.y_std_)


def _neg_log_likelihood(theta, diff2, z, jitter, prior=None):
    """-log p(z | theta) - log p(theta) and its gradient in theta = (log l_1..l_d, log s^2, log s_n^2)."""
    n, _, d = diff2.shape
    length_scales, amplitude, noise = np.exp(theta[:d]), np.exp(theta[d]), np.exp(theta[d + 1])
    scaled = diff2 / length_scales ** 2                        # (n, n, d)
    r = np.sqrt(scaled.sum(-1))                                # (n, n)
    e = np.exp(-SQRT5 * r)
    K0 = amplitude * (1 + SQRT5 * r + 5 / 3 * r ** 2) * e
    K = K0 + (noise + jitter) * np.eye(n)
    try:
        L = cholesky(K, lower=True)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((L, True), z)
    nll = 0.5 * z @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * np.log(2 * np.pi)
    W = cho_solve((L, True), np.eye(n)) - np.outer(alpha, alpha)   # K^{-1} - alpha alpha^T
    dK_dlength = 5 / 3 * amplitude * (1 + SQRT5 * r) * e        # times scaled_j: dK / d log l_j
    grad = np.empty_like(theta)
    grad[:d] = 0.5 * np.einsum("ab,ab,abj->j", W, dK_dlength, scaled)
    grad[d] = 0.5 * np.sum(W * K0)                              # dK / d log s^2 = K0
    grad[d + 1] = 0.5 * noise * np.trace(W)                     # dK / d log s_n^2 = s_n^2 I
    if prior is not None:                                       # Gamma(a, b) on l_j, in theta_j = log l_j
        a, b = prior
        nll -= np.sum(a * theta[:d] - b * length_scales)
        grad[:d] -= a - b * length_scales
    return nll, grad
