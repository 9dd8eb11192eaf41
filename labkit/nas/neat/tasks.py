"""Tasks NEAT is scored on: XOR (the paper's check) and 2-D classification sets with drawable boundaries.

A task holds inputs ``X`` (n, 2) and 0/1 targets ``y`` (n,) and turns one network's outputs into a
fitness. For XOR the paper's fitness is ``(4 - sum |o_i - y_i|)^2`` (at most 16), and a run is solved
when all four outputs fall on the right side of 0.5. Other sets use the same form scaled to [0, 1]:
``(1 - mean |o_i - y_i|)^2``. Evaluating a population decodes each genome once and feeds it the
whole batch (see :mod:`labkit.nas.neat.phenotype`). The 2-D sets are the course's toy sets from
:func:`labkit.data.make_toy`. Used by notebook 06 and ``benchmarks/neat.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from labkit.data import make_toy
from labkit.errors import check_choice
from labkit.nas.neat.config import NEATConfig
from labkit.nas.neat.genome import Genome
from labkit.nas.neat.phenotype import FeedForwardNetwork
from labkit.parallel import map_parallel


@dataclass
class Task:
    """A binary classification task for NEAT.

    >>> t = xor()
    >>> t.fitness(np.array([[0.0], [1.0], [1.0], [0.0]])), t.solved(np.array([[0.1], [0.9], [0.6], [0.4]]))
    (16.0, True)
    """

    name: str
    X: np.ndarray                 # (n, 2) inputs
    y: np.ndarray                 # (n,) 0/1 targets
    fitness_scale: float = 1.0    # XOR: n^2 = 16, so fitness = (4 - sum |error|)^2 as in the paper

    def fitness(self, outputs: np.ndarray) -> float:
        error = np.abs(outputs[:, 0] - self.y).mean()              # mean |o - y|
        return float(self.fitness_scale * (1.0 - error) ** 2)

    def solved(self, outputs: np.ndarray) -> bool:
        return bool(np.all((outputs[:, 0] > 0.5) == (self.y > 0.5)))

    def accuracy(self, outputs: np.ndarray) -> float:
        return float(np.mean((outputs[:, 0] > 0.5) == (self.y > 0.5)))

    def evaluate(self, genomes: list[Genome], config: NEATConfig, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(fitness, solved) arrays for a population, one decoded network per genome, in ``n_jobs``
        worker processes (:func:`labkit.parallel.map_parallel`; worth it only for costly tasks)."""
        outputs = np.stack(map_parallel(partial(_outputs, config=config, X=self.X), genomes, n_jobs))  # (pop, n)
        error = np.abs(outputs - self.y).mean(axis=1)                  # mean |o - y| per genome
        return self.fitness_scale * (1.0 - error) ** 2, np.all((outputs > 0.5) == (self.y > 0.5), axis=1)


def _outputs(genome: Genome, config: NEATConfig, X: np.ndarray) -> np.ndarray:
    return FeedForwardNetwork(genome, config)(X)[:, 0]


def xor() -> Task:
    """The four XOR rows; the fitness of the paper, at most 16."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return Task("xor", X, np.array([0.0, 1.0, 1.0, 0.0]), fitness_scale=16.0)


def _toy(name: str, n: int, noise: float, seed: int, **kwargs) -> Task:
    X, y = make_toy(name, n=n, noise=noise, seed=seed, **kwargs)   # the course's toy sets (labkit.data)
    return Task(name, X.astype(np.float64), y.astype(np.float64))


def circles(n: int = 200, noise: float = 0.05, seed: int = 0) -> Task:
    """A disc inside a ring (``labkit.data.make_toy("circles")``), inputs in about [-1, 1]^2.

    >>> circles(n=10).X.shape
    (10, 2)
    """
    return _toy("circles", n, noise, seed)


def moons(n: int = 200, noise: float = 0.05, seed: int = 0) -> Task:
    """Two interleaving half-moons (``labkit.data.make_toy("moons")``).

    >>> sorted(set(moons(n=10).y.tolist()))
    [0.0, 1.0]
    """
    return _toy("moons", n, noise, seed)


def spirals(n: int = 200, noise: float = 0.05, seed: int = 0, turns: float = 1.5) -> Task:
    """Two interleaved spirals (``labkit.data.make_toy("spirals")``), inputs in about [-1, 1]^2;
    ``turns`` winds the arms (1 is easier, 2 harder).

    >>> spirals(n=10).y.tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    """
    return _toy("spirals", n, noise, seed, turns=turns)


TASKS = {"xor": xor, "circles": circles, "moons": moons, "spirals": spirals}


def make(name: str, **kwargs) -> Task:
    """A task by name: ``"xor"`` (the paper's four rows), ``"circles"``, ``"moons"`` or ``"spirals"``.

    >>> make("moons", n=20).X.shape
    (20, 2)
    """
    check_choice(name, tuple(TASKS), "name", "tasks.make")
    return TASKS[name](**kwargs)
