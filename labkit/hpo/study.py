"""The search loop every strategy shares: ask, evaluate, tell; a trial log; parallel workers.

Lecture 6, "Автоматический поиск значений гиперпараметров": a *wrapper* tries sets of hyper-parameter
values and keeps the one with the lowest validation error; it has hyper-parameters of its own (the
strategy, the budget, the number of workers). The loop is the same for grid, random and Bayesian search:

    1: for number = 0, 1, ..., budget - 1:
    2:     x <- searcher.ask()              # the strategy proposes a set of values
    3:     y <- objective(x)                # train on the training split, validation error
    4:     searcher.tell(x, y)              # the strategy learns from the result
    5: return the x with the lowest y

A strategy is one method, `_suggest(number, rng) -> point of the unit cube` (or None while it waits for
results, as a grid round does); everything else lives here:

* ask/tell, so a notebook can keep its own training loop in view (as Optuna's ask-and-tell does);
* `optimize(objective, budget, executor=...)` keeps `n_jobs` evaluations in flight on any
  `concurrent.futures.Executor` (a process pool) or a `dask.distributed.Client`;
* an objective that raises or returns NaN marks its trial failed, and the search goes on;
* an append-only JSON-lines log: a study built again on the same log resumes where it stopped, without
  evaluating finished trials again. Each suggestion draws from `rng = default_rng([seed, number])` and
  sees only the trials before it, so a resumed sequential study proposes exactly the points an
  uninterrupted one would have;
* the results: `history_` (a pandas table: number, iteration, parameters, value, state, seconds),
  `best_params_`, `best_value_` and `trace_`, the best value so far after each trial.
Used by notebook 04 and benchmarks/hpo.py.
"""
from __future__ import annotations

import json
import math
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

import numpy as np

from labkit.errors import fail
from labkit.hpo.space import Space


@dataclass
class Trial:
    """One set of hyper-parameter values and what its evaluation gave."""
    number: int
    params: dict
    unit: list          # the same point in the unit cube, (d,)
    iteration: int      # the strategy's step: the grid's refinement round, else the number
    value: float = math.nan
    state: str = "running"          # running | complete | failed
    seconds: float = math.nan       # time the objective took
    suggest_seconds: float = 0.0    # time the strategy took to propose it
    error: str | None = None


class Searcher:
    """Base of GridSearch, RandomSearch and BayesSearch. Subclasses write `_suggest`.

    >>> from labkit.hpo import RandomSearch, Uniform
    >>> s = RandomSearch({"x": Uniform(-1, 1)}, seed=0)
    >>> trial = s.ask()
    >>> s.tell(trial, trial.params["x"] ** 2)
    >>> len(s.history_), s.best_value_ >= 0
    (1, True)
    """

    def __init__(self, space, seed: int | None = None, log: str | os.PathLike | None = None):
        self.space = space
        self.seed = seed
        self.log = log

    # --- the extension point -------------------------------------------------------------------
    def _suggest(self, number: int, rng: np.random.Generator):
        """The unit-cube point (d,) of trial `number`, or None to wait for running trials."""
        raise NotImplementedError

    def _iteration(self, number: int) -> int:
        return number

    def _min_budget(self) -> tuple[int, str]:
        """The smallest budget that makes sense, and why (the initial design)."""
        return 1, "one trial"

    def _validate(self):
        """Check the strategy's own arguments and set up its state (once, before the first suggestion)."""

    # --- ask / tell ----------------------------------------------------------------------------
    def ask(self) -> Trial | None:
        """Propose the next trial (None while the strategy waits for running trials)."""
        self._start()
        if self._requeued:  # asked before an interruption and never told: run them first
            return self._requeued.pop(0)
        number = len(self.trials_)
        started = time.perf_counter()
        unit = self._suggest(number, np.random.default_rng([self.seed_, number]))
        if unit is None:
            return None
        unit = [float(u) for u in unit]
        trial = Trial(number, self.space_.from_unit(unit), unit, self._iteration(number),
                      suggest_seconds=time.perf_counter() - started)
        self.trials_.append(trial)
        self._write({"event": "ask", "number": number, "params": trial.params, "unit": unit,
                     "iteration": trial.iteration, "suggest_seconds": trial.suggest_seconds})
        return trial

    def tell(self, trial: Trial | int, value: float, seconds: float = math.nan,
             error: str | None = None) -> None:
        """Record the objective's value for a trial; NaN, inf or an error mark it failed."""
        self._start()
        number = trial.number if isinstance(trial, Trial) else trial
        if not (isinstance(number, (int, np.integer)) and 0 <= number < len(self.trials_)
                and self.trials_[number].state == "running"):
            raise fail("trial", "tell", "a trial returned by ask and not told yet", number)
        trial = self.trials_[number]
        try:
            value = float(value)
        except (TypeError, ValueError):
            error, value = error or f"the objective returned {value!r}, not a number", math.nan
        if error is None and not math.isfinite(value):
            error = f"the objective returned {value}"
        trial.value, trial.seconds, trial.error = value, float(seconds), error
        trial.state = "failed" if error else "complete"
        self._write({"event": "tell", "number": number, "value": value if math.isfinite(value) else None,
                     "state": trial.state, "seconds": trial.seconds, "error": error})

    # --- the loop ------------------------------------------------------------------------------
    def optimize(self, objective, budget: int, executor=None, n_jobs: int | None = None,
                 progress: bool = False):
        """Evaluate trials until the study holds `budget` finished ones; returns self.

        `executor`: None (here, one at a time), a `concurrent.futures.Executor` or a
        `dask.distributed.Client`; `n_jobs` trials stay in flight (default: the executor's workers).

        >>> from labkit.hpo import RandomSearch
        >>> from labkit.hpo.functions import Branin
        >>> f = Branin()
        >>> RandomSearch(f.space, seed=0).optimize(f, budget=20).best_value_ < 10
        True
        """
        self._start()
        least, why = self._min_budget()
        if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool) or budget < least:
            raise fail("budget", f"{type(self).__name__}.optimize", f"an int >= {least} ({why})", budget)
        executor, n_jobs = _as_executor(executor, n_jobs)
        bar = _progress_bar(progress, budget, self.n_finished_)
        in_flight = {}  # future -> trial
        while self.n_finished_ < budget:
            waiting = False
            while len(in_flight) < n_jobs and self.n_finished_ + len(in_flight) < budget:
                trial = self.ask()
                if trial is None:
                    waiting = True
                    break
                if executor is None:
                    self._tell_result(trial, _evaluate(objective, trial.params), bar)
                else:
                    in_flight[executor.submit(_evaluate, objective, trial.params)] = trial
            if not in_flight:
                if waiting:
                    break  # nothing running and nothing left to propose (a finished grid)
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                self._tell_result(in_flight.pop(future), future.result(), bar)
        if bar is not None:
            bar.close()
        return self

    def _tell_result(self, trial, result, bar):
        value, seconds, error = result
        self.tell(trial, value, seconds, error)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=self.best_value_)

    # --- results -------------------------------------------------------------------------------
    @property
    def n_finished_(self) -> int:
        return sum(t.state != "running" for t in getattr(self, "trials_", []))

    @property
    def history_(self):
        """The results table: one row per trial (pandas.DataFrame)."""
        import pandas as pd
        self._start()
        rows = [{"number": t.number, "iteration": t.iteration, **t.params, "value": t.value,
                 "state": t.state, "seconds": t.seconds, "suggest_seconds": t.suggest_seconds}
                for t in self.trials_]
        columns = ["number", "iteration", *self.space_.names, "value", "state", "seconds", "suggest_seconds"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def trace_(self) -> np.ndarray:
        """Best value so far after each finished trial, in trial order (nan before the first success)."""
        self._start()
        values = np.array([t.value for t in self.trials_ if t.state != "running"], dtype=float)
        return np.fmin.accumulate(values) if len(values) else values

    @property
    def best_trial_(self) -> Trial:
        complete = [t for t in getattr(self, "trials_", []) if t.state == "complete"]
        if not complete:
            raise AttributeError("no trial has completed yet: call optimize or tell first")
        return min(complete, key=lambda t: (t.value, t.number))

    @property
    def best_params_(self) -> dict:
        return self.best_trial_.params

    @property
    def best_value_(self) -> float:
        return self.best_trial_.value

    # --- start and resume ----------------------------------------------------------------------
    def _start(self):
        if hasattr(self, "trials_"):
            return
        self.space_ = self.space if isinstance(self.space, Space) else Space(self.space)
        if self.seed is not None and not (isinstance(self.seed, (int, np.integer)) and self.seed >= 0):
            raise fail("seed", type(self).__name__, "an int >= 0 or None", self.seed)
        self._validate()
        self.trials_, self._requeued = [], []
        self.seed_ = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        if self.log is not None:
            self._resume()

    def _resume(self):
        header = {"event": "study", "searcher": type(self).__name__, "space": self.space_.names}
        events = _read_log(self.log)
        if not events:
            self._write({**header, "seed": self.seed_})
            return
        first = events[0]
        same = first.get("searcher") == header["searcher"] and first.get("space") == header["space"]
        if not same or (self.seed is not None and first.get("seed") != self.seed):
            raise fail("log", type(self).__name__, f"a log of a {header['searcher']} over {header['space']} "
                 f"with seed {self.seed}", f"{self.log} ({first.get('searcher')} over "
                 f"{first.get('space')}, seed {first.get('seed')})")
        self.seed_ = first["seed"]
        for event in events[1:]:
            if event["event"] == "ask":
                self.trials_.append(Trial(event["number"], event["params"], event["unit"],
                                          event["iteration"], suggest_seconds=event["suggest_seconds"]))
            elif event["event"] == "tell":
                trial = self.trials_[event["number"]]
                value = event["value"] if event["value"] is not None else math.nan
                trial.value, trial.state = value, event["state"]
                trial.seconds, trial.error = event["seconds"], event["error"]
        self._requeued = [t for t in self.trials_ if t.state == "running"]

    def _write(self, event: dict):
        if self.log is None:
            return
        # one line per event, flushed to disk before going on: a crash loses at most the running trials
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.endswith("_") and not k.startswith("_") and k != "space")
        return f"{type(self).__name__}({args})"


def _evaluate(objective, params):
    """Run the objective in a worker: (value, seconds, error message or None)."""
    started = time.perf_counter()
    try:
        value, error = objective(params), None
    except Exception as exc:  # a failed trial is a result, not the end of the study
        value = math.nan
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return value, time.perf_counter() - started, error


def _read_log(path) -> list[dict]:
    if not os.path.exists(path):
        return []
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line torn by a crash ends the log
    return events


def _as_executor(executor, n_jobs):
    if hasattr(executor, "get_executor") and hasattr(executor, "nthreads"):  # a dask.distributed.Client
        n_jobs = n_jobs or sum(executor.nthreads().values())
        executor = executor.get_executor(pure=False)
    elif executor is not None and not hasattr(executor, "submit"):
        raise fail("executor", "optimize", "None, a concurrent.futures.Executor or a dask.distributed.Client",
             executor)
    if n_jobs is None:
        n_jobs = getattr(executor, "_max_workers", 1) if executor is not None else 1
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise fail("n_jobs", "optimize", "an int >= 1 or None", n_jobs)
    return executor, int(n_jobs)


def _progress_bar(progress, budget, done):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=budget, initial=done, desc="trials")
