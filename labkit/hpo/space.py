"""The search space: which hyper-parameters the wrapper may set, and over which ranges.

Lecture 6, "Гиперпараметры НС": parameters of the network that training does not set (layer sizes,
learning rate, weight decay, dropout). A search strategy proposes *sets of values* for them.

Every searcher in `labkit.hpo` works in the unit cube [0, 1]^d and the space maps a point u of the
cube to values and back, one dimension per parameter:

    uniform      x = low + u (high - low)
    log-uniform  x = exp(log low + u (log high - log low))    (learning rates, weight decay)
    integer      x = round(low - 1/2 + u (high - low + 1))      (each integer gets an equal share)
    categorical  x = choices[floor(u k)]                       (k choices, an equal share each)
    scipy.stats  x = dist.ppf(u)                                (any frozen distribution)

So a uniform draw of u is the prior the user wrote (Bergstra & Bengio 2012 sample the log of a learning
rate uniformly), and a grid of u values is the regular grid of the lecture.
Used by notebook 04 and by every searcher (grid.py, random.py, bayes.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.errors import fail


@dataclass(frozen=True)
class Uniform:
    """Real values, equally likely on [low, high].

    `limits` is how far a refining grid search may move past [low, high] (default: not at all).

    >>> Uniform(0.0, 0.5).from_unit(0.5)
    0.25
    """
    low: float
    high: float
    limits: tuple[float, float] | None = None

    def __post_init__(self):
        _check_bounds("Uniform", self.low, self.high)
        _check_limits("Uniform", self)

    def from_unit(self, u: float) -> float:
        return float(self.low + u * (self.high - self.low))

    def to_unit(self, x: float) -> float:
        return float((x - self.low) / (self.high - self.low))


@dataclass(frozen=True)
class LogUniform:
    """Positive real values whose logarithm is uniform on [log low, log high].

    >>> round(LogUniform(1e-4, 1e-2).from_unit(0.5), 6)
    0.001
    """
    low: float
    high: float
    limits: tuple[float, float] | None = None

    def __post_init__(self):
        for name in ("low", "high"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise fail(name, "LogUniform", "a finite float > 0", value)
        _check_bounds("LogUniform", self.low, self.high)
        _check_limits("LogUniform", self)
        if self.limits is not None and self.limits[0] <= 0:
            raise fail("limits", "LogUniform", "a pair of floats > 0", self.limits)

    def from_unit(self, u: float) -> float:
        log_low, log_high = math.log(self.low), math.log(self.high)
        return float(math.exp(log_low + u * (log_high - log_low)))

    def to_unit(self, x: float) -> float:
        return float((math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low)))


@dataclass(frozen=True)
class Integer:
    """Integers low, low + 1, ..., high, equally likely.

    >>> [Integer(1, 3).from_unit(u) for u in (0.0, 0.5, 1.0)]
    [1, 2, 3]
    """
    low: int
    high: int
    limits: tuple[int, int] | None = None

    def __post_init__(self):
        for name in ("low", "high"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise fail(name, "Integer", "an int", value)
        _check_bounds("Integer", self.low, self.high)
        _check_limits("Integer", self)

    def from_unit(self, u: float) -> int:
        x = round(self.low - 0.5 + u * (self.high - self.low + 1))
        if 0 <= u <= 1:  # the cube's faces round half a step past the ends; outside, a refining grid moves on
            x = min(max(x, self.low), self.high)
        return int(x)

    def to_unit(self, x: float) -> float:
        return float((x - self.low + 0.5) / (self.high - self.low + 1))


@dataclass(frozen=True)
class Categorical:
    """One of a few unordered choices, equally likely.

    >>> Categorical(["adam", "sgd"]).from_unit(0.9)
    'sgd'
    """
    choices: tuple = field(default_factory=tuple)
    limits = None

    def __post_init__(self):
        if isinstance(self.choices, (str, bytes)) or len(self.choices) == 0:
            raise fail("choices", "Categorical", "a non-empty list of values", self.choices)
        object.__setattr__(self, "choices", tuple(self.choices))

    def from_unit(self, u: float) -> Any:
        k = len(self.choices)
        return self.choices[min(int(u * k), k - 1)]

    def to_unit(self, x: Any) -> float:
        return (self.choices.index(x) + 0.5) / len(self.choices)


@dataclass(frozen=True)
class Distribution:
    """A frozen scipy.stats distribution, mapped through its inverse CDF.

    >>> from scipy import stats
    >>> round(Distribution(stats.uniform(0, 2)).from_unit(0.25), 3)
    0.5
    """
    dist: Any
    limits = None

    def from_unit(self, u: float) -> float:
        u = min(max(u, 1e-12), 1 - 1e-12)  # ppf(0), ppf(1) are infinite for unbounded laws
        value = self.dist.ppf(u)
        return int(value) if np.issubdtype(np.asarray(value).dtype, np.integer) else float(value)

    def to_unit(self, x: float) -> float:
        return float(self.dist.cdf(x))


PARAMETER_KINDS = (Uniform, LogUniform, Integer, Categorical, Distribution)


class Space:
    """An ordered set of named hyper-parameters, mapped to the unit cube.

    Values are parameter objects, lists (categorical) or frozen scipy.stats distributions.
    Names are kept sorted, the order scikit-learn's ParameterGrid uses.

    >>> space = Space({"lr": LogUniform(1e-4, 1e-1), "width": Integer(16, 256)})
    >>> space.names, space.dim
    (['lr', 'width'], 2)
    >>> space.from_unit([0.5, 1.0])
    {'lr': 0.003162277660168382, 'width': 256}
    """

    def __init__(self, params: dict):
        if not isinstance(params, dict) or len(params) == 0:
            raise fail("params", "Space", "a non-empty dict of name -> parameter", params)
        self.params = {name: _as_parameter(name, params[name]) for name in sorted(params)}
        self.names = list(self.params)
        self.dim = len(self.names)

    def from_unit(self, u) -> dict:
        """Values of the point u (d,) of the unit cube."""
        return {name: p.from_unit(float(ui)) for (name, p), ui in zip(self.params.items(), u)}

    def to_unit(self, values: dict) -> np.ndarray:
        """The point (d,) of the unit cube for a dict of values."""
        return np.array([p.to_unit(values[name]) for name, p in self.params.items()])

    def sample(self, rng: np.random.Generator) -> dict:
        """One set of values drawn from the prior (the random search of the lecture)."""
        return self.from_unit(rng.random(self.dim))

    def __repr__(self):
        return f"Space({self.params!r})"


def _as_parameter(name, value):
    if isinstance(value, PARAMETER_KINDS):
        return value
    if isinstance(value, (list, tuple)):
        return Categorical(value)
    if hasattr(value, "ppf") and hasattr(value, "cdf"):
        return Distribution(value)
    raise fail(name, "Space", "Uniform, LogUniform, Integer, Categorical, a list or a scipy.stats "
         "distribution", value)


def _check_bounds(owner, low, high):
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise fail(name, owner, "a finite number", value)
    if not low < high:
        raise fail("low", owner, f"a number below high={high}", low)


def _check_limits(owner, p):
    if p.limits is None:
        return
    ok = (isinstance(p.limits, (tuple, list)) and len(p.limits) == 2
          and p.limits[0] <= p.low and p.high <= p.limits[1])
    if not ok:
        raise fail("limits", owner, f"a pair (lo, hi) with lo <= {p.low} and hi >= {p.high}", p.limits)
