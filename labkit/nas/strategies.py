"""Search strategies: how NAS picks the next architecture to evaluate (lecture 6, "Стратегия поиска").

All strategies share one loop, written once in :class:`Strategy`:

    1: for t = 1 .. budget:
    2:     a_t <- ask()                       # the strategy proposes an architecture
    3:     v_t <- objective(a_t)              # performance estimate, higher is better (val accuracy)
    4:     tell(a_t, v_t)                     # the strategy learns from the result
    5: return the a_t with the best v_t

A strategy is its two extension points, ``_propose(rng)`` and ``_observe(arch, value)``:

* :class:`RandomSearch` - uniform samples from the space: the baseline every NAS paper must beat
  (Li & Talwalkar 2019; Lindauer & Hutter 2020's first best practice).
* :class:`RegularizedEvolution` - aging evolution (Real et al. 2019): tournament selection of a parent
  from a sample of ``S`` of the population, one mutation, the child joins, the **oldest** dies.
* :class:`Reinforce` - a controller ``p(a) = prod_e softmax(theta_e)[a_e]`` trained by REINFORCE
  (Williams 1992; Zoph & Le 2017): ``theta <- theta + lr (v - b) grad log p(a)``, b a moving average.
* :class:`BayesianOptimization` - a Gaussian process over the one-hot encoding and expected improvement
  (``labkit.hpo.acquisition``) over a pool of random and mutated candidates (BANANAS-style, White et
  al. 2021, with a GP instead of an ensemble).

Searchers follow scikit-learn's manners: the constructor stores, :meth:`Strategy.run` works, results
end in ``_`` (``history_``, ``best_arch_``, ``best_value_``). Used by notebook 05 and benchmarks/nas.py.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular

from ..errors import check_int, check_positive, check_range, fail


@dataclass
class Evaluation:
    """One evaluated architecture: its value (higher is better) and the cost charged for it."""

    arch: tuple
    value: float
    cost: float = 0.0


class Strategy:
    """The search loop; a subclass writes ``_propose`` (and ``_observe`` if it learns)."""

    def __init__(self, space, seed: int | None = None):
        self.space = space
        self.seed = seed

    # ask / tell (Optuna's manners: a notebook can keep its own training loop in view)
    def ask(self) -> tuple:
        """The next architecture to evaluate."""
        self._start()
        return self._propose(self.rng_)

    def tell(self, arch, value: float, cost: float = 0.0) -> "Strategy":
        """Report the estimate ``value`` (and its ``cost``, e.g. seconds) of ``arch``."""
        self._start()
        arch = self.space.validate(arch)
        value = check_range(value, "value", f"{type(self).__name__}.tell")
        self.history_.append(Evaluation(arch, value, float(cost)))
        if self.best_arch_ is None or value > self.best_value_:
            self.best_arch_, self.best_value_ = arch, value
        self._observe(arch, value)
        return self

    def run(self, objective, budget: int) -> "Strategy":
        """Evaluate ``budget`` architectures: ``objective(arch)`` returns a value or ``(value, cost)``."""
        check_int(budget, "budget", f"{type(self).__name__}.run", low=1)
        if not callable(objective):
            raise fail("objective", f"{type(self).__name__}.run", "a callable arch -> value", objective)
        for _ in range(budget):                       # 1
            arch = self.ask()                         # 2
            result = objective(arch)                  # 3
            value, cost = result if isinstance(result, tuple) else (result, 0.0)
            self.tell(arch, value, cost)              # 4
        return self                                   # 5: best_arch_, best_value_

    def incumbents(self) -> list[tuple]:
        """Best-so-far architecture after every evaluation (what a regret curve is measured on)."""
        out, best, best_value = [], None, -np.inf
        for ev in self.history_:
            if ev.value > best_value:
                best, best_value = ev.arch, ev.value
            out.append(best)
        return out

    # extension points
    def _propose(self, rng: np.random.Generator) -> tuple:
        raise NotImplementedError

    def _observe(self, arch, value: float) -> None:
        pass

    def _setup(self) -> None:
        """Validate arguments and create the state; called once, at the first ask."""

    def _start(self):
        if not hasattr(self, "history_"):
            self.rng_ = np.random.default_rng(self.seed)
            self.history_: list[Evaluation] = []
            self.best_arch_, self.best_value_ = None, -np.inf
            self._setup()


class RandomSearch(Strategy):
    """Uniform random architectures: the baseline.

    >>> from labkit.nas.space import CellSpace
    >>> space = CellSpace()
    >>> rs = RandomSearch(space, seed=0).run(lambda a: a.count("conv3") / 6, budget=20)
    >>> len(rs.history_), rs.best_value_ <= 1.0
    (20, True)
    """

    def _propose(self, rng):
        return self.space.sample(rng)


class RegularizedEvolution(Strategy):
    """Aging evolution (Real et al. 2019, Algorithm 1).

    ``population_size`` P and ``sample_size`` S: Real et al. used P = 100, S = 25 for 20,000
    evaluations; for budgets of a few hundred NATS-Bench (Dong et al. 2021) runs P = 10, S = 3,
    which we take as defaults.

    >>> from labkit.nas.space import CellSpace
    >>> space = CellSpace()
    >>> rea = RegularizedEvolution(space, seed=0).run(lambda a: a.count("conv3") / 6, budget=60)
    >>> len(rea.population_)
    10
    """

    def __init__(self, space, population_size: int = 10, sample_size: int = 3, seed: int | None = None):
        super().__init__(space, seed)
        self.population_size = population_size
        self.sample_size = sample_size

    def _setup(self):
        check_int(self.population_size, "population_size", "RegularizedEvolution", low=2)
        check_int(self.sample_size, "sample_size", "RegularizedEvolution", low=1, high=self.population_size)
        self.population_: deque[Evaluation] = deque()

    def _propose(self, rng):
        if len(self.population_) < self.population_size:      # 1-5: the initial random population
            return self.space.sample(rng)
        return aging_evolution_step(self.population_, self.space, self.sample_size, rng)

    def _observe(self, arch, value):
        self.population_.append(Evaluation(arch, value))      # 12: the child joins the population
        if len(self.population_) > self.population_size:
            self.population_.popleft()                        # 13: the oldest dies, not the worst


def aging_evolution_step(population, space, sample_size: int, rng) -> tuple:
    """One proposal of aging evolution: tournament over a random sample, then mutate the winner.

    ``population`` is oldest-first; each member has ``.arch`` and ``.value``.
    """
    picks = rng.choice(len(population), size=sample_size, replace=False)   # 8: sample S candidates
    parent = max((population[int(k)] for k in picks), key=lambda ev: ev.value)  # 9: highest accuracy
    return space.mutate(parent.arch, rng)                                  # 10: child <- mutate(parent)


class Reinforce(Strategy):
    """A factorised controller, one softmax per decision, trained by REINFORCE with a baseline.

    ``lr`` 0.1 and ``baseline_decay`` 0.9 are our choices (NAS-Bench-201 tunes the learning rate of
    its REINFORCE; the ENAS controller uses a moving-average baseline with decay 0.99 over far
    longer runs).

    >>> from labkit.nas.space import CellSpace
    >>> space = CellSpace()
    >>> rl = Reinforce(space, seed=0).run(lambda a: a.count("conv3") / 6, budget=50)
    >>> rl.probabilities().shape
    (6, 3)
    """

    def __init__(self, space, lr: float = 0.1, baseline_decay: float = 0.9, seed: int | None = None):
        super().__init__(space, seed)
        self.lr = lr
        self.baseline_decay = baseline_decay

    def _setup(self):
        check_positive(self.lr, "lr", "Reinforce")
        check_range(self.baseline_decay, "baseline_decay", "Reinforce", 0.0, 1.0, high_inclusive=False)
        if not hasattr(self.space, "edges"):
            raise fail("space", "Reinforce", "a CellSpace (one categorical decision per edge)", self.space)
        self.logits_ = np.zeros((len(self.space.edges()), len(self.space.ops)))  # theta: (edges, ops)
        self.baseline_ = None

    def probabilities(self) -> np.ndarray:
        """The controller's policy ``(edges, ops)``: softmax of each edge's logits."""
        self._start()
        z = np.exp(self.logits_ - self.logits_.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    def _propose(self, rng):
        cumulative = self.probabilities().cumsum(1)                        # (edges, ops)
        picks = (cumulative < rng.random((len(cumulative), 1))).sum(1)    # inverse-CDF sampling per edge
        return tuple(self.space.ops[min(int(k), len(self.space.ops) - 1)] for k in picks)

    def _observe(self, arch, value):
        self.baseline_ = value if self.baseline_ is None else \
            self.baseline_decay * self.baseline_ + (1 - self.baseline_decay) * value   # b <- moving average
        one_hot = self.space.encode(arch).reshape(self.logits_.shape)
        grad_log_p = one_hot - self.probabilities()        # d log softmax(theta)[a] / d theta
        self.logits_ += self.lr * (value - self.baseline_) * grad_log_p / max(self._scale(), 1e-8)

    def _scale(self) -> float:
        """Rewards' spread so far: the step is taken on standardised advantages."""
        values = [ev.value for ev in self.history_[-50:]]
        if len(values) < 2:
            return 1.0
        mean = sum(values) / len(values)
        return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


class BayesianOptimization(Strategy):
    """Expected improvement of a GP over one-hot encodings, maximised over a candidate pool.

    The GP has a Matern-5/2 kernel on the Hamming-like distance of encodings with fixed length scale
    and noise (refitting them by likelihood each step, as ``labkit.hpo.GaussianProcess`` does, costs
    tens of milliseconds: too slow for a race of 100 seeds). Candidates: ``n_candidates`` random
    cells plus all mutations of the ``n_parents`` best so far. The first ``n_initial`` are random
    (``gp_minimize``'s default 10). The GP is refitted every ``batch`` evaluations and the ``batch``
    best candidates by EI are proposed in turn (a cheap batch BO: the race needs ~1 ms per ask).

    >>> from labkit.nas.space import CellSpace
    >>> space = CellSpace()
    >>> bo = BayesianOptimization(space, seed=0).run(lambda a: a.count("conv3") / 6, budget=20)
    >>> len(bo.history_)
    20
    """

    def __init__(self, space, n_initial: int = 10, n_candidates: int = 100, n_parents: int = 3,
                 length_scale: float = 1.5, noise: float = 0.05, xi: float = 0.0, batch: int = 5,
                 seed: int | None = None):
        super().__init__(space, seed)
        self.batch = batch
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.n_parents = n_parents
        self.length_scale = length_scale
        self.noise = noise
        self.xi = xi

    def _setup(self):
        owner = "BayesianOptimization"
        check_int(self.n_initial, "n_initial", owner, low=1)
        check_int(self.n_candidates, "n_candidates", owner, low=1)
        check_int(self.n_parents, "n_parents", owner, low=0)
        check_positive(self.length_scale, "length_scale", owner)
        check_positive(self.noise, "noise", owner)
        check_range(self.xi, "xi", owner, 0.0)
        check_int(self.batch, "batch", owner, low=1)
        self.queue_: list[tuple] = []

    def _propose(self, rng):
        if len(self.history_) < self.n_initial:
            return self.space.sample(rng)
        seen = {ev.arch for ev in self.history_}
        self.queue_ = [a for a in self.queue_ if a not in seen]
        if not self.queue_:
            self.queue_ = self._acquire(rng, seen)
        return self.queue_.pop(0)

    def _acquire(self, rng, seen) -> list[tuple]:
        """The ``batch`` candidates with the highest expected improvement."""
        best = sorted(self.history_, key=lambda ev: -ev.value)[:self.n_parents]
        ops = self.space.ops
        pool = [tuple(ops[k] for k in row)                                  # random cells, drawn in bulk
                for row in rng.integers(len(ops), size=(self.n_candidates, len(self.space.edges()))).tolist()]
        pool += [n for ev in best for n in self.space.neighbours(ev.arch)]
        pool = [a for a in dict.fromkeys(pool) if a not in seen] or pool
        mean, std = self.posterior(pool)
        from ..hpo.acquisition import expected_improvement

        # EI of the error (the acquisition minimises): error = -value
        scores = expected_improvement(-mean, std, best=-self.best_value_, xi=self.xi)
        return [pool[int(k)] for k in np.argsort(-scores)[:self.batch]]

    def posterior(self, archs) -> tuple[np.ndarray, np.ndarray]:
        """GP posterior mean and standard deviation of the value of ``archs``."""
        X = _one_hot(self.space, [ev.arch for ev in self.history_])          # (n, d)
        y = np.array([ev.value for ev in self.history_])
        mu, sd = y.mean(), y.std() or 1.0
        z = (y - mu) / sd                                                    # standardised values
        Xs = _one_hot(self.space, archs)                                     # (m, d)
        K = _matern52(X, X, self.length_scale) + self.noise * np.eye(len(X))
        L = cholesky(K, lower=True)
        alpha = cho_solve((L, True), z)                                      # (K + s_n^2 I)^-1 z
        Ks = _matern52(Xs, X, self.length_scale)                             # (m, n)
        v = solve_triangular(L, Ks.T, lower=True)
        var = np.maximum(1.0 - (v ** 2).sum(0), 1e-12)
        return mu + sd * (Ks @ alpha), sd * np.sqrt(var)


def _one_hot(space, archs) -> np.ndarray:
    """Encodings of many cells at once, ``(len(archs), edges * ops)``."""
    code = {op: k for k, op in enumerate(space.ops)}
    idx = np.array([[code[op] for op in a] for a in archs])               # (m, edges)
    return np.eye(len(space.ops), dtype=float)[idx].reshape(len(archs), -1)


def _matern52(A, B, length_scale):
    """Matern-5/2 kernel with unit amplitude between encodings A (n, d) and B (m, d)."""
    d2 = np.maximum((A ** 2).sum(1)[:, None] + (B ** 2).sum(1)[None, :] - 2 * A @ B.T, 0.0)
    r = np.sqrt(d2) / length_scale
    return (1 + np.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-np.sqrt(5) * r)


STRATEGIES = {"random": RandomSearch, "evolution": RegularizedEvolution, "reinforce": Reinforce,
              "bayes": BayesianOptimization}


@dataclass
class RaceResult:
    """``curves[name]``: ``(seeds, budget)`` score of the incumbent after every evaluation; seconds per name."""

    curves: dict[str, np.ndarray]
    seconds: dict[str, float]             # wall clock
    cpu_seconds: dict[str, float]         # this process's CPU time (steadier on a shared machine)

    def median(self, name: str, evaluations: int | None = None) -> float:
        """Median over seeds of the score after ``evaluations`` (default: the whole budget)."""
        curve = self.curves[name]
        n = curve.shape[1] if evaluations is None else check_int(evaluations, "evaluations", "RaceResult.median",
                                                                 low=1, high=curve.shape[1])
        return float(np.median(curve[:, n - 1]))


def race(objective, space, strategies=("random", "evolution", "reinforce", "bayes"), *, budget: int = 100,
         seeds=range(10), score=None) -> RaceResult:
    """Run every strategy with every seed and score the incumbent after every evaluation.

    ``objective(arch, rng)`` gets the run's generator, so a noisy table lookup (a random training
    seed per query, as NAS-Bench-201 prescribes) is repeatable. ``score`` defaults to the objective's
    own value of the incumbent; pass the table's test accuracy or regret for reporting.

    >>> from labkit.nas.space import CellSpace
    >>> space = CellSpace()
    >>> out = race(lambda a, rng: a.count("conv3") / 6, space, ("random",), budget=5, seeds=range(2))
    >>> out.curves["random"].shape
    (2, 5)
    """
    check_int(budget, "budget", "race", low=1)
    seeds = list(seeds)
    if not seeds:
        raise fail("seeds", "race", "a non-empty sequence of ints", seeds)
    results, seconds, cpu = {}, {}, {}
    with _one_blas_thread():
        for name in strategies:
            _race_one(name, objective, space, budget, seeds, score, results, seconds, cpu)
    return RaceResult(results, seconds, cpu)


def _one_blas_thread():
    """Small matrices on a busy machine: extra BLAS threads only spin (as torch's threads do)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _race_one(name, objective, space, budget, seeds, score, results, seconds, cpu):
    """Every seed of one strategy; fills the three dicts under ``name``."""
    if name not in STRATEGIES:
        raise fail("strategies", "race", f"names from {tuple(STRATEGIES)}", name)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(10_000 + seed)
        strategy = STRATEGIES[name](space, seed=seed)
        strategy.run(lambda a: objective(a, rng), budget)
        rows.append([score(a) if score else strategy_value(strategy, a) for a in strategy.incumbents()])
    results[name] = np.array(rows)
    seconds[name] = time.perf_counter() - t0
    cpu[name] = time.process_time() - c0


def strategy_value(strategy: Strategy, arch) -> float:
    """The value a strategy saw for ``arch`` (its best, if seen more than once)."""
    return max(ev.value for ev in strategy.history_ if ev.arch == arch)
