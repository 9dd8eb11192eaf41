# %% [markdown]
# # 00 · What makes a network efficient
#
# **Lecture 6, slides "Эффективность НС" and "Технологии повышения эффективности НС".**
#
# After this notebook you will be able to
# * measure the three costs of a trained network the lecture names: **size** (parameters, bytes),
#   **compute** (MACs / FLOPs) and **latency**, and say which one a given trick reduces;
# * count the MACs of a layer by hand and check your count against a counter;
# * explain why a depthwise-separable convolution is cheap, and why fewer MACs do not always mean
#   proportionally less time.
#
# Everything runs on a CPU in about a minute. The data set is **MNIST-1D** (Greydanus 2020): ten 1-D
# "digits" of 40 values, generated on your machine, small enough to train in seconds yet hard enough
# that the architecture matters (published: logistic regression 32 %, MLP 68 %, CNN 94 %).

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from labkit import data, metrics, models, train
from labkit.checks import efficiency as checks
from labkit.widgets import efficiency as eff

train.set_threads(1)  # tiny models on a 2-core laptop run much faster on one thread
ds = data.load("mnist1d", seed=0)
print(ds.name, "train", len(ds.train), "validation", len(ds.val), "input", ds.input_shape, "classes", ds.num_classes)

# %% [markdown]
# ## 1 · Two networks, one task
#
# An MLP and a 1-D CNN, trained with the same loop for the same number of epochs. We tune nothing
# here, and we look only at the **validation** split; the test split is touched once, at the end.

# %%
torch.manual_seed(0)
nets = {"MLP 100-100": models.mlp(ds.input_shape, hidden=(100, 100)),
        "CNN 32-32-32": models.cnn1d(ds.input_shape, channels=(32, 32, 32))}
histories = {name: train.fit(net, ds.train, ds.val, epochs=25, lr=2e-3, seed=0) for name, net in nets.items()}
for name, h in histories.items():
    print(f"{name:>13}: validation accuracy {h.val_acc[-1]:.3f}, {h.seconds:.1f} s of training")

# %% [markdown]
# ## 2 · The three costs of a trained network
#
# * **Size**: parameters, and bytes to store them: 4 per value in fp32, 2 in fp16, 1 in int8.
# * **Compute**: one multiply-accumulate `a*b + c` is one **MAC** = 2 **FLOPs**. A `Linear(n_in, n_out)`
#   layer costs `n_in * n_out` MACs per sample; a `Conv1d` costs `L_out * C_out * (C_in/groups) * k`.
# * **Latency**: wall-clock time of one forward pass, measured after warm-up; it depends on the batch
#   size and the number of threads, so both are part of the result.

# %%
rows = []
for name, net in nets.items():
    lat1 = metrics.measure_latency(net, ds.input_shape, batch_size=1, repeats=50)
    lat256 = metrics.measure_latency(net, ds.input_shape, batch_size=256, repeats=20)
    rows.append({"model": name, "val_acc": histories[name].val_acc[-1], "params": metrics.count_params(net),
                 "fp32_bytes": metrics.model_bytes(net), "int8_bytes": metrics.model_bytes(net, "int8"),
                 "MACs": metrics.count_macs(net, ds.input_shape),
                 "latency_b1_ms": lat1.median_ms, "latency_b256_us_per_sample": lat256.per_sample_us})
costs = pd.DataFrame(rows).set_index("model")
costs

# %% [markdown]
# %%
mlp_row, cnn_row = costs.loc["MLP 100-100"], costs.loc["CNN 32-32-32"]
print(f"CNN / MLP: parameters x{cnn_row.params / mlp_row.params:.2f}, MACs x{cnn_row.MACs / mlp_row.MACs:.1f}, "
      f"latency at batch 256 x{cnn_row.latency_b256_us_per_sample / mlp_row.latency_b256_us_per_sample:.1f}, "
      f"validation accuracy {mlp_row.val_acc:.2f} -> {cnn_row.val_acc:.2f}")

# %% [markdown]
# The CNN stores fewer parameters than the MLP yet does several times more MACs, because every filter
# is applied at every position, and it is far more accurate. Which one is "more efficient" depends on
# the cost you pay: memory on a microcontroller, energy per inference, or the time a user waits.
#
# The per-layer table shows where the MACs go (1 MAC = 2 FLOPs; BatchNorm is one multiply-add per
# value; activations and reshapes cost no MACs).

# %%
metrics.mac_table(nets["CNN 32-32-32"], ds.input_shape)

# %% [markdown]
# ## 3 · Exercise: count a convolution's MACs by hand
#
# Write `conv1d_macs` for a `Conv1d(c_in, c_out, k, stride, padding, groups)` applied to an input of
# length `length_in`. The output length is `(length_in + 2*padding - k) // stride + 1`; each output
# value needs `(c_in / groups) * k` multiply-accumulates. Biases are not counted.

# %% exercise="conv_macs"
def conv1d_macs(c_in, c_out, k, length_in, stride=1, padding=0, groups=1):
    ### BEGIN SOLUTION
    length_out = (length_in + 2 * padding - k) // stride + 1
    return length_out * c_out * (c_in // groups) * k
    ### END SOLUTION

# %% check="conv_macs"
checks.check_conv1d_macs(conv1d_macs)

# %% [markdown]
# ## 4 · Exercise: a parameter counter
#
# Write `count_parameters(model)`: the number of trainable numbers in a model. Careful with a layer
# that is used twice (it is stored once), and remember that BatchNorm's running mean and variance are
# buffers, not parameters.

# %% exercise="param_counter"
def count_parameters(model):
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters())
    ### END SOLUTION

# %% check="param_counter"
checks.check_param_counter(count_parameters)
print("LeNet-300-100:", count_parameters(models.lenet_300_100()), "parameters (the lottery-ticket paper's 266,610)")

# %% [markdown]
# ## 5 · Efficient architectures: a depthwise-separable convolution
#
# A standard `k x k` convolution mixes space and channels at once: `H*W*C_out*C_in*k^2` MACs.
# MobileNets split it into a **depthwise** `k x k` convolution (one filter per channel, `groups=C_in`)
# and a **pointwise** `1 x 1` convolution that mixes channels. The cost ratio is `1/C_out + 1/k^2`:
# about 8-9x fewer MACs for `k = 3`. Move the sliders; the counts come from `labkit.metrics` on real layers.

# %%
conv_dashboard = eff.dashboard()
conv_dashboard

# %% [markdown]
# The dashboard's callback is a thin shell over `eff.conv_costs`; here it is moved from code, as a
# test would, and the ratio checked against the formula:

# %%
conv_dashboard.sliders["kernel_size"].value = 5
c = conv_dashboard.result
assert abs(c["separable_macs"] / c["standard_macs"] - (1 / 64 + 1 / 25)) < 1e-9
print(f"k=5: separable/standard = {c['separable_macs'] / c['standard_macs']:.3f} = 1/64 + 1/25")

# %% [markdown]
# ### Exercise: the ratio as a formula
# Write `separable_ratio(c_in, c_out, k)`: the MACs of the depthwise-separable replacement divided by
# the MACs of the standard convolution (same padding, so the same output size).

# %% exercise="separable_ratio"
def separable_ratio(c_in, c_out, k):
    ### BEGIN SOLUTION
    return 1 / c_out + 1 / k**2
    ### END SOLUTION

# %% check="separable_ratio"
checks.check_separable_saving(separable_ratio)

# %% [markdown]
# ## 6 · Architectures people deploy: accuracy, MACs and latency
#
# Six ImageNet architectures from torchvision, built **without weights** (nothing is downloaded), so
# their parameters and MACs at 224x224 are exact and their latency is real; the top-1 accuracies are
# the published figures of torchvision's model documentation. ResNet-18 should read 11.69 M parameters
# and 1.82 GMACs.

# %%
zoo = eff.architecture_table()
fig = eff.plot_architectures(zoo)
plt.show()
zoo.round(3)

# %% [markdown]
# Read the right panel from left to right: MACs fall by 30x from ResNet-18 to MobileNetV3-Small, but
# latency falls far less. Depthwise convolutions do few MACs per byte they read, so memory traffic and
# per-layer overhead, not arithmetic, set their speed on a CPU. **Latency is not MACs**: measure it on
# the hardware you deploy to.

# %%
z = zoo.set_index("model")
r18, small = z.loc["ResNet-18"], z.loc["MobileNetV3-Small"]
assert round(r18.params_M, 2) == 11.69 and round(r18.GMACs, 2) == 1.82, r18
mac_ratio, latency_ratio = r18.GMACs / small.GMACs, r18.latency_ms / small.latency_ms
print(f"ResNet-18 -> MobileNetV3-Small: {mac_ratio:.0f}x fewer MACs, {latency_ratio:.1f}x lower latency")
assert latency_ratio < mac_ratio

# %% [markdown]
# ## 7 · Efficiency of training
#
# The lecture's second kind of efficiency is the cost of *training*: how much time (and data) a network
# needs to reach its accuracy. The same loop, the same epochs: accuracy against seconds of training.

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, h in histories.items():
    seconds = pd.Series(h.epoch_seconds).cumsum()
    ax.plot(seconds, h.val_acc, marker=".", label=name)
ax.set(xlabel="training time (s, one CPU thread)", ylabel="validation accuracy", title="Accuracy bought per second of training")
ax.legend()
plt.show()

# %% [markdown]
# ## 8 · The map of techniques
#
# | family (lecture) | what it changes | this lab |
# |---|---|---|
# | compression | remove connections, neurons, filters; fewer bits | 01 pruning, 02 lottery ticket, 08 quantization |
# | learning techniques | how the small network is trained | 03 distillation |
# | automation | search for hyper-parameters and architectures | 04 HPO, 05 NAS, 06 NEAT, 07 DARTS |
# | efficient architectures | cheaper building blocks | this notebook (separable convolutions) |
#
# ## 9 · Final evaluation on the test split
#
# Tuning is over, so the test split is used once, to report.

# %%
test = ds.test()
for name, net in nets.items():
    print(f"{name:>13}: test accuracy {train.accuracy(net, test):.3f}")
