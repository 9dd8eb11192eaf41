# %% [markdown]
# # 02 · The lottery ticket hypothesis
#
# **Lecture 6, slide "Особенности алгоритмов прореживания НС": «Гипотеза о лотерейном билете» — in any
# large network there is a sub-network that can be trained just as well.**
#
# After this notebook you will be able to
# * find a "winning ticket" by iterative magnitude pruning with a **reset to the initial weights**
#   (Frankle & Carbin 2019), and write the reset yourself;
# * tell what the two controls show: the **same mask with fresh random weights**, and a **random mask**
#   of the same per-layer sparsity with the original weights;
# * read accuracy against the share of weights left on a log axis, over several seeds.
#
# ```
# 1  theta_0 <- init;  train theta_0 -> theta_T;  m <- 1
# 2  for r <- 1 to R do
# 3      m <- m - select_min_k(|theta_T| on m, p * |m|)     remove p of the remaining weights
# 4      theta <- m * theta_0                                 reset the survivors to their start
# 5      train theta (masked) -> theta_T
# ```
#
# After R rounds $(1-p)^R$ of the weights are left: with the paper's $p = 0.2$, 10 rounds leave 10.7 %.
# The model is the MLP 40-100-100-10 on MNIST-1D; the full experiment (3 seeds, 10 rounds, both
# controls) ran in `scripts/precompute_pruning.py` and is read from `data/pruning/lottery.json`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from labkit import data, models, pruning, train
from labkit.checks import pruning as checks
from labkit.widgets import pruning as viz

train.set_threads(1)
ds = data.load("mnist1d", seed=0)
print("MNIST-1D: train", len(ds.train), "validation", len(ds.val), "input", ds.input_shape)

# %% [markdown]
# ## 1 · Line 4: the reset
#
# *Exercise.* After pruning, put every parameter back to its value at initialisation (`init_state`, a
# state dict) and zero the removed weights (`masks`, as in notebook 01).

# %% exercise="reset"
def reset_to_init(model, init_state: dict, masks: dict):
    """theta <- m * theta_0, in place."""
    ### BEGIN SOLUTION
    model.load_state_dict(init_state)
    pruning.apply_masks(model, masks)
    return model
    ### END SOLUTION


# %% check="reset"
checks.check_reset_to_init(reset_to_init)

# %% [markdown]
# ## 2 · A small search, live
#
# `pruning.LotteryTicket` runs lines 1-5; `train_fn(model, after_step)` trains with the masks kept and
# returns the validation accuracy. Here: 3 rounds of 50 %, 8 epochs each (about half a minute). The
# ticket it keeps is exactly your reset applied to the last mask.

# %%
def train_fn(model, after_step, epochs=8):
    train.fit(model, ds.train, ds.val, epochs=epochs, lr=1e-3, after_step=after_step, seed=0, progress=False)
    return train.accuracy(model, ds.val)


torch.manual_seed(0)
net = models.mlp(ds.input_shape, hidden=(100, 100), num_classes=10)
search = pruning.LotteryTicket(pruning.LotteryConfig(rounds=3, fraction=0.5)).fit(net, train_fn)
for h in search.history_:
    print(f"round {h['round']}: {100 * (1 - h['sparsity']):5.1f} % of the weights left, "
          f"validation accuracy {h['accuracy']:.3f}")
mine = reset_to_init(models.mlp(ds.input_shape, hidden=(100, 100)), search.init_state_, search.masks_[-1])
theirs = search.ticket(models.mlp(ds.input_shape, hidden=(100, 100)), round=3)
assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()))

# %% [markdown]
# ## 3 · Tickets against the controls, 3 seeds
#
# Cached: 10 rounds of 20 %, Adam at 1e-3 for up to 40 epochs with early stopping on the validation
# split (the weights of the best validation epoch are kept, as the paper reports its accuracy at the
# early-stopping iteration); **test** accuracy, mean and std over 3 seeds. The controls are trained at
# every other round.

# %% [markdown]
# Move the **round** slider: each round removes 20 % of the remaining weights ($0.8^r$ left). The title
# gives that round's accuracy, mean $\pm$ std over the seeds, for the ticket and, at the rounds where
# they were trained, for both controls. Switch to the validation split to see that the picture does not
# depend on which held-out set you read.

# %%
lottery = viz.load("lottery")
explorer = viz.lottery_explorer(lottery)
explorer

# %%
explorer.children[0].children[0].value = 8          # the slider, moved from code: 0.8^8 = 16.8 % left
row = explorer.result
print(row)
assert row["ticket_mean"] - row["reinit_mean"] > 2 * max(row["ticket_std"], row["reinit_std"])

# %%
seeds = lottery["seeds"]
left = 100 * (1 - np.array(seeds[0]["sparsity"]))                   # % of weights left per round
ticket = 100 * np.mean([s["test"]["ticket"] for s in seeds], axis=0)
controls = {k: 100 * np.mean([s["test"][k] for s in seeds], axis=0) for k in ("reinit", "random_mask")}
control_rounds = [int(np.argmin(abs(left - 100 * (1 - c)))) for c in seeds[0]["control_sparsity"]]
dense = ticket[0]
print(f"dense {dense:.1f} % (test, mean of {len(seeds)} seeds)")
for i, r in enumerate(control_rounds):
    print(f"{left[r]:5.1f} % left: ticket {ticket[r]:5.1f}  re-init {controls['reinit'][i]:5.1f}  "
          f"random mask {controls['random_mask'][i]:5.1f}")
holding = left[ticket >= dense - 0.5]
print(f"tickets stay within 0.5 point of dense down to {holding.min():.1f} % of the weights")

# %% [markdown]
# What the curves say, on this small problem:
# * the tickets match or beat the dense accuracy down to about a fifth of the weights (printed above),
#   then fall;
# * the **same mask with new random weights** falls well below: the structure alone is not the ticket,
#   its initial weights are part of it;
# * a **random mask** with the original weights falls too: the mask matters as well;
# * with very few weights left everything falls: the hypothesis says "a sub-network", not "any size".
#
# For deeper networks the reset to $\theta_0$ stops working; **late rewinding** (Frankle et al. 2020)
# resets to the weights after $k$ training steps instead: `LotteryConfig(rewind_step=k)`.

# %%
rewound = pruning.LotteryTicket(pruning.LotteryConfig(rounds=1, fraction=0.5, rewind_step=25))
rewound.fit(models.mlp(ds.input_shape, hidden=(100, 100)), lambda m, step: train_fn(m, step, epochs=2))
print("late rewinding to step 25:", [round(h["accuracy"], 3) for h in rewound.history_])

# %% [markdown]
# ## Questions
# 1. Why is "random re-initialisation of the same mask" the control that makes this a hypothesis about
#    *initial weights*, not about architectures?
# 2. The paper prunes 20 % per round rather than 80 % at once. What would one-shot pruning to the same
#    sparsity cost or save here?
# 3. A winning ticket is found only *after* training the dense network. Is it a way to train faster?
