"""Parallel evaluation: the same results as a loop, from functions a notebook defines, one thread a worker."""
import pickle

import pytest
import torch

from labkit.errors import ParameterError
from labkit.nas.neat import NEAT, NEATConfig, tasks
from labkit.parallel import map_parallel


def test_a_function_defined_here_runs_in_workers_and_results_keep_their_order():
    offset = 10

    def local_fitness(x):                  # like a notebook cell's function: plain pickle cannot send it
        return x * x + offset
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(local_fitness)
    items = list(range(23))
    assert map_parallel(local_fitness, items, n_jobs=2) == [local_fitness(x) for x in items]


@pytest.mark.parametrize("threads", [1, 2])
def test_each_worker_uses_the_threads_it_is_given(threads):
    assert set(map_parallel(lambda _: torch.get_num_threads(), range(4), n_jobs=2, threads=threads)) == {threads}


def test_neat_in_two_processes_evolves_exactly_as_in_one():
    cfg = NEATConfig(population_size=40)
    one = NEAT(cfg, seed=4).run(tasks.xor(), max_generations=4, stop_when_solved=False)
    two = NEAT(cfg, seed=4).run(tasks.xor(), max_generations=4, stop_when_solved=False, n_jobs=2)
    assert [h["best_fitness"] for h in two.history_] == [h["best_fitness"] for h in one.history_]
    assert two.best_genome_.to_dict() == one.best_genome_.to_dict()


@pytest.mark.parametrize("call, match", [
    (lambda: map_parallel(len, [[1]], n_jobs=0), "'n_jobs' parameter of map_parallel must be an int >= 1, or -1 for one process per CPU core"),
    (lambda: map_parallel(len, [[1]], n_jobs=-2), "'n_jobs' parameter of map_parallel must be an int >= 1, or -1"),
    (lambda: map_parallel(len, [[1]], threads=0), "'threads' parameter of map_parallel must be an int >= 1"),
    (lambda: map_parallel("len", [[1]]), "'fn' parameter of map_parallel must be a function of one item"),
    (lambda: NEAT().run(tasks.xor(), n_jobs=1.5), "'n_jobs' parameter of NEAT.run must be an int >= 1, or -1"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
