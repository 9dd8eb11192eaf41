# %% [markdown]
# # 05 · Neural architecture search: space, strategy, estimate
#
# **Lecture 6, slides "Автоматизированный поиск архитектуры НС" (1)-(3).**
#
# After this notebook you will be able to
# * describe a **search space** two ways (a chain of layers; a cell repeated through the network),
#   draw an architecture, count its parameters and MACs, and **mutate** it;
# * run four **search strategies** (random search, regularized evolution, REINFORCE, Bayesian
#   optimization) in a fair race with many seeds, and write the **aging-evolution** step yourself;
# * measure how well cheap **performance estimates** (fewer epochs, less data, narrower networks,
#   learning-curve extrapolation, inherited weights, a one-shot supernet) rank architectures, per
#   second spent;
# * search for accuracy **and** efficiency (MACs, latency): the Pareto front;
# * run a search that trains real networks, and report it the way NAS research should.
#
# Real NAS benchmarks (NAS-Bench-101/201) are gigabytes and their reference code needs GPUs. Here a
# small one was built on a CPU: every cell of a 729-cell space trained on MNIST-1D with 2 seeds
# (`scripts/build_nas_table.py`, stored in `data/nas/table.npz`). A search "evaluates" a cell by a
# lookup, so a race of 100 seeds takes seconds.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch

from labkit.nas import draw, estimators, strategies
from labkit.nas.space import CellSpace, ChainSpace
from labkit.nas.tabular import load_table
from labkit.checks import nas as checks
from labkit.widgets import nas as viz

torch.set_num_threads(1)
table = load_table()
space = table.space
print(f"{len(table)} cells, {table.num_unique} distinct networks, seeds {table.config.seeds}, "
      f"{table.config.epochs} epochs each; best mean test accuracy {100 * table.oracle_test_acc():.1f} %")

# %% [markdown]
# ## 1 · Search space
#
# **Chain-structured** networks: a sequence of layers, each with its operation and width, then a
# linear head. **Cell-based** networks (NASNet, NAS-Bench-201): search one small DAG, the *cell*, and
# stack copies of it. In our cell node $j$ sums an operation of every earlier node,
# $x_j = \sum_{i<j} o_{(i,j)}(x_i)$, with $o \in \{$skip, conv1, conv3$\}$ on each of its 6 edges:
# $3^6 = 729$ cells. The network is stem → cell → pool → cell → pool → linear.

# %%
chain_space = ChainSpace()
chain = (("conv5s2", 32), ("conv5s2", 32), ("conv3", 32))
fig, axes = plt.subplots(1, 3, figsize=(14, 2.6), gridspec_kw={"width_ratios": [1.6, 1, 1]})
draw.draw_chain(chain_space, chain, ax=axes[0])
for ax, arch in zip(axes[1:], [table.best(), ("skip", "conv1", "skip", "conv3", "skip", "conv1")]):
    draw.draw_cell(space, arch, ax=ax)
    ax.set_title(f"{space.to_string(arch)}\n{table.params(arch):,} params, {table.macs(arch):,} MACs, "
                 f"val {100 * table.val_acc(arch):.1f} %", fontsize=8)
plt.show()
print(f"chain space: {chain_space.size:,} networks; chain above: {chain_space.count_params(chain):,} parameters, "
      f"{chain_space.count_macs(chain):,} MACs per sample")

# %% [markdown]
# Many cells compute the same function: a `skip` edge just passes a sum along, so
# `conv3` on edge (0,3) and on edge (1,3) behind a `skip` (0,1) are the same network. The table trains
# one representative of each of the 483 distinct functions (`CellSpace.canonical`).
#
# *Exercise 1.* Write the mutation of regularized evolution (Real et al. 2019): choose one edge at
# random and give it a **different** operation, chosen at random. Return a new tuple.

# %% exercise="mutation"
def mutate(arch: tuple, ops: tuple, rng: np.random.Generator) -> tuple:
    """A copy of ``arch`` with one random edge switched to another operation from ``ops``."""
    ### BEGIN SOLUTION
    child = list(arch)
    edge = int(rng.integers(len(child)))
    child[edge] = rng.choice([op for op in ops if op != child[edge]])
    return tuple(str(op) for op in child)
    ### END SOLUTION

# %% check="mutation"
checks.check_mutation(mutate, space)

# %% [markdown]
# ## 2 · Search strategy
#
# Every strategy runs the same loop: *ask* for an architecture, estimate it, *tell* the result.
# **Regularized (aging) evolution** keeps a population of the last P evaluated architectures:
#
# ```
# 8   sample S members of the population at random
# 9   parent <- the one with the highest accuracy
# 10  child  <- mutate(parent); evaluate it
# 12  add the child to the population
# 13  remove the OLDEST member (not the worst: that is the "aging" regularization)
# ```
#
# *Exercise 2.* Write one step. `population` is a `collections.deque` of `(arch, value)` pairs,
# oldest first; use your `mutate` and `space.ops`.

# %% exercise="evolution"
def evolution_step(population, objective, sample_size: int, rng: np.random.Generator) -> tuple:
    """One step of aging evolution; returns the child (already evaluated and added)."""
    ### BEGIN SOLUTION
    picks = rng.choice(len(population), size=sample_size, replace=False)
    parent = max((population[int(k)] for k in picks), key=lambda member: member[1])
    child = mutate(parent[0], space.ops, rng)
    population.append((child, objective(child)))
    population.popleft()
    return child
    ### END SOLUTION

# %% check="evolution"
checks.check_evolution_step(evolution_step, space, mutate)

# %% [markdown]
# Your step, run on the table for 100 evaluations (10 random members first, then 90 steps), against
# random search with the same budget, over 100 seeds. Each lookup returns the validation accuracy of
# the cell trained with both seeds (their mean). The score is the **regret**: the best validation
# accuracy in the table minus that of the architecture the search picked (lower is better; 0 = the
# search found the best cell).

# %%
from collections import deque

def my_evolution(seed, budget=100, population_size=10, sample_size=3):   # NATS-Bench's settings
    rng = np.random.default_rng(seed)
    objective = lambda a: table.objective(a, rng)[0]
    population = deque((a, objective(a)) for a in (space.sample(rng) for _ in range(population_size)))
    history = list(population)
    for _ in range(budget - population_size):
        child = evolution_step(population, objective, sample_size, rng)
        history.append(population[-1])
    return table.regret(max(history, key=lambda member: member[1])[0])

mine = [my_evolution(s) for s in range(100)]
rand = [table.regret(strategies.RandomSearch(space, seed=s).run(lambda a: table.objective(a)[0], 100).best_arch_)
        for s in range(100)]
print(f"regret after 100 evaluations, median / mean over 100 seeds: your evolution "
      f"{100 * np.median(mine):.2f} / {100 * np.mean(mine):.2f} points, "
      f"random search {100 * np.median(rand):.2f} / {100 * np.mean(rand):.2f} points")

# %% [markdown]
# ### The race
#
# All four strategies of the lecture behind one interface (`labkit.nas.strategies`): random search,
# regularized evolution, REINFORCE (a softmax per edge, trained by policy gradient), and Bayesian
# optimization (a Gaussian process over the one-hot encoding, expected improvement). Move the
# budget; the race reruns over 100 seeds in seconds. Two things to try:
# * **test regret**: the cell that wins on 800 validation samples is not always the one that wins on
#   1,000 test samples; choose on validation, report test once;
# * **one random training seed per lookup** (NAS-Bench-201's protocol): the table's 4-epoch training
#   is noisy (the two seeds of a cell differ by 3.6 points in the median), every strategy then
#   chases lucky seeds, and the differences between strategies mostly vanish. Noise in the
#   performance estimate is as important as the strategy.

# %%
explorer = viz.race_explorer(table, seeds=100)
explorer

# %%
result = explorer.result
for name in result.curves:
    print(f"{viz.LABELS[name]:24s} median regret after 100: {100 * result.median(name, 100):5.2f} points  "
          f"mean {100 * result.curves[name][:, 99].mean():5.2f}  ({result.seconds[name]:.1f} s for 100 seeds)")
assert result.median("evolution", 100) <= result.median("random", 100)  # the claim benchmarks/nas.py measures over 100 seeds

# %% [markdown]
# ## 3 · Performance estimation
#
# Full training is the honest estimate and the expensive one. The cheaper ones are useful only if
# they **rank** architectures as full training does: Spearman's $\rho$ and Kendall's $\tau$ against
# the table's full-training accuracy (mean of 2 seeds) for 40 cells. For scale, a second training
# seed is itself only an estimate of the first. The table of live estimates was computed by
# `scripts/precompute_nas_estimators.py`.

# %%
frame = viz.estimator_table(table=table)
viz.plot_estimators(frame)
plt.show()
frame.round(3)

# %% [markdown]
# The table also holds every learning curve, so two estimators can be measured on **all** 483
# networks at no cost: stopping early (epoch 1 or 2 of 4), and extrapolating from the first two
# epochs with a power law $acc(t) = a - b\,t^{-1}$.

# %%
df = table.frame()
reps = [space.arch_at(int(i)) for i in table.arrays["representative"]]
truth = df["val_acc"].to_numpy()
curves = table.arrays["val_acc"].mean(1)                    # (networks, epochs), mean of seeds
rows = {f"stop after epoch {e}": curves[:, e - 1] for e in (1, 2, 3)}
rows["extrapolate epochs 1-2"] = np.array([estimators.fit_learning_curve([1, 2], c[:2], exponent=1.0)(4) for c in curves])
for name, est in rows.items():
    print(f"{name:26s}", estimators.rank_correlation(est, truth))

# %% [markdown]
# ## 4 · Efficiency-aware search
#
# The lecture's first slide: a network is efficient in size, latency and MACs, not only accurate. Each
# point is a distinct cell; the red line is the **Pareto front**, the cells that no other cell beats
# on both axes. Choose a cost measure and a budget.

# %%
viz.pareto_explorer(table)

# %% [markdown]
# A constraint turns into an objective: cells over a MAC budget score 0. Regularized evolution with
# that objective finds cells under the budget close to the best the budget allows.

# %%
limit = int(np.quantile(df["macs"], 0.3))
allowed = df[df["macs"] <= limit]
objective = viz.constrained_objective(table, limit)

def constrained_search(seed):
    rng = np.random.default_rng(seed)
    return strategies.RegularizedEvolution(space, seed=seed).run(lambda a: objective(a, rng), 100).best_arch_

found = [constrained_search(s) for s in range(20)]
print(f"MAC budget {limit:,}: the best cell under it has val {100 * allowed['val_acc'].max():.1f} % "
      f"(best overall {100 * df['val_acc'].max():.1f} %); evolution's picks over 20 seeds: median val "
      f"{100 * np.median([table.val_acc(a) for a in found]):.1f} %, "
      f"all under budget: {all(table.macs(a) <= limit for a in found)}")

# %% [markdown]
# ## 5 · A live search
#
# Now with real training: regularized evolution over **chains** (2-3 convolutions of 16 or 32
# channels), each screened by 2 epochs of training (low fidelity), then the winner retrained for 12
# epochs and tested once. `benchmarks/nas.py` runs it with 10 architectures: about 95 % test accuracy
# (published MNIST-1D: CNN 94 %, MLP 68 %) in 2-3 minutes on a busy 2-core machine. The button runs the
# same; below, a tiny budget checks the plumbing.

# %%
viz.live_search_button(budget=10)

# %%
tiny = estimators.live_search(budget=2, screen_epochs=1, final_epochs=2, progress=False)
print(f"tiny search: {chain_space.to_string(tiny.best_arch)}, test accuracy {100 * tiny.test_acc:.1f} % "
      f"after {tiny.seconds:.1f} s")

# %% [markdown]
# ## 6 · Reporting NAS honestly (Lindauer & Hutter 2020)
#
# * **Compare with random search** in the same space, with the same budget. Here random search is
#   within 1-2 points of every strategy after 100 lookups, and with one noisy training seed per lookup
#   no strategy beats it (`benchmarks/nas.py`, part 1c): much of a NAS result is the space and the
#   estimate.
# * **Several seeds**, medians and spreads, never one lucky run (the race uses 30-100).
# * **Full cost**: the table's construction (966 trainings, 3.4 hours of wall time on a shared 2-core
#   machine), the supernet's training, the parents' training all count.
# * **Tune on validation, report test once** (the table keeps both; strategies only see validation).
# * Release the code and the space (`labkit.nas`, `scripts/build_nas_table.py`).
#
# ## Question from the lecture
#
# **What are the main elements of NAS?** The *search space* (which architectures can be expressed:
# chains, cells), the *search strategy* (how to move through it: random, Bayesian optimization,
# evolution, reinforcement learning, gradient methods such as DARTS), and *performance estimation*
# (how to score an architecture: full training, or cheaper proxies: fewer epochs, less data, smaller
# networks, learning-curve extrapolation, inherited weights, a one-shot supernet). Sections 1, 2 and
# 3 above measured one each.
