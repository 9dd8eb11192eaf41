"""Perturbation-based selection (DARTS-PT): derive the cell by what the supernet needs, not by alpha.

DARTS derives its cell by the magnitude of alpha (:func:`labkit.nas.darts.derive`). Wang et al.
(2021, "Rethinking Architecture Selection in Differentiable NAS", ICLR) show that alpha's magnitude
need not say how much an operation contributes to the supernet: parameter-free operations
(skip, pooling) gain weight early because they work before any convolution has trained, and keep it.
They measure instead what the trained supernet loses when an operation is taken away:

    1: for every edge e, in random order:
    2:     for every operation o != none on e:  drop(e, o) = acc(supernet) - acc(supernet without o on e)
    3:     keep on e the operation whose removal hurts most:  o*(e) = argmax_o drop(e, o)
    4:     (optionally) fine-tune the supernet's weights w for a few steps
    5: for every node j:
    6:     for every incoming edge e:  drop(e) = acc(supernet) - acc(supernet without e)
    7:     keep the k = 2 edges whose removal hurts most; the others leave; (optionally) fine-tune

Accuracies are measured on the alpha half of the training split (the search's validation data);
"without o" sets o's softmax weight to zero and leaves the others as they are, as in the paper; a
decided edge carries its one operation with weight 1. It costs about 80 forward passes over that
half, no training, and it works even on a supernet whose alpha never moved (the paper's "fix alpha"
variant). Offered as ``SearchConfig(selection="perturbation")``, not the default: on MNIST-1D at the
lab's 3-minute budget it did not beat the argmax derivation on the two supernets we tried (retrained
validation accuracy 0.945 vs 0.960 without fine-tuning, 0.958 vs 0.969 with 25 steps after each
decision; one training seed each). Notebook 07 names it among the remedies.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch.nn import functional as F

from labkit.errors import check_int, check_positive, check_type, fail
from labkit.data import as_split
from labkit.nas.darts.cell import SearchNetwork
from labkit.nas.darts.genotype import Genotype


class PerturbationSelection:
    """Derive a cell from a trained :class:`SearchNetwork` by DARTS-PT (Wang et al. 2021).

    ``fit(net, val, train)`` works on a copy of ``net``; afterwards ``genotype_`` is the cell,
    ``op_drop_`` (edges, ops) the accuracy lost when each operation was removed (NaN for ``none``) and
    ``edge_drop_`` (edges,) the accuracy lost when each edge was removed. ``tune_steps`` > 0
    fine-tunes the copy's weights on ``train`` after every decision (the paper: a few epochs).

    >>> from labkit.nas.darts import NetworkConfig
    >>> net = SearchNetwork(10, NetworkConfig(channels=2, cells=1, nodes=2))
    >>> x, y = torch.randn(32, 40), torch.randint(0, 10, (32,))
    >>> len(PerturbationSelection(seed=0).fit(net, (x, y)).genotype_.nodes)
    2
    """

    def __init__(self, k: int = 2, tune_steps: int = 0, tune_lr: float = 0.001, batch_size: int = 64,
                 seed: int = 0):
        self.k = k
        self.tune_steps = tune_steps
        self.tune_lr = tune_lr        # paper: fine-tuning continues at the search's last lr of w
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, net: SearchNetwork, val, train=None):
        owner = "PerturbationSelection"
        check_type(net, SearchNetwork, "net", owner, "a SearchNetwork (DartsSearch.net_)")
        k = check_int(self.k, "k", owner, low=1, high=2)
        tune_steps = check_int(self.tune_steps, "tune_steps", owner, low=0)
        check_positive(self.tune_lr, "tune_lr", owner)
        if tune_steps and train is None:
            raise fail("train", owner, "a Split or an (X, y) pair when tune_steps > 0", None)
        val = as_split(val, "val", "PerturbationSelection.fit")
        xv, yv = val.X, val.y
        net = copy.deepcopy(net)
        rng = np.random.default_rng(self.seed)
        primitives = list(net.primitives)
        usable = [o for o, p in enumerate(primitives) if p != "none"]
        weights = F.softmax(net.alphas.detach(), dim=-1).clone()  # (edges, ops), the mixture to perturb
        edges, ops = weights.shape
        tune = _Tuner(net, train, tune_steps, self.tune_lr, self.batch_size, rng) if tune_steps else None

        self.op_drop_ = np.full((edges, ops), np.nan)
        loss_rise = np.full((edges, ops), np.nan)  # breaks ties of accuracy (it moves in steps of 1/n)
        base = _evaluate(net, xv, yv, weights)
        for e in rng.permutation(edges):  # 1: edges in random order
            for o in usable:  # 2: remove one operation, measure what the supernet loses
                perturbed = weights.clone()
                perturbed[e, o] = 0.0
                acc, loss = _evaluate(net, xv, yv, perturbed)
                self.op_drop_[e, o], loss_rise[e, o] = base[0] - acc, loss - base[1]
            best = usable[_most_needed(self.op_drop_[e, usable], loss_rise[e, usable])[0]]  # 3
            weights[e] = 0.0
            weights[e, best] = 1.0
            if tune:  # 4
                tune(weights)
            base = _evaluate(net, xv, yv, weights)

        self.edge_drop_ = np.zeros(edges)
        edge_rise = np.zeros(edges)
        kept, offset = [], 0
        for j in range(net.config.nodes):  # 5
            rows = np.arange(offset, offset + j + 2)  # incoming edges of node j, from states 0 .. j+1
            for e in rows:  # 6: remove the whole edge
                perturbed = weights.clone()
                perturbed[e] = 0.0
                acc, loss = _evaluate(net, xv, yv, perturbed)
                self.edge_drop_[e], edge_rise[e] = base[0] - acc, loss - base[1]
            keep = sorted(rows[_most_needed(self.edge_drop_[rows], edge_rise[rows])[:k]])  # 7: top-k
            for e in rows:
                if e not in keep:
                    weights[e] = 0.0
            if tune:
                tune(weights)
            base = _evaluate(net, xv, yv, weights)
            kept.append(tuple((primitives[int(weights[e].argmax())], int(e - offset)) for e in keep))
            offset += j + 2
        self.genotype_ = Genotype(tuple(kept))
        self.supernet_acc_ = base[0]  # the discretised supernet's validation accuracy
        return self


def _most_needed(acc_drop, loss_rise) -> np.ndarray:
    """Indices by decreasing accuracy drop, ties by decreasing loss rise (never by list order,
    which would favour whatever operation comes first)."""
    return np.lexsort((-np.asarray(loss_rise), -np.asarray(acc_drop)))


@torch.no_grad()
def _evaluate(net, x, y, weights, batch: int = 1024) -> tuple[float, float]:
    net.eval()  # BatchNorm on its running statistics: a perturbation must not change them
    logits = torch.cat([net(x[i:i + batch], weights) for i in range(0, len(x), batch)])
    net.train()
    return float((logits.argmax(1) == y).float().mean()), float(F.cross_entropy(logits, y))


class _Tuner:
    """A few SGD steps on w with the architecture held at ``weights`` (steps 4 and 7)."""

    def __init__(self, net, train, steps, lr, batch_size, rng):
        self.net, self.steps, self.batch_size, self.rng = net, steps, batch_size, rng
        train = as_split(train, "train", "PerturbationSelection.fit")
        self.x, self.y = train.X, train.y
        self.opt = torch.optim.SGD(net.weights(), lr=lr, momentum=0.9, weight_decay=3e-4)

    def __call__(self, weights):
        for _ in range(self.steps):
            idx = torch.as_tensor(self.rng.choice(len(self.x), self.batch_size, replace=False))
            self.opt.zero_grad()
            F.cross_entropy(self.net(self.x[idx], weights), self.y[idx]).backward()
            self.opt.step()
