"""A tabular NAS benchmark on MNIST-1D: every cell of a small space, trained once, looked up forever.

NAS-Bench-101/201 (Ying et al. 2019; Dong & Yang 2020) trained every architecture of a cell space
and published the learning curves, so that a search strategy "evaluates" an architecture by a table
lookup and a fair race of strategies over many seeds costs seconds instead of GPU-years. This is
the same idea at the size of a laptop: the :class:`~labkit.nas.space.CellSpace` defaults (3 operations
on the 6 edges of a 4-node cell: 729 cells, 483 distinct networks) trained on MNIST-1D
with :func:`train_arch` for a few epochs, two seeds each. For every cell the table holds, per seed and
epoch, the validation and test accuracy, plus the parameters, the MACs, the CPU latency and the
training seconds (the "cost" of an evaluation, which the race charges to the strategy).

Built by ``scripts/build_nas_table.py`` into ``data/nas/table.npz``; read with :func:`load_table`.
Searches use the validation accuracy; the test accuracy is for reporting the winner only.
Used by notebook 05 and ``benchmarks/nas.py``.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import check_choice, check_int, fail
from .space import CellSpace

TABLE_PATH = Path(__file__).resolve().parents[2] / "data" / "nas" / "table.npz"


@dataclass(frozen=True)
class TableConfig:
    """How every cell of the table is trained (one CPU thread, about a second per run)."""

    epochs: int = 4            # enough to rank cells; curves still rise (room for extrapolation)
    batch_size: int = 256
    lr: float = 5e-3           # Adam; higher than its 1e-3 default because the budget is 52 steps
    seeds: tuple[int, ...] = (0, 1)
    val_fraction: float = 0.2  # labkit.data.load("mnist1d", val_fraction=0.2, seed=0): 3,200 / 800 / 1,000


def benchmark_data(config: TableConfig = TableConfig()):
    """The MNIST-1D splits of the table: ``(train, val, test)`` as ``labkit.data.Split``."""
    from .. import data

    ds = data.load("mnist1d", val_fraction=config.val_fraction, seed=0)
    return ds.train, ds.val, ds.test()


def train_arch(model: torch.nn.Module, splits, *, seed: int = 0, config: TableConfig = TableConfig(),
               subset: int | None = None) -> dict[str, list[float] | float]:
    """Train ``model`` the table's way; per epoch record validation and test accuracy.

    The loop is :func:`labkit.train.fit`'s (Adam, shuffled mini-batches, cross-entropy) written out
    with tensor indexing instead of a DataLoader, which halves the cost of these tiny runs, and with
    the test accuracy recorded per epoch as NAS-Bench-201 does. ``subset`` trains on the first
    ``subset`` shuffled training samples only (a low-fidelity estimate).

    >>> space = CellSpace()
    >>> tr, va, te = benchmark_data()
    >>> torch.manual_seed(0); out = train_arch(space.build(space.sample(0)), (tr.subset(256), va, te),
    ...                                        config=TableConfig(epochs=1))  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> len(out["val_acc"])
    1
    """
    train, val, test = splits
    check_int(seed, "seed", "train_arch", low=0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(seed)
    X, y = train.X, train.y
    if subset is not None:
        check_int(subset, "subset", "train_arch", low=1, high=len(y))
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:subset]
        X, y = X[keep], y[keep]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=config.lr) if params else None
    out = {"val_acc": [], "test_acc": [], "train_loss": []}
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        total = 0.0
        for b in range(0, len(y), config.batch_size):
            idx = order[b:b + config.batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            total += loss.item() * len(idx)
        out["train_loss"].append(total / len(y))
        model.eval()
        with torch.no_grad():
            out["val_acc"].append((model(val.X).argmax(1) == val.y).float().mean().item())
            out["test_acc"].append((model(test.X).argmax(1) == test.y).float().mean().item())
    out["seconds"] = time.perf_counter() - t0
    return out



def compile_table(space: CellSpace, config: TableConfig, reps: dict[str, int], rows: list[dict]) -> dict:
    """Arrays of the table file from the build log (missing runs are NaN)."""
    canon = list(reps)
    row_of = {c: k for k, c in enumerate(canon)}
    U, S, E = len(canon), len(config.seeds), config.epochs
    val, test, loss = (np.full((U, S, E), np.nan, dtype=np.float32) for _ in range(3))
    seconds = np.full((U, S), np.nan, dtype=np.float32)
    params, macs = np.zeros(U, dtype=np.int64), np.zeros(U, dtype=np.int64)
    latency = np.full(U, np.nan, dtype=np.float32)
    for r in rows:
        k = row_of.get(r["canonical"])
        if k is None:
            continue
        if r["seed"] == "cost":
            params[k], macs[k], latency[k] = r["params"], r["macs"], r["latency_ms"]
        elif r["seed"] in config.seeds:
            s = config.seeds.index(r["seed"])
            val[k, s], test[k, s], loss[k, s] = r["val_acc"], r["test_acc"], r["train_loss"]
            seconds[k, s] = r["seconds"]
    unique_of = np.array([row_of[space.canonical(a)] for a in space.all()], dtype=np.int32)
    meta = {"space": asdict(space), "config": asdict(config)}
    return {"unique_of": unique_of, "val_acc": val, "test_acc": test, "train_loss": loss, "train_seconds": seconds,
            "params": params, "macs": macs, "latency_ms": latency,
            "representative": np.array([reps[c] for c in canon], dtype=np.int32),
            "meta": np.array(json.dumps(meta))}


class NASTable:
    """Lookups into the tabular benchmark; every query is by cell (a tuple of op names).

    >>> table = load_table()                                          # doctest: +SKIP
    >>> arch = table.space.sample(0)                                  # doctest: +SKIP
    >>> table.val_acc(arch), table.params(arch), table.train_seconds(arch)  # doctest: +SKIP
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        meta = json.loads(str(arrays["meta"]))
        space = dict(meta["space"])
        space["ops"] = tuple(space["ops"])
        self.space = CellSpace(**space)
        config = dict(meta["config"])
        config["seeds"] = tuple(config["seeds"])
        self.config = TableConfig(**config)
        self.arrays = arrays
        self.unique_of = arrays["unique_of"]  # (space.size,) row of every cell in the per-function arrays
        self.num_unique = len(arrays["params"])
        # fast paths for searches that make millions of lookups: cell -> index, final accuracies per cell
        self._index = {arch: k for k, arch in enumerate(self.space.all())}
        rows = self.unique_of
        self._val_final = arrays["val_acc"][rows, :, -1]                # (cells, seeds)
        self._mean_final = {"val": self._val_final.mean(1),                    # (cells,), mean of seeds
                            "test": arrays["test_acc"][rows, :, -1].mean(1)}
        self._seconds = np.nanmean(arrays["train_seconds"], axis=1)[rows]
        self._oracle = {split: float(np.nanmax(acc)) for split, acc in self._mean_final.items()}

    def __len__(self) -> int:
        return self.space.size

    def row(self, arch) -> int:
        """Row of ``arch`` in the per-function arrays (cells computing the same function share one)."""
        return int(self.unique_of[self._cell(arch)])

    def _cell(self, arch) -> int:
        try:
            return self._index[arch]
        except (KeyError, TypeError):
            return self.space.index(arch)  # raises the ParameterError that says what is wrong

    def _curve(self, name: str, arch, seed, epoch) -> float:
        curves = self.arrays[name][self.row(arch)]  # (seeds, epochs)
        if epoch is None:
            epoch = self.config.epochs
        check_int(epoch, "epoch", f"NASTable.{name}", low=1, high=self.config.epochs)
        if seed is None:
            return float(np.mean(curves[:, epoch - 1]))
        check_choice(seed, self.config.seeds, "seed", f"NASTable.{name}")
        return float(curves[self.config.seeds.index(seed), epoch - 1])

    def val_acc(self, arch, seed: int | None = None, epoch: int | None = None) -> float:
        """Validation accuracy after ``epoch`` (default: the last), of one seed or the seeds' mean."""
        return self._curve("val_acc", arch, seed, epoch)

    def test_acc(self, arch, seed: int | None = None, epoch: int | None = None) -> float:
        """Test accuracy, for reporting a search's winner (never for choosing it)."""
        return self._curve("test_acc", arch, seed, epoch)

    def curve(self, arch, seed: int | None = None, split: str = "val") -> np.ndarray:
        """Per-epoch accuracy ``(epochs,)`` of one seed or the seeds' mean."""
        check_choice(split, ("val", "test"), "split", "NASTable.curve")
        curves = self.arrays[f"{split}_acc"][self.row(arch)]
        if seed is None:
            return curves.mean(0)
        check_choice(seed, self.config.seeds, "seed", "NASTable.curve")
        return curves[self.config.seeds.index(seed)]

    def train_seconds(self, arch, epoch: int | None = None) -> float:
        """CPU seconds the table's training took up to ``epoch``: the cost charged for a lookup."""
        full = float(np.nanmean(self.arrays["train_seconds"][self.row(arch)]))
        epoch = self.config.epochs if epoch is None else check_int(epoch, "epoch", "NASTable.train_seconds",
                                                                   low=1, high=self.config.epochs)
        return full * epoch / self.config.epochs

    def params(self, arch) -> int:
        return int(self.arrays["params"][self.row(arch)])

    def macs(self, arch) -> int:
        return int(self.arrays["macs"][self.row(arch)])

    def latency_ms(self, arch) -> float:
        """Median CPU latency of one sample, one thread, measured on a shared machine (noisy)."""
        return float(self.arrays["latency_ms"][self.row(arch)])

    def frame(self):
        """One row per distinct function: representative cell, mean val/test accuracy, params, MACs, latency."""
        import pandas as pd

        reps = [self.space.arch_at(int(i)) for i in self.arrays["representative"]]
        return pd.DataFrame({
            "arch": [self.space.to_string(a) for a in reps],
            "val_acc": self.arrays["val_acc"][:, :, -1].mean(1),
            "test_acc": self.arrays["test_acc"][:, :, -1].mean(1),
            "val_acc_seed_gap": np.abs(np.diff(self.arrays["val_acc"][:, :2, -1], axis=1))[:, 0]
            if len(self.config.seeds) > 1 else np.nan,
            "params": self.arrays["params"], "macs": self.arrays["macs"], "latency_ms": self.arrays["latency_ms"],
            "cells": np.bincount(self.unique_of, minlength=self.num_unique)})

    def best(self, by: str = "val") -> tuple[str, ...]:
        """The cell with the highest mean final accuracy on ``by`` ('val' or 'test')."""
        check_choice(by, ("val", "test"), "by", "NASTable.best")
        row = int(np.nanargmax(self.arrays[f"{by}_acc"][:, :, -1].mean(1)))
        return self.space.arch_at(int(self.arrays["representative"][row]))

    def objective(self, arch, rng=None, one_seed: bool = False) -> tuple[float, float]:
        """A search's view of a lookup: final validation accuracy and the training seconds it cost.

        By default an evaluation trains every seed and averages (cost: all of them); with ``one_seed``
        it trains one random seed (NAS-Bench-201's protocol), and a strategy sees the seed noise:
        with 4-epoch training the two seeds of a cell differ by 3.6 points in the median.
        """
        k = self._cell(arch)
        if not one_seed:
            return float(self._mean_final["val"][k]), float(self._seconds[k]) * self._val_final.shape[1]
        rng = rng if rng is not None else np.random.default_rng()
        return float(self._val_final[k, rng.integers(self._val_final.shape[1])]), float(self._seconds[k])

    def regret(self, arch, split: str = "val") -> float:
        """Simple regret: the best cell's accuracy minus this cell's (final epoch, mean of the seeds).

        ``split="val"`` measures the quantity the search optimizes, free of training noise;
        ``split="test"`` adds the gap between validation and test (the winner by validation is
        rarely the winner on test), which is what a paper finally reports.
        """
        if split not in self._oracle:
            check_choice(split, ("val", "test"), "split", "NASTable.regret")
        return self._oracle[split] - float(self._mean_final[split][self._cell(arch)])

    def oracle_test_acc(self) -> float:
        """Highest mean final test accuracy in the table."""
        return self._oracle["test"]


def pareto_front(cost, value) -> np.ndarray:
    """Indices of the points no other point beats on both: lower ``cost`` and higher ``value``.

    >>> pareto_front([1, 2, 3, 2], [0.5, 0.7, 0.6, 0.4]).tolist()
    [0, 1]
    """
    cost, value = np.asarray(cost, float), np.asarray(value, float)
    if cost.shape != value.shape or cost.ndim != 1:
        raise fail("cost", "pareto_front", "a 1-D array as long as value", cost.shape)
    order = np.lexsort((-value, cost))               # cheapest first; ties: best value first
    front, best = [], -np.inf
    for k in order:
        if value[k] > best:
            front.append(int(k))
            best = value[k]
    return np.array(front, dtype=int)


def load_table(path=None) -> NASTable:
    """Open the tabular benchmark (``data/nas/table.npz``, built by ``scripts/build_nas_table.py``)."""
    from ..cache import load_npz

    path = Path(path) if path is not None else TABLE_PATH
    if not path.exists():
        raise fail("path", "load_table", "an existing table file (run scripts/build_nas_table.py)", str(path))
    return NASTable(load_npz(path))
