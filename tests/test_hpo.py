"""Claims of the lecture's HPO slides, checked: the grid is scikit-learn's grid, refinement searches
finer and past the edge, random search tests more distinct values of the parameter that matters, the
study resumes after a crash, failures do not stop it, workers run in parallel, bad input is answered."""
from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import ParameterGrid

from labkit.errors import ParameterError
from labkit.hpo import (BayesConfig, BayesSearch, Categorical, GPConfig, GridSearch, Integer, LogUniform,
                        RandomSearch, Space, Uniform)
from labkit.hpo.functions import Ackley, Branin, EmbeddedBranin, Hartmann6

SPACE = {"lr": LogUniform(1e-4, 1e-1), "width": Integer(16, 128), "dropout": Uniform(0.0, 0.5),
         "opt": Categorical(["adam", "sgd"])}
FAST_BO = BayesConfig(n_initial=5, n_candidates=300, n_restarts=1, gp=GPConfig(restarts=0, max_iter=50))


def quadratic(params):
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.7) ** 2


# --- the space ---------------------------------------------------------------------------------
def test_unit_cube_round_trip():
    space = Space(SPACE)
    values = {"lr": 1e-3, "width": 40, "dropout": 0.2, "opt": "sgd"}
    assert space.from_unit(space.to_unit(values)) == pytest.approx(values)


def test_log_uniform_sampling_is_uniform_in_the_log():
    space = Space({"lr": LogUniform(1e-4, 1e-0)})
    rng = np.random.default_rng(0)
    logs = np.log10([space.sample(rng)["lr"] for _ in range(4000)])
    assert stats.kstest(logs, stats.uniform(-4, 4).cdf).pvalue > 0.01


def test_integer_values_are_equally_likely():
    counts = np.bincount([Integer(1, 4).from_unit(u) for u in np.linspace(0, 1, 4000)], minlength=5)
    assert counts[0] == 0 and np.ptp(counts[1:]) <= 2


def test_scipy_distributions_are_accepted():
    space = Space({"a": stats.norm(3, 1)})
    assert space.from_unit([0.5])["a"] == pytest.approx(3.0)


# --- grid --------------------------------------------------------------------------------------
def test_grid_equals_sklearn_parameter_grid():
    grid = GridSearch(SPACE, levels=3)
    values = grid.grid_values()
    expected = list(ParameterGrid(values))
    ours = []
    while (trial := grid.ask()) is not None and trial.iteration == 0:
        ours.append(trial.params)
        grid.tell(trial, 0.0)
    assert len(ours) == 3 * 3 * 3 * 2 == len(expected)
    assert ours == expected


def test_grid_cost_grows_exponentially_with_dimension():
    for d in (1, 2, 3, 4):
        grid = GridSearch({f"p{j}": Uniform(0, 1) for j in range(d)}, levels=3)
        assert grid._min_budget()[0] == 3 ** d


def test_refinement_searches_a_finer_grid_around_the_best_point():
    grid = GridSearch({"x": Uniform(0, 1), "y": Uniform(0, 1)}, levels=3).optimize(quadratic, budget=40)
    h = grid.history_
    assert h.iteration.max() >= 2
    step = [np.diff(np.unique(h[h.iteration == k].x)).min() for k in (0, 1)]
    assert step[1] < step[0]
    assert grid.best_value_ < quadratic({"x": 0.25, "y": 0.75}) + 1e-12   # better than any coarse point


def test_refinement_moves_past_a_boundary_when_limits_allow():
    space = {"lr": LogUniform(1e-4, 1e-2, limits=(1e-6, 1.0))}
    grid = GridSearch(space, levels=3).optimize(lambda p: (math.log10(p["lr"]) + 0.5) ** 2, budget=12)
    assert grid.history_.lr.max() > 1e-2
    assert grid.best_params_["lr"] == pytest.approx(10 ** -0.5, rel=0.35)
    fixed = GridSearch({"lr": LogUniform(1e-4, 1e-2)}, levels=3)
    fixed.optimize(lambda p: (math.log10(p["lr"]) + 0.5) ** 2, budget=12)
    assert fixed.history_.lr.max() <= 1e-2 * (1 + 1e-9)


def test_grid_never_repeats_a_point():
    grid = GridSearch({"x": Uniform(0, 1), "n": Integer(1, 3)}, levels=3).optimize(
        lambda p: (p["x"] - 0.5) ** 2 + p["n"], budget=30)
    h = grid.history_
    assert not h.duplicated(["x", "n"]).any()


# --- random vs grid: low effective dimensionality (Bergstra & Bengio 2012) ------------------------
def test_random_tests_more_distinct_values_of_the_parameter_that_matters():
    space = {"important": Uniform(0, 1), "unimportant": Uniform(0, 1)}
    grid = GridSearch(space, levels=3).optimize(lambda p: (p["important"] - 0.37) ** 2, budget=9)
    rand = RandomSearch(space, seed=0).optimize(lambda p: (p["important"] - 0.37) ** 2, budget=9)
    assert grid.history_.important.nunique() == 3 and rand.history_.important.nunique() == 9


def test_random_search_reproducible_from_its_seed():
    f = Branin()
    a = RandomSearch(f.space, seed=3).optimize(f, 10).history_
    b = RandomSearch(f.space, seed=3).optimize(f, 10).history_
    assert a[["x0", "x1", "value"]].equals(b[["x0", "x1", "value"]])


# --- the study: failures, resume, parallel -----------------------------------------------------
def flaky(params):
    if params["x"] > 0.6:
        raise RuntimeError("diverged")
    if params["x"] < 0.2:
        return float("nan")
    return quadratic(params)


@pytest.mark.parametrize("make", [lambda s: RandomSearch(s, seed=0), lambda s: GridSearch(s, levels=3),
                                  lambda s: BayesSearch(s, config=FAST_BO, seed=0)])
def test_failed_trials_are_marked_and_the_search_goes_on(make):
    search = make({"x": Uniform(0, 1), "y": Uniform(0, 1)}).optimize(flaky, budget=14)
    h = search.history_
    assert len(h) == 14 and (h.state == "failed").any() and (h.state == "complete").any()
    assert h[h.state == "failed"].value.isna().all()
    assert 0.2 <= search.best_params_["x"] <= 0.6
    assert np.all(np.diff(search.trace_[~np.isnan(search.trace_)]) <= 0)   # best so far never rises


def test_ask_tell_equals_optimize():
    f = Branin()
    a = BayesSearch(f.space, config=FAST_BO, seed=1).optimize(f, 8)
    b = BayesSearch(f.space, config=FAST_BO, seed=1)
    for _ in range(8):
        trial = b.ask()
        b.tell(trial, f(trial.params))
    assert a.history_[["x0", "x1", "value"]].equals(b.history_[["x0", "x1", "value"]])


def test_interrupted_study_resumes_with_the_same_trials(tmp_path):
    f, log = Branin(), tmp_path / "study.jsonl"
    evaluated = []

    def dies_in_trial_7(params):
        if len(evaluated) == 7:
            raise KeyboardInterrupt   # the kernel is stopped in the middle of trial 7
        evaluated.append(params)
        return f(params)

    with pytest.raises(KeyboardInterrupt):
        BayesSearch(f.space, config=FAST_BO, seed=4, log=log).optimize(dies_in_trial_7, budget=10)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events.count("tell") == 7 and events.count("ask") == 8       # trial 7 asked, never told

    evaluated.clear()
    resumed = BayesSearch(f.space, config=FAST_BO, seed=4, log=log).optimize(lambda p: evaluated.append(p) or f(p), 10)
    whole = BayesSearch(f.space, config=FAST_BO, seed=4).optimize(f, budget=10)
    assert len(evaluated) == 3                                          # trial 7 again, then 8 and 9
    columns = ["number", "x0", "x1", "value", "state"]
    assert resumed.history_[columns].equals(whole.history_[columns])


def test_log_of_another_study_is_refused(tmp_path):
    log = tmp_path / "study.jsonl"
    RandomSearch({"x": Uniform(0, 1)}, seed=0, log=log).optimize(lambda p: p["x"], budget=3)
    with pytest.raises(ParameterError, match="'log' parameter of RandomSearch"):
        RandomSearch({"z": Uniform(0, 1)}, seed=0, log=log).ask()
    with pytest.raises(ParameterError, match="'log' parameter of GridSearch"):
        GridSearch({"x": Uniform(0, 1)}, log=log).ask()


def test_torn_last_line_is_ignored(tmp_path):
    log = tmp_path / "study.jsonl"
    RandomSearch({"x": Uniform(0, 1)}, seed=0, log=log).optimize(lambda p: p["x"], budget=3)
    with open(log, "a") as f:
        f.write('{"event": "tell", "numb')
    again = RandomSearch({"x": Uniform(0, 1)}, seed=0, log=log)
    assert again.n_finished_ == 0 and len(again.history_) == 3


@pytest.mark.parametrize("make", [lambda s: RandomSearch(s, seed=0), lambda s: GridSearch(s, levels=3),
                                  lambda s: BayesSearch(s, config=FAST_BO, seed=0)])
def test_parallel_workers_finish_the_budget(make):
    with ThreadPoolExecutor(max_workers=3) as pool:
        search = make({"x": Uniform(0, 1), "y": Uniform(0, 1)}).optimize(quadratic, budget=15, executor=pool)
    h = search.history_
    assert len(h) == 15 and (h.state == "complete").all()
    assert not h.duplicated(["x", "y"]).any()          # constant liar: no two workers on one point


def test_process_pool():
    from concurrent.futures import ProcessPoolExecutor
    f = Branin()
    with ProcessPoolExecutor(max_workers=2) as pool:
        search = RandomSearch(f.space, seed=0).optimize(f, budget=6, executor=pool)
    serial = RandomSearch(f.space, seed=0).optimize(f, budget=6)
    assert search.history_.value.tolist() == serial.history_.value.tolist()


def test_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    f = Branin()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        search = RandomSearch(f.space, seed=0).optimize(f, budget=6, executor=client)
    assert (search.history_.state == "complete").all()
    assert search.history_.value.tolist() == RandomSearch(f.space, seed=0).optimize(f, 6).history_.value.tolist()


# --- test functions ----------------------------------------------------------------------------
@pytest.mark.parametrize("f,at", [
    (Branin(), {"x0": -math.pi, "x1": 12.275}),
    (Branin(), {"x0": 9.42478, "x1": 2.475}),
    (Hartmann6(), {f"x{j}": v for j, v in enumerate([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])}),
    (Ackley(4), {f"x{j}": 0.0 for j in range(4)}),
])
def test_known_optima(f, at):
    assert f(at) == pytest.approx(f.optimum, abs=1e-4)
    rng = np.random.default_rng(0)
    assert min(f(f.space.sample(rng)) for _ in range(200)) >= f.optimum - 1e-6


def test_embedded_branin_ignores_extra_dimensions():
    f = EmbeddedBranin(extra=5)
    rng = np.random.default_rng(0)
    p = f.space.sample(rng)
    q = {**p, **{f"z{j}": rng.random() for j in range(5)}}
    assert f(p) == f(q)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("build,match", [
    (lambda: Space({}), "'params' parameter of Space"),
    (lambda: Uniform(1.0, 1.0), "'low' parameter of Uniform must be a number below high=1.0"),
    (lambda: LogUniform(0.0, 1.0), "'low' parameter of LogUniform must be a finite float > 0"),
    (lambda: LogUniform(-1.0, 1.0), "'low' parameter of LogUniform"),
    (lambda: Integer(1.5, 3), "'low' parameter of Integer must be an int"),
    (lambda: Categorical([]), "'choices' parameter of Categorical"),
    (lambda: Uniform(0, 1, limits=(0.5, 2)), "'limits' parameter of Uniform"),
    (lambda: Space({"x": "big"}), "'x' parameter of Space"),
    (lambda: Ackley(0), "'dim' parameter of Ackley"),
])
def test_bad_space(build, match):
    with pytest.raises(ParameterError, match=match):
        build()


@pytest.mark.parametrize("search,budget,match", [
    (lambda: BayesSearch({"x": Uniform(0, 1)}), 5, r"'budget' parameter of BayesSearch.optimize must be an int >= 10 \(the initial design"),
    (lambda: GridSearch({"x": Uniform(0, 1), "y": Uniform(0, 1)}), 5, r"must be an int >= 9 \(one full grid"),
    (lambda: RandomSearch({"x": Uniform(0, 1)}), 0, "'budget' parameter of RandomSearch.optimize"),
    (lambda: RandomSearch({"x": Uniform(0, 1)}), 2.5, "'budget' parameter"),
    (lambda: GridSearch({"x": Uniform(0, 1)}, levels=1), 5, "'levels' parameter of GridSearch"),
    (lambda: GridSearch({"x": Uniform(0, 1)}, shrink=1.0), 5, "'shrink' parameter of GridSearch"),
    (lambda: BayesSearch({"x": Uniform(0, 1)}, acquisition="magic"), 20, "'acquisition' parameter of BayesSearch"),
    (lambda: BayesSearch({"x": Uniform(0, 1)}, xi=-1.0), 20, "'xi' parameter of BayesSearch"),
    (lambda: BayesSearch({"x": Uniform(0, 1)}, config=BayesConfig(polish_iter=0)), 20,
     "'polish_iter' parameter of BayesConfig must be an int >= 1"),
    (lambda: BayesSearch({"x": Uniform(0, 1)}, config=BayesConfig(n_candidates=0)), 20,
     "'n_candidates' parameter of BayesConfig"),
    (lambda: BayesSearch({"x": Uniform(0, 1)}, config=BayesConfig(local_share=1.5)), 20,
     r"'local_share' parameter of BayesConfig must be a float in \[0, 1\]"),
    (lambda: RandomSearch({"x": Uniform(0, 1)}, seed=-1), 5, "'seed' parameter of RandomSearch"),
])
def test_bad_search_arguments(search, budget, match):
    with pytest.raises(ParameterError, match=match):
        search().optimize(quadratic, budget)


def test_bad_executor_and_tell():
    with pytest.raises(ParameterError, match="'executor' parameter of optimize"):
        RandomSearch({"x": Uniform(0, 1)}).optimize(lambda p: p["x"], 3, executor="pool")
    with pytest.raises(ParameterError, match="'n_jobs' parameter of optimize"):
        RandomSearch({"x": Uniform(0, 1)}).optimize(lambda p: p["x"], 3, executor=ThreadPoolExecutor(2), n_jobs=0)
    search = RandomSearch({"x": Uniform(0, 1)}, seed=0)
    trial = search.ask()
    search.tell(trial, 1.0)
    with pytest.raises(ParameterError, match="'trial' parameter of tell"):
        search.tell(trial, 2.0)
