"""The teaching layer of notebook 04: exercise checks accept the right answers and reject the usual
wrong ones, widget callbacks are plain functions that run, the wrapper never needs the test split."""
from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from labkit.checks import ExerciseFailure  # noqa: E402
from labkit.checks import hpo as checks  # noqa: E402
from labkit.errors import ParameterError  # noqa: E402
from labkit.hpo.acquisition import expected_improvement  # noqa: E402
from labkit.hpo.objective import TrainObjective  # noqa: E402
from labkit.widgets import hpo as viz  # noqa: E402


def log_uniform(low, high, n, rng):
    return np.exp(np.log(low) + rng.random(n) * (np.log(high) - np.log(low)))


def grid(values):
    names = sorted(values)
    return [dict(zip(names, c)) for c in itertools.product(*(values[k] for k in names))]


def test_checks_accept_the_reference_answers(capsys):
    checks.check_log_uniform(log_uniform)
    checks.check_grid(grid)
    checks.check_expected_improvement(expected_improvement)
    assert capsys.readouterr().out.count("\u2714") == 3


@pytest.mark.parametrize("check,wrong,match", [
    (checks.check_log_uniform, lambda lo, hi, n, rng: rng.uniform(lo, hi, n), "log10 of the samples"),
    (checks.check_grid, lambda values: [dict(zip(values, v)) for v in zip(*values.values())], "12 combinations"),
    (checks.check_expected_improvement, lambda m, s, b, xi: (b - m - xi) * 1.0, "EI"),
    (checks.check_expected_improvement, lambda m, s, b, xi: (m - b - xi) / s, "EI"),
])
def test_checks_reject_wrong_answers(check, wrong, match):
    with pytest.raises(ExerciseFailure, match=match):
        check(wrong)


def test_unfinished_exercise_is_named():
    def todo(*args):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="make_grid is not written yet"):
        checks.check_grid(todo)


def test_grid_cost_is_levels_to_the_power_d():
    assert viz.grid_cost(6, 3, seconds_per_trial=30) == {"trials": 729, "hours": 729 * 30 / 3600}
    with pytest.raises(ParameterError, match="'levels' parameter of grid_cost"):
        viz.grid_cost(3, 1)


def test_effective_dimension_experiment_shows_three_against_nine():
    result = viz.effective_dimension_experiment(seeds=20, levels=3)
    assert result["grid_distinct"] == 3 and np.all(result["random_distinct"] == 9)
    assert np.mean(result["random_best"] < result["grid_best"]) > 0.5


def test_bo_step_and_stepper():
    state = viz.bo_step([0.1, 0.5, 0.9], viz.toy_objective(np.array([0.1, 0.5, 0.9])), "ucb", kappa=3.0)
    assert 0 <= state["next"] <= 1 and state["std"].min() >= 0
    stepper = viz.bo_stepper(n_start=3)
    stepper.step()
    stepper.step()
    assert len(stepper.state["X"]) == 5
    stepper.reset()
    assert len(stepper.state["X"]) == 3
    with pytest.raises(ParameterError, match="'acquisition' parameter of bo_step"):
        viz.bo_step([0.1, 0.9], [1.0, 2.0], "magic")


def test_grid_cost_widget_and_dashboard_build():
    box = viz.grid_cost_widget()
    box.children[0].children[0].value = 6          # the slider's callback runs at once
    assert box.result["trials"] == 3 ** 6         # levels^d: the grid's cost grows exponentially
    assert viz.dashboard() is not None


def test_wrapper_hold_out_and_k_fold_and_live_run():
    f = TrainObjective(dataset="moons", epochs=2, width=8)
    hold_out, k_fold = f({"lr": 1e-2}), TrainObjective(dataset="moons", epochs=2, width=8, folds=3)({"lr": 1e-2})
    assert 0 <= hold_out <= 1 and 0 <= k_fold <= 1
    with pytest.raises(ParameterError, match="'params' parameter of TrainObjective"):
        f({"learning_rate": 1e-2})
    with pytest.raises(ParameterError, match="'folds' parameter of TrainObjective"):
        TrainObjective(folds=1)
    search = viz.run_live_tuning("random", budget=2, epochs=1, progress=False)
    assert len(search.history_) == 2
    button = viz.live_tuning_button(budget=2, epochs=1, progress=False)
    assert len(button.click().history_) == 2
