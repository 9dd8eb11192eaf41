"""Neural architecture search (lecture 6): search spaces, search strategies, performance estimation.

* :mod:`labkit.nas.space` - chain-structured and cell-based search spaces;
* :mod:`labkit.nas.strategies` - random search, regularized evolution, REINFORCE, Bayesian optimization;
* :mod:`labkit.nas.estimators` - full training, low fidelity, learning curves, weight inheritance, one-shot;
* :mod:`labkit.nas.tabular` - every cell of a small space trained on MNIST-1D, looked up in microseconds.

NEAT (:mod:`labkit.nas.neat`) and DARTS (:mod:`labkit.nas.darts`) live beside them.
"""
