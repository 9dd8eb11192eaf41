"""Hyper-parameter optimization (Lecture 6, "Автоматизированная настройка гиперпараметров НС").

A *wrapper* trains a network with a set of hyper-parameter values and returns the validation error
(objective.py); a search strategy proposes the sets: a regular grid refined coarse-to-fine (grid.py),
random draws (random.py), or Bayesian optimization with a Gaussian-process surrogate (bayes.py, gp.py,
acquisition.py). All share one interface (study.py): ask/tell, `optimize(objective, budget)`,
`history_`, `best_params_`, `trace_`, an append-only trial log to resume from, parallel workers.

>>> from labkit.hpo import RandomSearch, BayesSearch, GridSearch
>>> from labkit.hpo.functions import Branin
>>> f = Branin()
>>> search = RandomSearch(f.space, seed=0).optimize(f, budget=30)
>>> list(search.history_.columns)
['number', 'iteration', 'x0', 'x1', 'value', 'state', 'seconds', 'suggest_seconds']

Used by notebook 04 (04_hpo) and benchmarks/hpo.py.
"""
from labkit.hpo.acquisition import expected_improvement, probability_of_improvement, upper_confidence_bound
from labkit.hpo.bayes import BayesConfig, BayesSearch
from labkit.hpo.gp import GaussianProcess, GPConfig
from labkit.hpo.grid import GridSearch
from labkit.hpo.random import RandomSearch
from labkit.hpo.space import Categorical, Distribution, Integer, LogUniform, Space, Uniform
from labkit.hpo.study import Searcher, Trial

__all__ = ["BayesConfig", "BayesSearch", "Categorical", "Distribution", "GPConfig", "GaussianProcess",
           "GridSearch", "Integer", "LogUniform", "RandomSearch", "Searcher", "Space", "Trial", "Uniform",
           "expected_improvement", "probability_of_improvement", "upper_confidence_bound"]
