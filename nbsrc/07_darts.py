# %% [markdown]
# # 07 · DARTS: differentiable architecture search on a CPU
#
# **Lecture 6, slides "Автоматизированный поиск архитектуры НС (1)-(3)" and "DARTS - Differentiable
# Neural Architecture Search (2019)".**
#
# After this notebook you will be able to
# * write the **mixed operation** that turns the discrete choice "which operation on this edge?" into a
#   softmax-weighted sum, so that the architecture has a gradient;
# * read a DARTS search as it runs: architecture weights per edge and epoch, the derived cell;
# * **derive** the discrete cell from the architecture weights (top-2 edges per node, best operation per edge);
# * judge a search the way Lindauer & Hutter (2020) ask: against random cells from the same space,
#   trained the same way, over several seeds, with its full cost;
# * explain first- vs second-order DARTS, the **collapse to skip connections**, and guard against it.
#
# Search space, search strategy, performance estimation (the slide's three elements) map onto
# `labkit.nas.darts`: `ops.py` + `cell.py` (space), `search.py` (strategy), `estimate.py` (estimation).
# The heavy searches were run by `scripts/precompute_darts.py` and are read from `data/darts/`; the
# notebook runs in about a minute and a half.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn import functional as F

from labkit import data, train
from labkit.checks import darts as checks
from labkit.nas.darts import (PRIMITIVES, DartsSearch, DerivedNetwork, Genotype, NetworkConfig, SearchConfig,
                              SearchNetwork, derive, make_op, num_edges, random_genotype)
from labkit.nas.darts import diagnostics
from labkit.widgets import darts as viz

train.set_threads(1)
ds = data.load("mnist1d", seed=0)
runs = {name: viz.load(name) for name in ("first", "second", "fast", "long", "deep")}
retrained = viz.load("retrain")
print("train", len(ds.train), "validation", len(ds.val), "| operations:", ", ".join(PRIMITIVES))

# %% [markdown]
# ## 1 · The search space: one cell, eight operations per edge
#
# DARTS searches for one **cell**, a small graph: two inputs (the outputs of the previous two cells),
# a few intermediate nodes, and on every edge one operation out of eight: `none`, `skip_connect`,
# 3-tap max and average pooling, separable convolutions with 3 and 5 taps, dilated convolutions with 3
# and 5 taps (the paper's 3x3 / 5x5, made 1-D for MNIST-1D). The network stacks copies of the cell.
#
# Choosing an operation is discrete: no gradient. The **continuous relaxation** (DARTS eq. 2) keeps all
# eight on every edge and mixes them with weights `softmax(alpha)`:
#
# $$\bar o^{(i,j)}(x) = \sum_{o} \frac{\exp \alpha^{(i,j)}_o}{\sum_{o'} \exp \alpha^{(i,j)}_{o'}}\, o(x)$$
#
# Below: one edge on one MNIST-1D signal, each operation's output (thin, more opaque = heavier) and the
# mixture (black). Here `alpha` favours the 5-tap separable convolution and the skip connection.

# %%
x0 = ds.train.X[0]
alpha_demo = torch.zeros(len(PRIMITIVES))
alpha_demo[PRIMITIVES.index("sep_conv_5")] = 1.5
alpha_demo[PRIMITIVES.index("skip_connect")] = 1.0
viz.plot_edge(x0, alpha_demo, PRIMITIVES)
plt.show()

# %% [markdown]
# ### Exercise 1 · the mixed operation
#
# Write `mixed_op(x, alpha, ops)`: `x` is a batch `(batch, channels, length)`, `alpha` holds one raw
# architecture weight per operation, `ops` is the list of operation modules. Return
# `sum_o softmax(alpha)_o * ops[o](x)`.

# %% exercise="mixed_op"
def mixed_op(x, alpha, ops):
    ### BEGIN SOLUTION
    weights = F.softmax(alpha, dim=0)  # (ops,), sums to 1
    return sum(w * op(x) for w, op in zip(weights, ops))
    ### END SOLUTION


# %% check="mixed_op"
checks.check_mixed_op(mixed_op)

# %% [markdown]
# ## 2 · The search network and the bilevel problem
#
# Our cell has 3 intermediate nodes, so 2 + 3 + 4 = 9 mixed edges (the paper: 4 nodes, 14 edges);
# two cells of 8 channels are stacked. The architecture `alpha` is one `(edges, operations)` matrix,
# shared by both cells. DARTS optimises two things on two data sets, **both carved from the training
# split** (the test split is never used to choose anything):
#
# $$\min_\alpha \; L_{val}(w^*(\alpha), \alpha) \quad \text{s.t.} \quad w^*(\alpha) = \arg\min_w L_{train}(w, \alpha)$$
#
# It alternates: a step on `alpha` using a validation batch, then a step on the weights `w` using a
# training batch. The **first-order** variant takes the gradient of `L_val` at the current `w`; the
# **second-order** one looks one virtual SGD step ahead, `w' = w - xi * grad_w L_train`, and corrects
# with a Hessian-vector product computed by finite differences (eq. 7-8, `unrolled_alpha_grad`).

# %%
net_cfg = NetworkConfig(channels=8, cells=2, nodes=3)
supernet = SearchNetwork(ds.num_classes, net_cfg)
n_w = sum(p.numel() for p in supernet.weights())
print(f"edges per cell: {num_edges(3)}, alpha: {tuple(supernet.alphas.shape)}, weights w: {n_w:,} parameters")
print("search config (paper values in labkit/nas/darts/search.py):", runs["first"]["config"])

# %% [markdown]
# ## 3 · Watching the search
#
# The precomputed first-order search: 20 epochs, the first 10 a **warm-up** in which only `w` trains
# (P-DARTS, PC-DARTS: untrained convolutions would otherwise lose to parameter-free pooling at once),
# then 10 bilevel epochs with the paper's architecture optimiser (Adam, learning rate 3e-4, betas
# (0.5, 0.999), weight decay 1e-3). Drag the slider (the dropdown also shows the other stored searches):
# left, `softmax(alpha)` for every edge after that epoch; middle, the mean weight of each operation so
# far; right, the cell derived at that epoch. The weights move little in 250 steps: what counts for the
# derived cell is their ranking, not their size.

# %%
dash = viz.dashboard("first")
dash

# %%
first = runs["first"]
h = first["history"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
axes[0].plot(range(1, len(h["val_acc"]) + 1), h["val_acc"], marker=".")
axes[0].axvline(first["config"]["warmup_epochs"] + 0.5, color="0.6", ls=":", label="alpha starts moving")
axes[0].set(xlabel="search epoch", ylabel="supernet validation accuracy (fraction)", title="the supernet learns")
axes[0].legend()
viz.plot_trajectories(first["alpha_history"], first["primitives"], edge=0, ax=axes[1])
plt.tight_layout()
plt.show()
print(f"search cost: {first['cpu_seconds']:.0f} CPU-seconds (one core); derived cell: {Genotype.from_list(first['genotype'])}")

# %% [markdown]
# ### Exercise 2 · deriving the discrete cell
#
# Write `derive_cell(alphas, primitives)`. `alphas` is a NumPy array `(edges, operations)`; the rows are
# ordered node by node: node 0 has 2 incoming edges (from states 0 and 1), node 1 has 3 (states 0, 1, 2),
# and so on. For every node:
# 1. the **strength** of an incoming edge is its largest softmax weight among the operations other
#    than `none`;
# 2. keep the **2 strongest** incoming edges;
# 3. on each, take the operation with the largest weight, again ignoring `none`.
#
# Return a list with one entry per node: a list of the two `(operation_name, input_state)` pairs.

# %% exercise="derive"
def derive_cell(alphas, primitives):
    ### BEGIN SOLUTION
    weights = np.exp(alphas - alphas.max(axis=1, keepdims=True))
    weights = weights / weights.sum(axis=1, keepdims=True)
    usable = np.array([p != "none" for p in primitives])
    weights = np.where(usable, weights, -np.inf)
    cell, row, j = [], 0, 0
    while row < len(alphas):
        incoming = weights[row:row + j + 2]               # edges from states 0 .. j+1
        strongest = np.argsort(-incoming.max(axis=1))[:2]  # 1-2: top-2 edges by non-none strength
        cell.append([(primitives[int(incoming[i].argmax())], int(i)) for i in strongest])  # 3
        row, j = row + j + 2, j + 1
    return cell
    ### END SOLUTION


# %% check="derive"
checks.check_derive(derive_cell)

# %% [markdown]
# The same rule, applied to the final alphas of the precomputed search, gives the stored cell:

# %%
final_alphas = np.log(first["alpha_history"][-1])
print(derive(final_alphas, first["primitives"]))
viz.draw_genotype(Genotype.from_list(first["genotype"]), title="derived cell (first-order search)")
plt.show()

# %% [markdown]
# ## 4 · Does the search find anything? Derived cell vs random cells
#
# A NAS result means little until it beats random architectures of the **same space** trained **the
# same way** (Lindauer & Hutter 2020). Every cell below was retrained from scratch: 16 channels, 2
# cells, 15 epochs of Adam, validation accuracy (the test split stays untouched in this notebook;
# `benchmarks/darts.py` repeats this with more seeds and reports test accuracy once, at the end).

# %%
viz.plot_retrain(retrained)
plt.xticks(rotation=30, ha="right")
plt.show()
for name, accs in retrained["groups"].items():
    print(f"{name:>28}: {np.mean(accs):.3f} +- {np.std(accs):.3f}  ({len(accs)} trained networks)")
verdict = np.mean(retrained["groups"]["derived (first)"]) > np.mean(retrained["groups"]["random cells"])
print("derived cell beats the mean random cell:", verdict)

# %% [markdown]
# Read the table before believing any NAS result, and read it with its noise: each point is one network
# trained once, and the same cell trained with another seed moves by about one point (the benchmark's
# table shows the spread). **"fast alpha, short warm-up"** is this lab's first search: 4 warm-up epochs,
# then alpha at 10x the paper's learning rate. Its alpha ran towards max pooling, which lowers the
# validation loss before any convolution has learnt something (the bias behind the skip collapse; Wang
# et al. 2021 show why alpha's magnitude is then a poor guide), and its cell is the weakest derived one
# here, as it was in the first benchmark (below random cells on three training seeds). The search now
# lets `w` train alone for half its epochs (P-DARTS, PC-DARTS) and moves alpha at the paper's rate. Its
# cell still holds pooling, and retrains well: pooling as such is not the problem on MNIST-1D (the fast
# cell with its pooling capped, "fast + cap", did no better). At this scale the differences between
# cells are about as large as the training noise, and random cells of a good space are a strong
# baseline (Li & Talwalkar 2019; Yu et al. 2020): `benchmarks/darts.py` therefore compares five fresh
# search seeds with eight random cells, two training seeds each, on test accuracy, and tests whether
# the gap exceeds the noise.

# %% [markdown]
# ## 5 · First vs second order: cost and result
#
# The second-order gradient needs, per step, the virtual step, a validation gradient at `w'` and two
# more training gradients at `w +- eps * v` (eps = 0.01 / ||v||): two to three times the first-order
# cost (the paper: 4 vs 1.5 GPU-days, 2.7x, for 2.76 % vs 3.00 % CIFAR-10 error). Here the cost of one
# bilevel step of each, measured now on this machine (interleaved, so the load affects both alike):

# %%
w_half, a_half = ds.train.subset(256, seed=0), ds.train.subset(256, seed=1)
xt, yt, xv, yv = w_half.X[:64], w_half.y[:64], a_half.X[:64], a_half.y[:64]
timers = {}
searches = {o: DartsSearch(net_cfg, SearchConfig(order=o, epochs=1, warmup_epochs=0)).setup(10, 10)
            for o in ("first", "second")}
import time
for rep in range(3):
    for order, s in searches.items():
        t = time.process_time()
        s.step((xt, yt), (xv, yv))
        timers.setdefault(order, []).append(time.process_time() - t)
ratio = np.median(timers["second"]) / np.median(timers["first"])
print(f"CPU seconds per step: first {np.median(timers['first']):.2f}, second {np.median(timers['second']):.2f}"
      f" -> second / first = {ratio:.1f}x")
second = runs["second"]
print(f"precomputed full searches: first {first['cpu_seconds']:.0f} CPU-s, second {second['cpu_seconds']:.0f} CPU-s"
      f" ({second['cpu_seconds'] / first['cpu_seconds']:.1f}x, warm-up epochs included)")
print("second-order cell:", Genotype.from_list(second["genotype"]))

# %% [markdown]
# ## 6 · The collapse to parameter-free operations, and its guards
#
# Run DARTS long enough and the derived cell fills with operations that have no weights, in the paper's
# setting above all `skip_connect`. In the supernet a skip passes the signal and the gradient straight
# through, so while the convolutions are still weak the validation loss falls fastest by leaning on
# it; its weight grows, the convolutions get less gradient, and the loop feeds itself. On
# NAS-Bench-201 both DARTS orders collapse to 54 % accuracy where random search reaches 94 %.
#
# Two long runs without warm-up (the paper's schedule) on only 600 training samples, so that the
# supernet's weights fit their half of the data early: our 2-cell supernet for 40 epochs, and a deeper
# one (5 cells of 4 channels) for 30, where a skip is also a residual shortcut, as in the paper's
# 8-cell supernet. Left: skips in the derived cell per epoch; right: mean weight of each operation.

# %%
long_runs = {"2 cells, 40 epochs": runs["long"], "5 cells, 30 epochs": runs["deep"]}
fig, axes = plt.subplots(1, 3, figsize=(17, 3.6))
viz.plot_skips({"first order, 20 epochs": first, "second order, 20 epochs": second, **long_runs},
               max_skips=2, ax=axes[0])
for ax, (title, run) in zip(axes[1:], long_runs.items()):
    for name in PRIMITIVES[1:]:
        ax.plot(diagnostics.op_weight(run["alpha_history"], name, run["primitives"]), label=viz.SHORT[name],
                color=viz.COLORS[name], lw=2.2 if name in ("skip_connect", "max_pool_3", "avg_pool_3") else 1)
    ax.set(xlabel="search epoch", ylabel="mean operation weight (softmax)", title=title)
    ax.legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()
for title, run in long_runs.items():
    g = Genotype.from_list(run["genotype"])
    free = sum(g.count(op) for op in ("skip_connect", "max_pool_3", "avg_pool_3"))
    stop = diagnostics.collapse_epoch(run["history"]["skips"], max_skips=2)
    print(f"{title}: {g}  ({free} of {2 * len(g.nodes)} edges parameter-free; early-stop guard fires at epoch {stop})")

# %% [markdown]
# What the runs show: in both, the mean weight of the three parameter-free operations climbs from
# 1/8 = 0.125 to about 0.14-0.15 while most convolutions fall, and the deeper supernet derives a cell
# with 5 of its 6 edges parameter-free (pooling and one skip). Skips alone never exceed 2 here, so the
# skip-count guard never fires: a full collapse to skips needs the paper's scale (8 cells, 50 epochs,
# 25,000 images), which a CPU lab cannot afford; the guard itself is tested on hand-written alphas in
# `tests/test_darts.py`.
#
# The guards. **Early stopping** (DARTS+, `SearchConfig(max_skips=2)`) ends the search at the first
# epoch whose derived cell holds more than 2 skips and keeps the cell before. A **cap** (P-DARTS,
# `derive(alphas, max_skips=2)`) keeps at most 2 skips and gives the other edges their best remaining
# operation. Both rest on the paper's observation that good cells hold about two skips. In the fast
# search of section 4 pooling rather than skips took over, so there the cap is applied to all
# parameter-free operations (`capped=PARAMETER_FREE`); its retrained accuracy is in the table of
# section 4, and there it did not help: the cap rests on the paper's experience, not on a measurement
# for this task. A third remedy changes the derivation itself: **DARTS-PT** (Wang et al. 2021,
# `SearchConfig(selection="perturbation")`, `labkit/nas/darts/perturb.py`) keeps on each edge the
# operation whose removal costs the trained supernet the most validation accuracy, instead of the
# largest alpha; at our budget it did not beat the argmax cell on the two supernets we tried.

# %%
free_ops = ("skip_connect", "max_pool_3", "avg_pool_3")
fast = runs["fast"]
fast_alphas = np.log(fast["alpha_history"][-1])
print("fast search's cell:         ", Genotype.from_list(fast["genotype"]))
print("with the cap on skip & pool:", derive(fast_alphas, fast["primitives"], max_skips=2, capped=free_ops))
for name in ("derived (first)", "fast alpha, short warm-up", "fast + cap on skip & pool", "long search",
             "long + cap (P-DARTS)"):
    if name in retrained["cells"]:
        c = retrained["cells"][name]
        print(f"{name:>28}: val acc {np.mean(c['val_acc']):.3f}")

# %% [markdown]
# ## 7 · "About 100x cheaper"?
#
# The slide says DARTS is about 100 times more efficient. The paper compares GPU-days: NASNet-A
# (reinforcement learning) 1800, AmoebaNet (evolution) 3150, DARTS 1.5 (first order) to 4 (second
# order): three orders of magnitude, but ENAS needs only 0.5 GPU-days, so the factor depends on the
# baseline. What we can measure honestly: the search costs as much as training a handful of candidate
# networks, while the space holds a number of cells that no one could train one by one.

# %%
retrain_cost = np.mean([c for v in retrained["cells"].values() for c in v["cpu_seconds"]])
space = np.prod([(j + 2) * (j + 1) / 2 * (len(PRIMITIVES) - 1) ** 2 for j in range(3)])
rand = np.asarray(retrained["groups"]["random cells"])
derived_acc = np.mean(retrained["groups"]["derived (first)"])
p_hit = np.mean(rand >= derived_acc)
print(f"cells in the space: {space:,.0f}; one retraining: {retrain_cost:.0f} CPU-s")
print(f"first-order search = {first['cpu_seconds'] / retrain_cost:.1f} retrainings; "
      f"training every cell = {space:,.0f} retrainings")
print(f"share of random cells at least as good as the derived one: {p_hit:.2f} "
      f"(random search needs about {1 / max(p_hit, 1 / len(rand)):.0f} trainings to hit one)")

# %% [markdown]
# ## 8 · Your turn: a live search
#
# The button runs a small search live (a subset of the data, a few epochs) with a progress bar; the
# function behind it is `viz.run_live_search`, called here once with a tiny budget.

# %%
live = viz.run_live_search(epochs=1, n_train=256, progress=False)
print("live search, 1 epoch:", live["genotype"], "| supernet val acc", round(live["history"]["val_acc"][-1], 3))
viz.live_search_button(epochs=3, n_train=800)

# %% [markdown]
# ## Review
#
# * Why does DARTS need two data sets during the search, and why must both come from the training split?
# * What does the second-order term correct, and what does it cost?
# * Why do parameter-free operations win in a long search, and how do the two guards differ?
# * The slide's "~100x": compared with what? What would you measure to check it on your own task?
