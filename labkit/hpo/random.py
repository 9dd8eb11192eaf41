"""Random search: each set of values drawn independently from the prior the user wrote.

Lecture 6, "Случайное формирование наборов значений гиперпараметров": random choice of the vector of
values according to a given distribution; robust to a space of low effective dimensionality, needs
fewer evaluations than a grid, parallelises perfectly (no trial waits for another).

    x_n = space.from_unit(u_n),   u_n ~ Uniform[0, 1]^d   independently for n = 0, 1, ...

Bergstra & Bengio (2012), "Random search for hyper-parameter optimization", JMLR 13: with 9 trials and
one parameter that matters, a 3 x 3 grid tries 3 of its values, random search tries 9.
Used by notebook 04 and benchmarks/hpo.py.
"""
from __future__ import annotations

from labkit.hpo.study import Searcher


class RandomSearch(Searcher):
    """Random search over a Space (or a dict of parameters).

    >>> from labkit.hpo.functions import Branin
    >>> f = Branin()
    >>> search = RandomSearch(f.space, seed=0).optimize(f, budget=50)
    >>> len(search.history_), round(search.best_value_, 1) < 3
    (50, True)
    """

    def __init__(self, space, seed: int | None = None, log=None):
        super().__init__(space, seed=seed, log=log)

    def _suggest(self, number, rng):
        return rng.random(self.space_.dim)  # u ~ U[0, 1]^d
