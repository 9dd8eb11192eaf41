"""Performance estimation: how good is an architecture, and what does it cost to find out?

Lecture 6, "Оценка эффективности": train and test; or cheaper, by shorter training or smaller
data/networks; by extrapolating the learning curve; by initialising from weights of architectures
already tested; or one-shot, where every architecture is a subgraph of one supergraph. Every estimator
here answers ``estimate(arch) -> Estimate(value, seconds)``; what matters for search is not the value
but whether it *ranks* architectures as full training does (Spearman's rho, Kendall's tau:
:func:`rank_correlation`), per second spent.

* :class:`FullTraining` - the table's protocol (``labkit.nas.tabular.train_arch``): the reference.
* :class:`LowFidelity` - fewer epochs, a subset of the data, or fewer channels (Zela et al. 2018).
* :class:`CurveExtrapolation` - watch the first epoch(s), fit ``acc(t) = a - b t^(-c)`` (the "pow3"
  family of Domhan, Springenberg & Hutter 2015) and read it off at the full budget.
* :class:`WeightInheritance` - start from the trained weights of the nearest parent and fine-tune
  briefly (Real et al. 2017; network morphisms, Elsken et al. 2019).
* :class:`OneShot` - a supernet with every operation on every edge, trained once by sampling one
  path per batch (single-path one-shot, Guo et al. 2020; Bender et al. 2018); an architecture is
  scored with the shared weights, at no further training.

Used by notebook 05 and ``scripts/precompute_nas_estimators.py``.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import check_int, fail
from .space import OPS, CellSpace, ChainSpace
from .tabular import TableConfig, train_arch


@dataclass
class Estimate:
    """An estimated value (validation accuracy) and the CPU seconds it cost."""

    value: float
    seconds: float


class Estimator:
    """Base: ``estimate(arch)`` validates and times ``_estimate`` (the one method to write)."""

    name = "estimator"

    def __init__(self, space: CellSpace, splits, seed: int = 0, config: TableConfig = TableConfig()):
        self.space, self.splits, self.seed, self.config = space, splits, seed, config

    def estimate(self, arch) -> Estimate:
        arch = self.space.validate(arch)
        t0 = time.process_time()
        value = self._estimate(arch)
        return Estimate(float(value), time.process_time() - t0)

    def _estimate(self, arch) -> float:
        raise NotImplementedError

    def _model(self, arch, space=None):
        torch.manual_seed(self.seed)
        return (space or self.space).build(arch)


class FullTraining(Estimator):
    """Train with the table's protocol; the final validation accuracy."""

    name = "full training"

    def _estimate(self, arch):
        return train_arch(self._model(arch), self.splits, seed=self.seed, config=self.config)["val_acc"][-1]


class LowFidelity(Estimator):
    """Cheaper training: ``epochs`` instead of the full count, ``subset`` samples, ``channels`` wide.

    >>> from labkit.nas.tabular import benchmark_data
    >>> est = LowFidelity(CellSpace(), benchmark_data(), epochs=1, subset=400)
    >>> 0.0 <= est.estimate(CellSpace().sample(0)).value <= 1.0
    True
    """

    name = "low fidelity"

    def __init__(self, space, splits, epochs: int = 1, subset: int | None = None, channels: int | None = None,
                 seed: int = 0, config: TableConfig = TableConfig()):
        super().__init__(space, splits, seed, config)
        self.epochs = check_int(epochs, "epochs", "LowFidelity", low=1)
        self.subset = subset if subset is None else check_int(subset, "subset", "LowFidelity", low=1)
        self.channels = channels if channels is None else check_int(channels, "channels", "LowFidelity", low=1)

    def _estimate(self, arch):
        space = self.space if self.channels is None else replace(self.space, channels=self.channels)
        out = train_arch(self._model(arch, space), self.splits, seed=self.seed,
                         config=replace(self.config, epochs=self.epochs), subset=self.subset)
        return out["val_acc"][-1]


def fit_learning_curve(t, acc, exponent: float | None = None):
    """Fit ``acc(t) = a - b * t ** -c`` by least squares; return the fitted function of ``t``.

    ``c`` is fixed to ``exponent`` if given, otherwise chosen on a grid (for each ``c`` the best ``a``,
    ``b`` are a linear least-squares problem). The prediction is clipped to [0, 1].

    >>> f = fit_learning_curve([1, 2, 3, 4], [0.5, 0.75, 0.8333, 0.875])   # a = 1, b = 0.5, c = 1
    >>> round(float(f(8)), 3)
    0.937
    """
    t, acc = np.asarray(t, float), np.asarray(acc, float)
    if t.ndim != 1 or t.shape != acc.shape or len(t) < 2 or np.any(t <= 0):
        raise fail("t", "fit_learning_curve", "positive times, as many as accuracies and at least 2", t)
    grid = [exponent] if exponent is not None else np.linspace(0.1, 3.0, 59)
    best = None
    for c in grid:
        A = np.stack([np.ones_like(t), -t ** -c], 1)             # acc = A @ (a, b)
        coef, *_ = np.linalg.lstsq(A, acc, rcond=None)
        err = float(np.sum((A @ coef - acc) ** 2))
        if best is None or err < best[0]:
            best = (err, c, coef)
    _, c, (a, b) = best
    return lambda x: np.clip(a - b * np.asarray(x, float) ** -c, 0.0, 1.0)


class CurveExtrapolation(Estimator):
    """Train ``observed_epochs``, evaluating every ``eval_every`` steps; extrapolate to the full budget."""

    name = "learning-curve extrapolation"

    def __init__(self, space, splits, observed_epochs: int = 1, eval_every: int = 2, seed: int = 0,
                 config: TableConfig = TableConfig()):
        super().__init__(space, splits, seed, config)
        self.observed_epochs = check_int(observed_epochs, "observed_epochs", "CurveExtrapolation", low=1,
                                         high=config.epochs)
        self.eval_every = check_int(eval_every, "eval_every", "CurveExtrapolation", low=1)

    def _estimate(self, arch):
        model, (train, val, _) = self._model(arch), self.splits
        opt = torch.optim.Adam(model.parameters(), lr=self.config.lr)
        gen = torch.Generator().manual_seed(self.seed)
        steps_per_epoch = -(-len(train.y) // self.config.batch_size)
        steps, accs, step = [], [], 0
        for _ in range(self.observed_epochs):
            order = torch.randperm(len(train.y), generator=gen)
            for b in range(0, len(order), self.config.batch_size):
                model.train()
                idx = order[b:b + self.config.batch_size]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(train.X[idx]), train.y[idx]).backward()
                opt.step()
                step += 1
                if step % self.eval_every == 0:
                    steps.append(step)
                    accs.append(_accuracy(model, val))
        curve = fit_learning_curve(steps, accs)
        return float(curve(steps_per_epoch * self.config.epochs))


class WeightInheritance(Estimator):
    """Fine-tune ``child_epochs`` from the nearest trained parent (matching tensors are copied).

    Give it parents with :meth:`add_parent` (architectures already trained, as evolution has them).
    """

    name = "weight inheritance"

    def __init__(self, space, splits, child_epochs: int = 1, seed: int = 0, config: TableConfig = TableConfig()):
        super().__init__(space, splits, seed, config)
        self.child_epochs = check_int(child_epochs, "child_epochs", "WeightInheritance", low=1)
        self.parents_: list[tuple[tuple, dict]] = []

    def add_parent(self, arch, model: nn.Module) -> None:
        """Remember a trained architecture's weights."""
        self.parents_.append((self.space.validate(arch), copy.deepcopy(model.state_dict())))

    def _estimate(self, arch):
        if not self.parents_:
            raise fail("parents_", "WeightInheritance.estimate", "at least one parent (call add_parent)", 0)
        _, state = min(self.parents_, key=lambda p: sum(a != b for a, b in zip(p[0], arch)))
        child = self._model(arch)
        own = child.state_dict()
        child.load_state_dict({k: state[k] if k in state and state[k].shape == v.shape else v for k, v in own.items()})
        out = train_arch(child, self.splits, seed=self.seed, config=replace(self.config, epochs=self.child_epochs))
        return out["val_acc"][-1]


class SuperNet(nn.Module):
    """Every operation of the space on every edge; ``forward(x, arch)`` runs one path (one cell)."""

    def __init__(self, space: CellSpace):
        super().__init__()
        self.space = space
        c = space.channels
        net = space.build(tuple(space.ops[0] for _ in space.edges()))
        self.stem = net[:3]                                  # unflatten, conv, BN: shared by every path
        self.head = net[-2:]                                 # flatten, linear
        self.cells = nn.ModuleList([
            nn.ModuleDict({f"{i}_{j}": nn.ModuleDict({op: OPS[op](c) for op in space.ops if op != "none"})
                           for i, j in space.edges()}) for _ in range(space.stages)])

    def forward(self, x, arch):
        h = self.stem(x)
        for cell in self.cells:
            states = [h] + [None] * (self.space.nodes - 1)
            for (i, j), op in zip(self.space.edges(), arch):
                if op == "none" or states[i] is None:
                    continue
                out = cell[f"{i}_{j}"][op](states[i])
                states[j] = out if states[j] is None else states[j] + out
            h = F.max_pool1d(states[-1] if states[-1] is not None else torch.zeros_like(h), 2)
        return self.head(h)


class OneShot(Estimator):
    """Train a :class:`SuperNet` once (a uniformly random path per batch); score paths with its weights.

    The one-time training cost is reported as ``fit_seconds_``; each estimate then costs one forward
    pass over the validation split (BatchNorm uses that batch's statistics, since the running ones mix
    all paths).
    """

    name = "one-shot supernet"

    def __init__(self, space, splits, epochs: int = 8, seed: int = 0, config: TableConfig = TableConfig()):
        super().__init__(space, splits, seed, config)
        self.epochs = check_int(epochs, "epochs", "OneShot", low=1)

    def fit(self) -> "OneShot":
        t0 = time.process_time()
        torch.manual_seed(self.seed)
        self.supernet_ = SuperNet(self.space)
        train = self.splits[0]
        opt = torch.optim.Adam(self.supernet_.parameters(), lr=self.config.lr)
        gen, rng = torch.Generator().manual_seed(self.seed), np.random.default_rng(self.seed)
        for _ in range(self.epochs):
            order = torch.randperm(len(train.y), generator=gen)
            for b in range(0, len(order), self.config.batch_size):
                idx = order[b:b + self.config.batch_size]
                arch = self.space.sample(rng)                       # single path, uniformly
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(self.supernet_(train.X[idx], arch), train.y[idx]).backward()
                opt.step()
        self.fit_seconds_ = time.process_time() - t0
        return self

    def _estimate(self, arch):
        if not hasattr(self, "supernet_"):
            self.fit()
        val = self.splits[1]
        with torch.no_grad():
            self.supernet_.train()                                  # batch statistics of this path
            return (self.supernet_(val.X, arch).argmax(1) == val.y).float().mean().item()


def _accuracy(model, split) -> float:
    model.eval()
    with torch.no_grad():
        return (model(split.X).argmax(1) == split.y).float().mean().item()


def rank_correlation(estimates, truth) -> dict[str, float]:
    """Spearman's rho and Kendall's tau between two score lists (1 = same ranking).

    >>> rank_correlation([0.1, 0.5, 0.3], [1, 3, 2])
    {'spearman': 1.0, 'kendall': 1.0}
    """
    from scipy.stats import kendalltau, spearmanr

    x, y = np.asarray(estimates, float), np.asarray(truth, float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise fail("estimates", "rank_correlation", "a 1-D sequence as long as truth (at least 2)", x.shape)
    return {"spearman": round(float(spearmanr(x, y).statistic), 6), "kendall": round(float(kendalltau(x, y).statistic), 6)}


# --- a live search, end to end -----------------------------------------------------------------------

@dataclass
class LiveResult:
    """What :func:`live_search` found: the winner, its accuracies, the search log and the seconds."""

    best_arch: tuple
    val_acc: float
    test_acc: float
    history: list
    search_seconds: float
    final_seconds: float
    curve: list

    @property
    def seconds(self) -> float:
        return self.search_seconds + self.final_seconds


LIVE_SPACE = ChainSpace(widths=(16, 32), depths=(2, 3))


def live_search(budget: int = 10, *, space=None, strategy: str = "evolution", screen_epochs: int = 2,
                final_epochs: int = 12, seed: int = 0, splits=None, progress: bool = True) -> LiveResult:
    """Search with real training: screen ``budget`` networks at low fidelity, retrain the best.

    1: repeat budget times: a <- strategy.ask(); v <- val accuracy after ``screen_epochs``; tell(a, v)
    2: retrain the best a for ``final_epochs`` (batch 64, Adam 3e-3) and report its test accuracy

    The default space is small chains of 1-D convolutions (2-3 layers of 16 or 32 channels), where
    MNIST-1D's CNNs reach the published 94 %. The test split is read once, for the report.

    >>> res = live_search(2, screen_epochs=1, final_epochs=1, progress=False, splits=_tiny_splits())
    >>> 0.0 <= res.test_acc <= 1.0
    True
    """
    from .strategies import STRATEGIES, RegularizedEvolution

    check_int(budget, "budget", "live_search", low=1)
    check_int(final_epochs, "final_epochs", "live_search", low=1)
    if strategy not in STRATEGIES:
        raise fail("strategy", "live_search", f"one of {tuple(STRATEGIES)}", strategy)
    space = space or LIVE_SPACE
    if splits is None:
        from .tabular import benchmark_data

        splits = benchmark_data()
    screen = LowFidelity(space, splits, epochs=screen_epochs, seed=seed,
                         config=TableConfig(batch_size=128, lr=3e-3))
    searcher = RegularizedEvolution(space, population_size=5, sample_size=2, seed=seed) \
        if strategy == "evolution" else STRATEGIES[strategy](space, seed=seed)
    steps = range(budget)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="architectures")
    t0 = time.perf_counter()
    for _ in steps:
        arch = searcher.ask()
        est = screen.estimate(arch)
        searcher.tell(arch, est.value, est.seconds)
    search_seconds = time.perf_counter() - t0
    torch.manual_seed(seed)
    out = train_arch(space.build(searcher.best_arch_), splits, seed=seed,
                     config=TableConfig(epochs=final_epochs, batch_size=64, lr=3e-3))
    return LiveResult(searcher.best_arch_, out["val_acc"][-1], out["test_acc"][-1],
                      [(ev.arch, ev.value) for ev in searcher.history_], search_seconds, out["seconds"],
                      out["val_acc"])


def _tiny_splits():
    """200 / 100 / 100 samples of MNIST-1D, for examples and tests."""
    from .tabular import benchmark_data

    train, val, test = benchmark_data()
    return train.subset(200), val.subset(100), test.subset(100)
