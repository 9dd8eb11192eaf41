# %% [markdown]
# # 04 · Hyper-parameter optimization: grid, random and Bayesian search
#
# **Lecture 6, slides "Гиперпараметры НС", "Определение значений гиперпараметров", "Автоматический поиск
# значений гиперпараметров", "Регулярное формирование...", "Случайное формирование..." and "Байесовская
# оптимизация".**
#
# After this notebook you will be able to
# * build the lecture's **wrapper**: train with a set of hyper-parameter values, return the *validation*
#   error (the test split stays untouched until the very end);
# * write a **log-uniform sampler**, the **grid** and the **expected-improvement** formula yourself;
# * show by experiment why **random search beats the grid** when few parameters matter, why the grid's
#   cost explodes, how **coarse-to-fine refinement** and **Bayesian optimization** spend a budget better;
# * run a search **in parallel**, **resume** it after a crash and survive **failed trials**.
#
# Everything uses `labkit.hpo`: one interface for the three strategies (`ask`/`tell`,
# `optimize(objective, budget)`, `history_`, `best_params_`, `trace_`). Tuning an MLP on MNIST-1D with
# each strategy over 3 seeds was run by `scripts/precompute_hpo.py`; the plots read `data/hpo/`.

# %%
import math
import time
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from labkit import train
from labkit.checks import hpo as checks
from labkit.hpo import (BayesConfig, BayesSearch, GridSearch, Integer, LogUniform, RandomSearch, Uniform)
from labkit.hpo.functions import Branin
from labkit.hpo.objective import MNIST1D_SPACE, TrainObjective
from labkit.widgets import hpo as viz

train.set_threads(1)

# %% [markdown]
# ## 1 · The wrapper: hyper-parameters in, validation error out
#
# Hyper-parameters are what training does not set: the learning rate, weight decay, the width of the
# layers, dropout. The slide's *wrapper* tries sets of their values; the function it minimises is the
# error on the **validation** split (or a k-fold cross-validation on the training split). The test
# split is for the final evaluation of the chosen values only.

# %%
wrapper = TrainObjective(dataset="mnist1d", epochs=2, seed=0)     # epochs, seed: the wrapper's own settings
t0 = time.perf_counter()
err = wrapper({"lr": 3e-3, "weight_decay": 1e-4, "width": 64, "dropout": 0.1})
print(f"validation error {err:.3f} after {time.perf_counter() - t0:.1f} s of training")
print("search space:", MNIST1D_SPACE)

# %% [markdown]
# ## 2 · Sampling a learning rate: uniform in the logarithm
#
# A learning rate between $10^{-5}$ and $10^{-1}$ matters by its order of magnitude. Drawn uniformly,
# 90 % of the samples land above $10^{-2}$; drawn **log-uniformly**,
# $x = \exp(\log a + u(\log b - \log a))$ with $u \sim U[0, 1)$, each decade gets a quarter.
#
# *Exercise 1.* Write `sample_log_uniform(low, high, n, rng)`.

# %% exercise="log_uniform"
def sample_log_uniform(low: float, high: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n values whose logarithm is uniform on [log low, log high]."""
    ### BEGIN SOLUTION
    u = rng.random(n)
    return np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
    ### END SOLUTION


# %% check="log_uniform"
checks.check_log_uniform(sample_log_uniform)

# %%
rng = np.random.default_rng(0)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].hist(np.log10(rng.uniform(1e-5, 1e-1, 5000)), bins=40, color="C7")
axes[0].set(title="uniform in the value", xlabel="log10 learning rate", ylabel="samples")
axes[1].hist(np.log10(sample_log_uniform(1e-5, 1e-1, 5000, rng)), bins=40, color="C0")
axes[1].set(title="log-uniform (LogUniform in labkit.hpo)", xlabel="log10 learning rate", ylabel="samples")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3 · The grid and its cost
#
# "A fixed number of values of each hyper-parameter; all combinations of them." With $k$ values for
# each of $d$ parameters that is $k^d$ trainings: the cost grows exponentially.
#
# *Exercise 2.* Write `make_grid(values)`: every combination of the value lists, one dict per set.

# %% exercise="grid"
def make_grid(values: dict) -> list:
    """All combinations of the value lists: [{name: value, ...}, ...]."""
    ### BEGIN SOLUTION
    import itertools
    names = sorted(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]
    ### END SOLUTION


# %% check="grid"
checks.check_grid(make_grid)

# %% [markdown]
# `GridSearch` builds the same sets (a test checks them against scikit-learn's `ParameterGrid`). Move the
# sliders: 3 values of 6 hyper-parameters at 30 s per training already take six hours.

# %%
viz.grid_cost_widget(seconds_per_trial=30)

# %%
for d in (2, 4, 6, 8):
    c = viz.grid_cost(d, levels=3, seconds_per_trial=30)
    print(f"{d} parameters x 3 levels: {c['trials']:>6,} trials, {c['hours']:8.1f} h")

# %% [markdown]
# ## 4 · Low effective dimensionality: why random search beats the grid
#
# Often only a few hyper-parameters matter (Bergstra & Bengio 2012). Below the validation error depends
# on the *important* parameter only. A 3 x 3 grid spends its 9 trainings on **3** values of it; 9 random
# points try **9** values. Over 200 seeds of random search, how often does it beat the grid?

# %%
exp = viz.effective_dimension_experiment(seeds=200, levels=3)
viz.plot_effective_dimension(exp)
plt.show()
regret_grid = exp["grid_best"] - exp["optimum"]
regret_rand = exp["random_best"] - exp["optimum"]
share_better = float(np.mean(regret_rand < regret_grid))
print(f"distinct values of the important parameter: grid {exp['grid_distinct']}, random {exp['random_distinct'].min()}")
print(f"regret: grid {regret_grid:.4f}; random median {np.median(regret_rand):.4f}; "
      f"random beats the grid in {100 * share_better:.0f} % of 200 seeds")
assert exp["grid_distinct"] == 3 and exp["random_distinct"].min() == 9

# %% [markdown]
# ## 5 · Coarse to fine: search again where it looks good, and past the edge
#
# The slide: "repeat the search at the edges of the interval and on a finer grid in chosen regions".
# `GridSearch` refines around the best point each round: the window shrinks by `shrink` (finer grid),
# unless the best point lies on the window's edge and the parameter's `limits` reach further; then the
# window moves past the edge. Below, the true optimum $lr = 10^{-0.5} \approx 0.32$ lies **outside**
# the declared range $[10^{-4}, 10^{-2}]$:

# %%
def bowl(p):  # a validation error with its minimum at lr = 10^-0.5, width = 100
    return (math.log10(p["lr"]) + 0.5) ** 2 + ((p["width"] - 100) / 100) ** 2


space = {"lr": LogUniform(1e-4, 1e-2, limits=(1e-6, 1.0)), "width": Integer(16, 256)}
refined = GridSearch(space, levels=3).optimize(bowl, budget=40)
fixed = GridSearch({"lr": LogUniform(1e-4, 1e-2), "width": Integer(16, 256)}, levels=3).optimize(bowl, budget=40)
print(refined.history_.groupby("iteration").agg(trials=("value", "size"), lr_min=("lr", "min"),
                                                lr_max=("lr", "max"), best=("value", "min")).round(4))
print(f"with limits: best lr {refined.best_params_['lr']:.3g}, width {refined.best_params_['width']}; "
      f"without limits the search stays in the box: best lr {fixed.best_params_['lr']:.3g}")
viz.plot_refinement(refined.history_, x="lr", y="width")
plt.gca().set(yscale="linear", ylabel="width (units)", xlabel="learning rate")
plt.show()
assert refined.best_params_["lr"] > 1e-2 and fixed.best_params_["lr"] <= 1e-2 * (1 + 1e-9)

# %% [markdown]
# ## 6 · Bayesian optimization: choose the next point from the results so far
#
# A Gaussian process with a Matérn-5/2 kernel (one length scale per parameter) models the error; its
# mean $m(x)$ and standard deviation $s(x)$ feed an **acquisition** that picks the next point. With the best
# error so far $y^*$ and $z = (y^* - m - \xi)/s$, the expected improvement is
#
# $$\mathrm{EI}(x) = (y^* - m(x) - \xi)\,\Phi(z) + s(x)\,\varphi(z).$$
#
# With $\xi = 0$ this is EI as Jones, Schonlau & Welch (1998) define it, `BayesSearch`'s default; a margin
# $\xi > 0$ (in the error's own units) discounts small gains and pushes the search away from the best point.
#
# *Exercise 3.* Write it (`scipy.stats.norm.cdf` is $\Phi$, `norm.pdf` is $\varphi$).

# %% exercise="ei"
def expected_improvement(mean, std, best, xi=0.0):
    """EI of each candidate (we minimise the error): arrays in, array out."""
    ### BEGIN SOLUTION
    improvement = best - mean - xi
    z = improvement / std
    return improvement * norm.cdf(z) + std * norm.pdf(z)
    ### END SOLUTION


# %% check="ei"
checks.check_expected_improvement(expected_improvement)

# %% [markdown]
# Step through it: **step** evaluates the proposed point (red line) and refits the GP. Try PI (greedy)
# and UCB with a large kappa (exploring), or raise xi.

# %%
stepper = viz.bo_stepper(n_start=3, seed=0)
for _ in range(3):
    stepper.step()
stepper

# %% [markdown]
# ## 7 · Three strategies on a benchmark function
#
# Branin (2-D, known minimum 0.3979), 30 evaluations, 3 seeds each: best value so far against
# evaluations. (`benchmarks/hpo.py` runs the full comparison with scikit-optimize and Optuna.)

# %%
f = Branin()
fast = BayesConfig(n_initial=8, n_candidates=500, n_restarts=1)
runs = {"grid": [GridSearch(f.space, levels=4).optimize(f, 30)],
        "random": [RandomSearch(f.space, seed=s).optimize(f, 30) for s in range(3)],
        "bayes": [BayesSearch(f.space, config=fast, seed=s).optimize(f, 30) for s in range(3)]}
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for name, searches in runs.items():
    traces = np.array([s.trace_ - f.optimum for s in searches])
    ax.semilogy(np.arange(1, 31), np.median(traces, 0), color=viz.COLORS[name], label=f"{name} ({len(searches)} runs)")
ax.set(xlabel="evaluations", ylabel="simple regret (best - optimum)", title="Branin")
ax.legend()
plt.show()
final = {k: float(np.median([s.best_value_ - f.optimum for s in v])) for k, v in runs.items()}
print({k: round(v, 4) for k, v in final.items()})
assert final["bayes"] < final["random"]

# %% [markdown]
# ## 8 · Tuning a real network: MNIST-1D (cached)
#
# Learning rate, weight decay, width and dropout of a 2-layer MLP, 20 trainings per search, 3 seeds,
# validation error as the objective. The chosen values were then trained once more and scored once on the
# test split.

# %%
tuning = viz.load("mnist1d_tuning")
viz.plot_tuning(tuning)
plt.show()
viz.tuning_table(tuning)

# %%
grid_run = next(r for r in tuning["runs"] if r["strategy"] == "grid" and r["seed"] == 0)
viz.plot_refinement(grid_run["history"])
plt.show()

# %% [markdown]
# Run a search yourself (the button), or call the same function with a tiny budget:

# %%
live = viz.run_live_tuning("bayes", budget=3, epochs=1, seed=0, progress=False)
print(live.history_[["number", "lr", "weight_decay", "width", "dropout", "value"]].round(4))
viz.live_tuning_button(budget=8, epochs=3)

# %% [markdown]
# ## 9 · In parallel, resumable, robust
#
# Grid and random trials do not wait for each other: "хорошо распараллеливается". `optimize` keeps
# `n_jobs` trials in flight on any `concurrent.futures.Executor` (a process pool here, a
# `dask.distributed.Client` on a cluster); Bayesian search gives parallel workers different points by
# counting running trials as already evaluated ("constant liar"). Measured with real trainings:

# %%
viz.plot_parallel(viz.load("parallel"))
plt.show()


# %%
def slow(p):  # a stand-in for a training that waits (I/O, a GPU): 0.2 s each
    time.sleep(0.2)
    return (p["x"] - 0.3) ** 2


for workers in (1, 4):
    with ThreadPoolExecutor(workers) as pool:
        t0 = time.perf_counter()
        RandomSearch({"x": Uniform(0, 1)}, seed=0).optimize(slow, budget=8, executor=pool)
        print(f"{workers} worker(s): {time.perf_counter() - t0:.2f} s for 8 trials")

# %% [markdown]
# A study with a `log` writes every trial to an append-only JSON-lines file. Built again on the same
# file, it resumes: finished trials are read back, not trained again. A trial that raises or returns NaN
# is marked `failed` and the search goes on.

# %%
import tempfile
from pathlib import Path

log = Path(tempfile.mkdtemp()) / "study.jsonl"
calls = []


def fragile(p):
    calls.append(p)
    if p["x"] > 0.85:
        raise RuntimeError("loss diverged")
    return (p["x"] - 0.3) ** 2


RandomSearch({"x": Uniform(0, 1)}, seed=1, log=log).optimize(fragile, budget=5)   # ... then the kernel dies
resumed = RandomSearch({"x": Uniform(0, 1)}, seed=1, log=log).optimize(fragile, budget=10)
print(f"objective calls: {len(calls)} for 10 trials; states: {resumed.history_.state.value_counts().to_dict()}")
print(log.read_text().splitlines()[1])
assert len(calls) == 10

# %% [markdown]
# ## 10 · The lecture's question
#
# **Why is random search often more efficient than the grid?** Because the space usually has a *low
# effective dimensionality*: a few hyper-parameters decide the error, the rest barely matter. A grid
# repeats the same few values of the important ones ($k$ values out of $k^d$ trainings), random search
# tries a new value of every parameter at every training. In section 4, 9 trainings gave the grid 3 values
# of the parameter that matters and random search 9, and random search found a lower error in most seeds
# (the printed share). Both parallelise perfectly; Bayesian optimization spends each training where the
# model expects progress, which pays when a training is expensive (sections 7 and 8).

# %%
print(f"random beat the 3 x 3 grid in {100 * share_better:.0f} % of 200 seeds "
      f"(median regret {np.median(regret_rand):.4f} vs {regret_grid:.4f})")

# %% [markdown]
# All of it in one widget (instructors can show it from any notebook):

# %%
viz.dashboard()
