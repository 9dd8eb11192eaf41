"""The wrapper's objective: train with a set of hyper-parameter values, return the validation error.

Lecture 6, "Автоматический поиск значений гиперпараметров": the function being optimised is the error
on the validation ("подтверждающей") split; the "manual" way uses the same split or cross-validation:

    hold-out:  err(x) = 1 - accuracy(fit(model(x), train), val)
    k-fold:    err(x) = 1/k sum_i (1 - accuracy(fit(model(x), train without fold i), fold i))

The test split is never touched here: it is for the final evaluation of the chosen values only
(`labkit.data.Dataset.test()`). `TrainObjective` is a small picklable object, so a process pool or a
Dask worker can run it; each worker loads the data once. Parameters it understands: lr, weight_decay,
width, depth, dropout, batch_size, epochs; any it is not given keep the config's values.
Used by notebook 04 and scripts/precompute_hpo.py.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch

from labkit import data, models, train
from labkit.errors import check_int, fail
from labkit.hpo.space import Integer, LogUniform, Uniform

# The space notebook 04 tunes: log scales for rates (Bergstra & Bengio 2012); refinement may move lr past 0.1
MNIST1D_SPACE = {
    "lr": LogUniform(1e-4, 1e-1, limits=(1e-5, 1.0)),
    "weight_decay": LogUniform(1e-6, 1e-1),
    "width": Integer(16, 256),
    "dropout": Uniform(0.0, 0.5),
}
KNOWN = ("lr", "weight_decay", "width", "depth", "dropout", "batch_size", "epochs")
_DATA = {}  # (dataset, seed) -> Dataset, one copy per worker process


@dataclass
class TrainObjective:
    """Validation error of an MLP trained with the given hyper-parameters (lower is better).

    >>> f = TrainObjective(dataset="xor", epochs=2, n_train=200)
    >>> 0.0 <= f({"lr": 1e-2, "width": 8}) <= 1.0
    True
    """
    dataset: str = "mnist1d"
    epochs: int = 8              # short runs: the wrapper trains many networks
    lr: float = 1e-3
    weight_decay: float = 0.0
    width: int = 64
    depth: int = 2
    dropout: float = 0.0
    batch_size: int = 128
    folds: int | None = None     # None: hold-out validation split; k: k-fold CV on the training split
    n_train: int | None = None   # train on a random subset of this size (faster)
    seed: int = 0                # data split, initialisation, shuffling

    def __post_init__(self):
        if self.folds is not None:
            check_int(self.folds, "folds", "TrainObjective", low=2)

    def __call__(self, params: dict) -> float:
        unknown = sorted(set(params) - set(KNOWN))
        if unknown:
            raise fail("params", "TrainObjective", f"a dict with keys among {KNOWN}", unknown)
        hp = replace(self, **{k: (int(v) if k in ("width", "depth", "batch_size", "epochs") else float(v))
                              for k, v in params.items()})
        ds = self._data()
        train_split = ds.train if self.n_train is None else ds.train.subset(min(self.n_train, len(ds.train)), seed=self.seed)
        if self.folds is None:
            return hp._error(ds, train_split, ds.val)
        order = np.random.default_rng(self.seed).permutation(len(train_split))
        errors = []
        for fold in np.array_split(order, self.folds):
            rest = np.setdiff1d(order, fold)
            errors.append(hp._error(ds, data.Split(train_split.X[rest], train_split.y[rest]),
                                    data.Split(train_split.X[fold], train_split.y[fold])))
        return float(np.mean(errors))

    def _data(self):
        key = (self.dataset, self.seed)
        if key not in _DATA:
            _DATA[key] = data.load(self.dataset, seed=self.seed)
        return _DATA[key]

    def _error(self, ds, fit_split, val_split) -> float:
        torch.manual_seed(self.seed)
        net = models.mlp(ds.input_shape, hidden=(self.width,) * self.depth, num_classes=ds.num_classes,
                         dropout=self.dropout)
        config = train.TrainConfig(epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay,
                                   batch_size=self.batch_size, seed=self.seed, progress=False)
        with warnings.catch_warnings():  # a bad learning rate is a result here, not a warning
            warnings.simplefilter("ignore", train.LearningWarning)
            train.fit(net, fit_split, None, config)
        return 1.0 - train.accuracy(net, val_split)
