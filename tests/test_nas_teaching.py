"""Notebook 05's teaching layer: the checks accept right answers and reject wrong ones; widgets work."""
from __future__ import annotations

import pytest

from labkit.checks import ExerciseFailure
from labkit.checks import nas as checks
from labkit.nas.space import CellSpace

SPACE = CellSpace()


def good_mutate(arch, ops, rng):
    child = list(arch)
    e = int(rng.integers(len(child)))
    child[e] = str(rng.choice([op for op in ops if op != child[e]]))
    return tuple(child)


def good_step(population, objective, sample_size, rng):
    picks = rng.choice(len(population), size=sample_size, replace=False)
    parent = max((population[int(k)] for k in picks), key=lambda m: m[1])
    child = good_mutate(parent[0], SPACE.ops, rng)
    population.append((child, objective(child)))
    population.popleft()
    return child


def test_checks_pass_the_reference_answers(capsys):
    checks.check_mutation(good_mutate, SPACE)
    checks.check_evolution_step(good_step, SPACE, good_mutate)
    assert capsys.readouterr().out.count("\u2714") == 2


def test_mutation_check_rejects_a_mutation_that_may_keep_the_same_op():
    def lazy(arch, ops, rng):
        child = list(arch)
        child[int(rng.integers(len(child)))] = str(rng.choice(ops))
        return tuple(child)

    with pytest.raises(ExerciseFailure, match="number of edges changed"):
        checks.check_mutation(lazy, SPACE)


def test_evolution_check_rejects_removing_the_worst_instead_of_the_oldest():
    def worst_dies(population, objective, sample_size, rng):
        child = good_step(population.copy(), objective, sample_size, rng)
        population.append((child, objective(child)))
        population.remove(min(population, key=lambda m: m[1]))
        return child

    with pytest.raises(ExerciseFailure, match="oldest member"):
        checks.check_evolution_step(worst_dies, SPACE, good_mutate)


def test_unfinished_exercise_says_so():
    def todo(arch, ops, rng):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="not written yet"):
        checks.check_mutation(todo, SPACE)


def test_dashboard_race_slider_and_live_button():
    import ipywidgets as w
    from labkit.nas import estimators
    from labkit.widgets import nas as viz

    tiny = dict(budget=2, screen_epochs=1, final_epochs=1, progress=False, splits=estimators._tiny_splits())
    board = viz.dashboard(seeds=2, **tiny)
    assert isinstance(board, w.Tab)
    explorer = board.children[0]
    explorer.children[0].children[0].value = 20          # the budget slider reruns the race
    assert explorer.result.curves["random"].shape == (2, 20)
    pareto = board.children[1]
    pareto.children[0].children[0].value = "latency_ms"
    result = board.children[3].click()       # the live-search button's callback, called directly
    assert 0.0 <= result.test_acc <= 1.0 and len(result.history) == 2


def test_live_search_rejects_bad_budgets():
    from labkit.errors import ParameterError
    from labkit.nas.estimators import live_search

    with pytest.raises(ParameterError, match="'budget' parameter of live_search must be an int >= 1"):
        live_search(0)
    with pytest.raises(ParameterError, match="'strategy' parameter of live_search"):
        live_search(2, strategy="annealing")
