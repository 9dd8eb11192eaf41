"""Exercise checkers for the notebooks: one module per notebook, built on the helpers here.

A check either prints one line that starts with a tick and says what passed, or raises
:class:`ExerciseFailure` (an ``AssertionError``) whose message says what was expected, what came
out, and a hint. Checks compare a student's function with labkit's reference on small inputs, so the
same check works in the student's notebook, in the solution, and under the grader.
"""
from __future__ import annotations

import math

import numpy as np
import torch


class ExerciseFailure(AssertionError):
    """A student's answer does not do what the exercise asks."""


def passed(message: str) -> None:
    """Report a passed check."""
    print(f"\u2714 {message}")


def expect(condition: bool, what: str, hint: str = "") -> None:
    """Raise :class:`ExerciseFailure` unless ``condition``; ``what`` says what was expected."""
    if not condition:
        raise ExerciseFailure(f"Expected {what}." + (f" Hint: {hint}" if hint else ""))


def expect_close(actual, expected, what: str, hint: str = "", *, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Raise unless ``actual`` is numerically close to ``expected`` (numbers, arrays or tensors)."""
    a, e = _numpy(actual, what), _numpy(expected, what)
    if a.shape != e.shape:
        raise ExerciseFailure(f"Expected {what} with shape {e.shape}, got shape {a.shape}." + (f" Hint: {hint}" if hint else ""))
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False):
        diff = float(np.max(np.abs(a - e))) if a.size else 0.0
        shown = f"{e.item():.6g}, got {a.item():.6g}" if a.size == 1 else f"values within {rtol:g} (largest difference {diff:.3g})"
        raise ExerciseFailure(f"Expected {what}: {shown}." + (f" Hint: {hint}" if hint else ""))


def expect_equal(actual, expected, what: str, hint: str = "") -> None:
    """Raise unless ``actual == expected`` (for ints, strings, tuples)."""
    if actual != expected:
        raise ExerciseFailure(f"Expected {what}: {expected!r}, got {actual!r}." + (f" Hint: {hint}" if hint else ""))


def call(fn, *args, what: str = "your function", **kwargs):
    """Call a student's function; an unfinished exercise stops the notebook with a clear NotImplementedError."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise NotImplementedError(f"{what} is not written yet: replace the `raise NotImplementedError` line "
                                  "with your solution.") from None


def _numpy(x, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ExerciseFailure(f"Expected {what} as a number or array, got {type(x).__name__}.") from None
    if arr.size == 1 and not math.isfinite(float(arr.reshape(-1)[0])):
        raise ExerciseFailure(f"Expected {what} as a finite number, got {arr.reshape(-1)[0]}.")
    return arr
