# %% [markdown]
# # 01 · Pruning: remove what the network does not need
#
# **Lecture 6, slides "Прореживание НС", "Algorithm 1: Standard Network Pruning with Fine-Tuning" and
# "Особенности алгоритмов прореживания НС".**
#
# After this notebook you will be able to
# * write a **saliency** criterion, the **select-min-k** step and the **Algorithm 1** loop yourself;
# * say what each design choice of the slide does: the criterion, what is removed (weights or whole
#   neurons), how removal is spread over the layers, the schedule, and regrowth;
# * tell a model that is *masked* from one that is *smaller* and *faster*, with measured numbers.
#
# The model is an MLP on scikit-learn's **digits** (8x8 images, 1,797 of them), small enough that
# everything below trains in seconds on a CPU. Heavy sweeps (5 criteria x 2 granularities x 3 schedules
# x 8 sparsities x 3 seeds, where the combination exists) were run by `scripts/precompute_pruning.py`;
# the widgets read them.

# %%
import copy

import matplotlib.pyplot as plt
import torch
from torch import nn

from labkit import data, metrics, models, pruning, train
from labkit.checks import pruning as checks
from labkit.widgets import pruning as viz

train.set_threads(1)
ds = data.load("digits", seed=0)
torch.manual_seed(0)
dense = models.mlp(ds.input_shape, hidden=(128, 64), num_classes=ds.num_classes)
hist = train.fit(dense, ds.train, ds.val, epochs=40, lr=3e-3, seed=0)
print(f"dense MLP 64-128-64-10: {metrics.count_params(dense):,} parameters, "
      f"validation accuracy {hist.val_acc[-1]:.3f}")

# %% [markdown]
# ## 1 · Algorithm 1, line by line
#
# ```
# 1  W' <- W
# 2  for i <- 1 to N do
# 3      S  <- compute_saliency_scores(W')
# 4      W' <- W' - select_min_k(S, p * |W'|)
# 5      W' <- fine_tune(X, W')
# 7  return W'
# ```
#
# **Line 3, saliency.** How much would the loss grow if weight $w_k$ were set to 0? A Taylor expansion
# (LeCun et al. 1990) gives $\Delta L \approx -g_k w_k + \tfrac12 h_{kk} w_k^2$ with $g = \partial L/\partial w$.
# The **magnitude** criterion $|w_k|$ ignores the loss; the **first-order Taylor** criterion keeps the first
# term, $|w_k\,g_k|$; **OBD** keeps the second, $\tfrac12 h_{kk} w_k^2$ (used at a minimum, where $g \approx 0$).
#
# *Exercise 1.* Write the first-order Taylor saliency of a weight tensor given its gradient.

# %% exercise="taylor"
def taylor_saliency(weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """|w * g| for every weight: the size of the first-order change of the loss when w is removed."""
    ### BEGIN SOLUTION
    return (weight * grad).abs()
    ### END SOLUTION


# %% check="taylor"
checks.check_taylor_saliency(taylor_saliency)

# %% [markdown]
# **Line 4, select_min_k.** Among the weights *still there*, remove the `round(p * alive)` with the
# smallest score. The slide's `|W'| / p` is read as `p * |W'|`: `p` is a **share of the remaining
# weights**, the convention of `torch.nn.utils.prune`. So N rounds leave $(1-p)^N$ of the weights: 5 rounds
# of 36.9 % remove 90 %, and to reach sparsity $s$ in $N$ rounds take $p = 1 - (1-s)^{1/N}$.
#
# *Exercise 2.* Given scores, the current 0/1 mask and `amount`, return the new mask. Removed weights
# must stay removed; rank only the alive ones (`scores[mask]`). The check compares your masks with
# `torch.nn.utils.prune.l1_unstructured` over two rounds.

# %% exercise="select"
def select_min_k(scores: torch.Tensor, mask: torch.Tensor, amount: float) -> torch.Tensor:
    """New mask: the current one minus the round(amount * alive) alive entries of lowest score."""
    ### BEGIN SOLUTION
    mask = mask.clone().bool()
    alive = mask.reshape(-1).nonzero().reshape(-1)            # flat indices of weights still there
    k = round(amount * alive.numel())
    if k > 0:
        lowest = torch.topk(scores.reshape(-1)[alive], k, largest=False).indices
        mask.view(-1)[alive[lowest]] = False
    return mask
    ### END SOLUTION


# %% check="select"
checks.check_select_min_k(select_min_k)

# %% [markdown]
# **Lines 2-5, the loop.** Masks must *stay* applied through fine-tuning: an optimizer step would
# otherwise bring removed weights back. `pruning.keep_masks(masks)` returns a callback that zeroes them
# again after every optimizer step; `fine_tune(model, after_step)` calls it.
#
# *Exercise 3.* Write Algorithm 1 with the magnitude criterion, layer by layer, using your
# `select_min_k`, `pruning.full_masks(model)` (line 1), `pruning.apply_masks` and `pruning.keep_masks`.

# %% exercise="algorithm1"
def algorithm1(model: nn.Module, rounds: int, fraction: float, fine_tune) -> dict:
    """Prune `fraction` of the remaining weights of every layer `rounds` times, fine-tuning after each."""
    ### BEGIN SOLUTION
    masks = pruning.full_masks(model)                                         # 1: W' <- W
    params = dict(model.named_parameters())
    for i in range(rounds):                                                   # 2: for i <- 1 to N
        scores = {name: params[name].detach().abs() for name in masks}        # 3: S (magnitude)
        masks = {name: select_min_k(scores[name], masks[name], fraction) for name in masks}  # 4
        pruning.apply_masks(model, masks)
        fine_tune(model, pruning.keep_masks(masks))                           # 5: fine-tune, masks kept
    return masks                                                              # 7
    ### END SOLUTION


# %% check="algorithm1"
checks.check_algorithm1(algorithm1)

# %% [markdown]
# Your loop on the digits MLP: 5 rounds of 36.9 % of each layer (90 % removed in the end), 3 epochs of
# fine-tuning each. Beside it, `labkit.pruning.prune_and_finetune`, the same loop with every criterion
# and allocation of the slide, here with one **global** threshold instead of the same share per layer.
# Uniform pruning strips the small output layer (640 weights) to 64: watch the difference, and see
# section 3 for why.

# %%
def fine_tune(model, after_step):
    train.fit(model, ds.train, ds.val, epochs=3, lr=3e-3, after_step=after_step, seed=0, progress=False)


pruned = copy.deepcopy(dense)
masks = algorithm1(pruned, rounds=5, fraction=pruning.fraction_per_round(0.9, 5), fine_tune=fine_tune)
global_run = pruning.prune_and_finetune(copy.deepcopy(dense), 5, pruning.fraction_per_round(0.9, 5),
                                        scope="global", fine_tune=fine_tune)
print(f"sparsity {pruning.sparsity(masks):.3f}; validation accuracy: dense {train.accuracy(dense, ds.val):.3f}, "
      f"your uniform loop {train.accuracy(pruned, ds.val):.3f}, "
      f"global threshold {train.accuracy(global_run.model, ds.val):.3f}")
viz.plot_weight_histograms(dense, pruned)
plt.title("magnitude pruning removes the weights around 0")
plt.show()

# %% [markdown]
# ## 2 · Criterion x granularity x schedule, from the cached sweep
#
# Each point is the validation accuracy after pruning and fine-tuning, averaged over 3 seeds (bars: std).
# * **criteria**: `magnitude`, `random` (the baseline any criterion must beat), `taylor` ($|w\,g|$ over
#   mini-batches), `obd` ($\tfrac12 h_{kk} w^2$; the Hessian diagonal estimated with Hutchinson's trick,
#   $h \approx \mathbb{E}_z[z \odot Hz]$ for random $\pm1$ vectors $z$, $Hz$ by differentiating the gradient
#   twice) and `snip` ($|w\,g|$ at initialisation, before any training, then trained from scratch);
# * **granularity**: single `weight`s, or whole `channel`s (neurons) removed;
# * **schedule**: `one-shot` (one round to the target), `iterative` (Algorithm 1, one fine-tuning per
#   round: more budget), `gradual` (Zhu & Gupta's cubic schedule during training; magnitude only).
#
# Things to look for (3 seeds, fine-tuning of 4 epochs at lr 1e-3 per round):
# * `random` collapses first: every criterion must beat it to mean anything;
# * the schedule's verdict depends on the fine-tuning budget: with this short budget, iterative
#   *magnitude* pruning falls behind one-shot above ~85 % (each round's cut lands on a network that has
#   not recovered), while iterative *Taylor* pruning holds up longest. With 8 epochs at 3e-3 per round,
#   iterative magnitude pruning keeps the dense accuracy at 90 % (`benchmarks/pruning.py`);
# * `snip` looks best in the one-shot panel because it then trains for a full 40 epochs from scratch: a
#   different budget, not a better criterion;
# * removing whole neurons costs far more accuracy per removed weight than single weights, but only
#   neurons make the model smaller and faster (section 5).

# %%
sweep = viz.load("sweep")
explorer = viz.sweep_explorer(sweep)
explorer

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
viz.plot_sweep(sweep, ("magnitude", "random", "taylor", "obd"), "weight", "one-shot", ax=axes[0])
viz.plot_sweep(sweep, ("magnitude", "random", "taylor", "obd"), "channel", "iterative", ax=axes[1])
plt.show()

# %% [markdown]
# ## 3 · Where to remove: sensitivity and allocation
#
# **Sensitivity scan**: prune one layer alone, to 10 ... 90 %, without fine-tuning, and measure the
# validation accuracy. The small first and last layers are the most sensitive.

# %%
scan = pruning.sensitivity_scan(dense, lambda m: train.accuracy(m, ds.val))
viz.plot_sensitivity(scan)
plt.title("one layer pruned at a time (no fine-tuning)")
plt.show()
shares = pruning.shares_from_sensitivity(scan, max_drop=0.01)
print("largest share per layer with at most 1 point lost:", shares)

# %% [markdown]
# **Allocation** at 80 % overall: the same share everywhere (`layer`), one global threshold (`global`),
# or the shares the scan allows. A global threshold strips the big middle layer hardest and spares
# the output layer, without being told.

# %%
weights = pruning.prunable_weights(dense)
scores = {n: p.detach().abs() for n, p in weights.items()}
allocations = {"layer (uniform)": pruning.magnitude_masks(dense, 0.8, scope="layer"),
               "global threshold": pruning.magnitude_masks(dense, 0.8, scope="global"),
               "from sensitivity": pruning.select_min_k(scores, pruning.full_masks(dense), 0.0, shares)}
viz.plot_layer_sparsity(allocations)
plt.title("share removed per layer")
plt.show()
for name, m in allocations.items():
    print(f"{name:>17}: overall sparsity {pruning.sparsity(m):.2f}")

# %% [markdown]
# **What the first layer keeps.** Each first-layer neuron reads 64 pixels. A pixel that is blank in
# every image never sends a gradient to its weights: they keep their small initial values and fall
# under the global threshold, while the weights of useful pixels grow. After iterative global pruning to
# 90 %, each neuron keeps a handful of pixels (drawn as 8x8 images), and the always-blank pixels are
# read by no neuron at all (counted below).

# %%
first = global_run.masks["1.weight"]                # (128 neurons, 64 pixels)
viz.plot_first_layer_masks(first, n=16)
plt.show()
blank = (ds.train.X == 0).all(0)                     # (64,) pixels blank in every training image
gone = ~first.any(0)                                 # (64,) pixels no neuron reads any more
print(f"pixels blank in every training image: {int(blank.sum())}; pixels with no weight left: "
      f"{int(gone.sum())}; blank pixels among them: {int((blank & gone).sum())}")

# %% [markdown]
# ## 4 · Regrowth: connections that come back
#
# Sparse training from scratch at 90 %: a **static** random mask, **SET** (drop the smallest weights,
# regrow at random) and **RigL** (regrow where the gradient is largest), every 20 steps with RigL's cosine
# drop fraction. Cached runs, 3 seeds (band: min-max).

# %%
regrowth = viz.load("regrowth")
viz.plot_regrowth(regrowth)
plt.show()
print("weights moved per run:", regrowth["moved"])

# %% [markdown]
# ## 5 · Masked is not smaller: dense vs masked vs physically pruned
#
# A mask multiplies by zero but keeps every matrix its full shape: same bytes, same MACs, same time.
# `pruning.remove_channels` builds a **smaller model** instead (rows of the layer, the BatchNorm entries
# and the next layer's inputs removed). It computes exactly what the channel-masked model computes:

# %%
torch.manual_seed(0)
cnn = models.cnn2d(ds.input_shape, channels=(32, 64), num_classes=ds.num_classes)
train.fit(cnn, ds.train, ds.val, epochs=5, lr=3e-3, seed=0, progress=False)
small, alive = pruning.prune_channels(cnn, 0.5)
masked = pruning.apply_masks(copy.deepcopy(cnn), pruning.channel_masks(cnn, alive))
x = ds.val.X[:256]
assert torch.allclose(small.eval()(x), masked.eval()(x), atol=1e-5)
unstructured = pruning.apply_masks(copy.deepcopy(cnn), pruning.magnitude_masks(cnn, 0.75))
table = viz.efficiency_table({"dense": cnn, "75 % of weights masked": unstructured,
                              "50 % channels masked": masked, "50 % channels removed": small},
                             ds.input_shape, batch_size=256, repeats=10)
table

# %% [markdown]
# Only the removed channels cut bytes, MACs and time. The masked models still run every MAC; "MACs on
# non-zeros" is what a sparse kernel *could* skip, and CSR storage pays a 4-byte index per non-zero.
#
# **Latency is not MACs.** Halving every channel cuts MACs 3-4x, but the measured speedup is lower,
# and it depends on the width and the batch (cached, CNN family `cnn2d` on 3x32x32 inputs, one thread):
# * a convolution's MACs fall as (channels in) x (channels out), ~4x; BatchNorm, ReLU and pooling pass over
#   the activations once, so their time falls only ~2x; they are a bigger share of the pruned model's time
#   (right plot). Folding BatchNorm into the convolution, as inference engines do, removes one such pass;
# * at batch 1 and small widths, fixed costs per layer (Python, dispatch, memory allocation) dominate and
#   do not shrink at all;
# * narrow matrices use the CPU's vector units less well than wide ones.

# %%
latency = viz.load("latency")
viz.plot_latency(latency)
plt.show()

# %% [markdown]
# ## 6 · Try it live
#
# The button runs a fresh Algorithm 1 on the digits MLP (with a progress bar); the same function runs
# below with a tiny budget. `viz.dashboard()` shows this topic's plots from any notebook.

# %%
history = viz.run_live_prune(rounds=2, fraction=0.5, epochs=1, progress=False)
print([(round(h["sparsity"], 2), round(h["score"], 3)) for h in history])
viz.live_prune_button(rounds=5, fraction=0.4, epochs=3)

# %% [markdown]
# ## Questions
# 1. Why does random pruning fail long before magnitude pruning, and why is it still worth plotting?
# 2. With $p = 0.2$ per round, how many rounds leave at most 10 % of the weights? (Check with
#    `pruning.sparsity_after`.)
# 3. The global threshold removed more of the middle layer than of the output layer. Why is that
#    what you want?
# 4. A colleague's model is "90 % sparse" but no faster. What would you check first?

# %% [markdown]
# ## The lecture's question: what are pruning algorithms used for?
#
# To make a trained network cheaper to store and to run while keeping its accuracy: most weights of a
# trained network can be removed, and a short fine-tuning recovers what the removal cost (section 2:
# magnitude pruning keeps the dense accuracy to far higher sparsity than random removal). What
# is gained depends on *what* is removed (section 5): zeroed single weights shrink the file only in a
# sparse format and save no time on a CPU, while removing whole neurons or channels gives a genuinely
# smaller network with fewer parameters, fewer MACs and lower measured latency.
