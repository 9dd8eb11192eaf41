"""Bad input is answered at the boundary, with one message shape.

    The 'amount' parameter of prune must be a float in [0, 1). Got 1.5 instead.

Every public labkit function validates what a user passes with the helpers below and raises
:class:`ParameterError` (a ``ValueError``), so a student sees which parameter is wrong and what it
accepts instead of a stack trace from deep inside torch.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real


class ParameterError(ValueError):
    """A user-supplied parameter is outside what the function accepts."""


def fail(name: str, owner: str, accepts: str, value) -> ParameterError:
    """Build the one message shape; ``raise fail(...)`` at the call site."""
    return ParameterError(f"The {name!r} parameter of {owner} must be {accepts}. Got {value!r} instead.")


def check_type(value, types, name: str, owner: str, accepts: str):
    """Raise unless ``isinstance(value, types)``.

    >>> check_type(3, int, "epochs", "fit", "an int")
    3
    """
    if not isinstance(value, types):
        raise fail(name, owner, accepts, value)
    return value


def check_int(value, name: str, owner: str, *, low: int | None = None, high: int | None = None) -> int:
    """Raise unless ``value`` is an integer in ``[low, high]``.

    >>> check_int(5, "epochs", "fit", low=1)
    5
    """
    accepts = "an int" + _bounds_text(low, high, True, True)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise fail(name, owner, accepts, value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise fail(name, owner, accepts, value)
    return int(value)


def check_range(value, name: str, owner: str, low: float | None = None, high: float | None = None, *,
                low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Raise unless ``value`` is a finite real number inside the given interval.

    >>> check_range(0.5, "amount", "prune", 0.0, 1.0, high_inclusive=False)
    0.5
    """
    accepts = "a float" + _bounds_text(low, high, low_inclusive, high_inclusive)
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise fail(name, owner, accepts, value)
    v = float(value)
    too_low = low is not None and (v < low or (v == low and not low_inclusive))
    too_high = high is not None and (v > high or (v == high and not high_inclusive))
    if too_low or too_high:
        raise fail(name, owner, accepts, value)
    return v


def check_positive(value, name: str, owner: str) -> float:
    """Raise unless ``value`` is a finite float > 0.

    >>> check_positive(2.0, "temperature", "soft_targets")
    2.0
    """
    return check_range(value, name, owner, 0.0, None, low_inclusive=False)


def check_probability(value, name: str, owner: str) -> float:
    """Raise unless ``value`` is a float in [0, 1].

    >>> check_probability(0.25, "add_node_prob", "NEATConfig")
    0.25
    """
    return check_range(value, name, owner, 0.0, 1.0)


def check_choice(value, choices: Iterable, name: str, owner: str):
    """Raise unless ``value`` is one of ``choices``.

    >>> check_choice("adam", ("adam", "sgd"), "optimizer", "fit")
    'adam'
    """
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise fail(name, owner, f"one of {listed}", value)
    return value


def _bounds_text(low, high, low_inclusive, high_inclusive) -> str:
    if low is not None and high is not None:
        return f" in {'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
    if low is not None:
        return f" {'>=' if low_inclusive else '>'} {low}"
    if high is not None:
        return f" {'<=' if high_inclusive else '<'} {high}"
    return ""
