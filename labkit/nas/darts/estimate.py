"""Performance estimation for DARTS: the data splits of the search, and retraining a cell from scratch.

The lecture's third element of NAS ("оценка эффективности": train, then test). DARTS estimates
architectures inside one supernet during the search, but the number that counts is the accuracy of the
derived cell's network trained from scratch, compared with random cells of the same space trained the
same way (Lindauer & Hutter 2020, best practices 3 and 4). The search sees only the training split,
halved as in the paper (w on one half, alpha on the other); retraining uses the training split and
picks nothing on the test split. Used by notebook 07, ``scripts/precompute_darts.py`` and
``benchmarks/darts.py``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from labkit import train as core_train
from labkit.data import Split
from labkit.errors import check_int, check_range, check_type
from labkit.nas.darts.cell import NetworkConfig
from labkit.nas.darts.genotype import DerivedNetwork, Genotype


def search_splits(train: Split, seed: int = 0, fraction: float = 0.5) -> tuple[Split, Split]:
    """Halve the TRAINING split: ``(w_split, alpha_split)``; the paper uses half of CIFAR-10's train set each.

    >>> s = Split(torch.zeros(10, 40), torch.arange(10))
    >>> [len(p) for p in search_splits(s)]
    [5, 5]
    """
    check_type(train, Split, "train", "search_splits", "a labkit.data.Split")
    check_range(fraction, "fraction", "search_splits", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    cut = int(round(fraction * len(train)))
    return (Split(train.X[perm[:cut]], train.y[perm[:cut]]),
            Split(train.X[perm[cut:]], train.y[perm[cut:]]))


@dataclass
class RetrainConfig:
    """How every cell (derived or random) is trained from scratch: the same budget for all."""

    channels: int = 16   # paper: 16 in search -> 36 in evaluation; here 8 -> 16
    cells: int = 2       # paper: 8 -> 20 cells; our sequences are short, 2 suffice
    epochs: int = 15
    lr: float = 3e-3     # Adam (the paper: SGD 0.025 over 600 epochs; far too long for a CPU lab)
    batch_size: int = 128

    def __post_init__(self):
        check_int(self.channels, "channels", "RetrainConfig", low=1)
        check_int(self.cells, "cells", "RetrainConfig", low=1)
        check_int(self.epochs, "epochs", "RetrainConfig", low=1)
        check_range(self.lr, "lr", "RetrainConfig", 0.0, None, low_inclusive=False)
        check_int(self.batch_size, "batch_size", "RetrainConfig", low=1)


def retrain(genotype: Genotype, train: Split, val: Split, config: RetrainConfig | None = None,
            seed: int = 0, num_classes: int = 10, progress: bool = False) -> dict:
    """Train the network of ``genotype`` from scratch; return its final validation accuracy and cost.

    >>> from labkit.nas.darts import random_genotype
    >>> s = Split(torch.randn(32, 40), torch.randint(0, 10, (32,)))
    >>> sorted(retrain(random_genotype(2, seed=0), s, s, RetrainConfig(channels=2, epochs=1)))
    ['cpu_seconds', 'params', 'seconds', 'val_acc', 'val_acc_curve']
    """
    config = config or RetrainConfig()
    check_type(genotype, Genotype, "genotype", "retrain", "a Genotype")
    torch.manual_seed(seed)
    net = DerivedNetwork(genotype, num_classes, NetworkConfig(channels=config.channels, cells=config.cells,
                                                              nodes=len(genotype.nodes)))
    start, cpu = time.perf_counter(), time.process_time()
    hist = core_train.fit(net, train, val, epochs=config.epochs, lr=config.lr,
                          batch_size=config.batch_size, seed=seed, progress=progress)
    return {"val_acc": hist.val_acc[-1], "val_acc_curve": hist.val_acc,
            "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "params": sum(p.numel() for p in net.parameters())}
