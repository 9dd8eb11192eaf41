"""Grid search with coarse-to-fine refinement.

Lecture 6, "Регулярное формирование наборов значений гиперпараметров": choose a fixed number of values
of each hyper-parameter and try every combination; then search again on a finer grid where the results
look good, and past the edge of the interval when the best value lies on it. Cost: `levels ** d` trials
per round, exponential in the number of parameters d; effective for a few parameters; every trial of a
round runs in parallel.

Round 0 is the product of `levels` values per parameter (all choices of a categorical one), the same
sets and the same order as scikit-learn's `ParameterGrid`. Round k + 1, in the unit cube of space.py:

    1: x* <- the best trial so far; c <- its coordinates
    2: for each numeric dimension with window [c_k - h_k, c_k + h_k]:
    3:     if c lies on the window's edge and the parameter's `limits` reach past it:
    4:         h_{k+1} <- h_k                       # move the window past the edge, same step
    5:     else:
    6:         h_{k+1} <- shrink * h_k              # a finer grid around the best point
    7:     window <- [c - h_{k+1}, c + h_{k+1}] clipped to the limits; `levels` values in it
    8: categorical parameters keep the best choice; points tried before are not tried again

No library ships this (HPO trackers ask for it: ANCHORS.md); Bergstra & Bengio (2012) explain why the
plain grid loses to random search when few parameters matter. Used by notebook 04, benchmarks/hpo.py.
"""
from __future__ import annotations

import itertools

import numpy as np

from labkit.errors import fail
from labkit.hpo.space import Categorical, Integer
from labkit.hpo.study import Searcher


class GridSearch(Searcher):
    """A grid of `levels` values per parameter, refined around the best point for `rounds` rounds.

    `rounds=None` refines until the budget is spent; `shrink` is the window's factor per round.

    >>> from labkit.hpo import Integer, LogUniform
    >>> grid = GridSearch({"lr": LogUniform(1e-3, 1e-1), "width": Integer(8, 32)}, levels=3)
    >>> {name: [round(v, 6) for v in values] for name, values in grid.grid_values().items()}
    {'lr': [0.001, 0.01, 0.1], 'width': [8, 20, 32]}
    >>> grid.optimize(lambda p: abs(p["width"] - 20) + p["lr"], budget=12).best_params_["width"]
    20
    """

    def __init__(self, space, levels: int = 3, rounds: int | None = None, shrink: float = 0.5,
                 seed: int | None = None, log=None):
        super().__init__(space, seed=seed, log=log)
        self.levels = levels
        self.rounds = rounds
        self.shrink = shrink

    def _validate(self):
        if not isinstance(self.levels, (int, np.integer)) or isinstance(self.levels, bool) or self.levels < 2:
            raise fail("levels", "GridSearch", "an int >= 2", self.levels)
        if self.rounds is not None and (not isinstance(self.rounds, (int, np.integer)) or self.rounds < 1):
            raise fail("rounds", "GridSearch", "an int >= 1 or None", self.rounds)
        if not isinstance(self.shrink, (int, float)) or not 0 < self.shrink < 1:
            raise fail("shrink", "GridSearch", "a float in (0, 1)", self.shrink)
        self._rounds = []     # round k: list of unit points
        self._windows = []    # round k: per dimension (low, high) in the unit cube
        self._finished = False

    def grid_values(self) -> dict:
        """Round 0 as a dict name -> list of values, the input scikit-learn's ParameterGrid takes."""
        self._start()
        window = [(0.0, 1.0)] * self.space_.dim
        values = self._axis_values(window, centre=None)
        return {name: [p.from_unit(u) for u in axis]
                for (name, p), axis in zip(self.space_.params.items(), values)}

    def _min_budget(self):
        self._start()
        n = len(self._round_zero())
        return n, f"one full grid of {n} points"

    def _suggest(self, number, rng):
        self._add_rounds(number)
        start = 0
        for points in self._rounds:
            if number < start + len(points):
                return points[number - start]
            start += len(points)
        return None  # waiting for this round's results, or refined to the end

    def _iteration(self, number):
        start = 0
        for k, points in enumerate(self._rounds):
            start += len(points)
            if number < start:
                return k
        return len(self._rounds)

    # --- rounds --------------------------------------------------------------------------------
    def _round_zero(self):
        if not self._rounds:
            window = [(0.0, 1.0)] * self.space_.dim
            self._rounds.append(_product(self._axis_values(window, centre=None)))
            self._windows.append(window)
        return self._rounds[0]

    def _add_rounds(self, number):
        """Compute the next round once every trial of the last one has finished."""
        self._round_zero()
        while not self._finished and number >= sum(map(len, self._rounds)):
            asked = self.trials_[:number]
            if any(t.state == "running" for t in asked):
                return
            if self.rounds is not None and len(self._rounds) >= self.rounds:
                self._finished = True
                return
            self._refine(asked)

    def _refine(self, trials):
        complete = [t for t in trials if t.state == "complete"]
        if not complete:
            self._finished = True
            return
        best = min(complete, key=lambda t: (t.value, t.number))                    # 1: x*
        centre = np.array(best.unit)                                                # 1: c
        tried = {_key(t.unit) for t in trials}
        window = self._windows[-1]
        for _ in range(30):  # shrink until the round holds points not tried before
            window = self._next_window(window, self._rounds[-1], centre)           # 2-7
            points = [u for u in _product(self._axis_values(window, centre)) if _key(u) not in tried]
            if points:
                self._rounds.append(points)
                self._windows.append(window)
                return
        self._finished = True

    def _next_window(self, window, points, centre):
        new = []
        for j, (name, p) in enumerate(self.space_.params.items()):
            if isinstance(p, Categorical):
                new.append(window[j])
                continue
            lo_limit, hi_limit = _unit_limits(p)
            axis = [u[j] for u in points] or [centre[j]]
            half = (window[j][1] - window[j][0]) / 2
            on_low = np.isclose(centre[j], min(axis)) and window[j][0] - 1e-9 > lo_limit   # 3
            on_high = np.isclose(centre[j], max(axis)) and window[j][1] + 1e-9 < hi_limit
            if not (on_low or on_high):
                half *= self.shrink                                                           # 6
            new.append((max(centre[j] - half, lo_limit), min(centre[j] + half, hi_limit)))   # 7
        return new

    def _axis_values(self, window, centre):
        axes = []
        for j, p in enumerate(self.space_.params.values()):
            if isinstance(p, Categorical):
                k = len(p.choices)
                axes.append([(i + 0.5) / k for i in range(k)] if centre is None else [centre[j]])
                continue
            axis = np.linspace(window[j][0], window[j][1], self.levels)
            if isinstance(p, Integer):  # distinct integers only, at their canonical coordinate
                axis = sorted({p.to_unit(p.from_unit(u)) for u in axis})
            axes.append([float(u) for u in axis])
        return axes


def _product(axes):
    """All combinations, the last parameter changing fastest (ParameterGrid's order)."""
    return [list(point) for point in itertools.product(*axes)]


def _key(unit):
    return tuple(np.round(unit, 9))


def _unit_limits(p):
    if getattr(p, "limits", None) is None:
        return 0.0, 1.0
    lo, hi = p.limits
    if isinstance(p, Integer):
        return p.to_unit(lo) - 0.5 / (p.high - p.low + 1), p.to_unit(hi) + 0.5 / (p.high - p.low + 1)
    return p.to_unit(lo), p.to_unit(hi)
