# %% [markdown]
# # 08 · Fewer bits: quantization, Deep Compression and real int8 inference
#
# **Lecture 6, slide "Технологии повышения эффективности НС"**: among the compression techniques,
# *уменьшение разрядности представления НС*, fewer bits per number; and under efficient architectures,
# the libraries and platforms that run networks fast.
#
# After this notebook you will be able to
# * quantize a tensor to b bits and back, `q = clamp(round(x / s) + z)`, `x ~ s (q - z)`, and say why
#   one scale per output channel beats one scale per tensor;
# * calibrate activation ranges after training (min-max, percentile, MSE-optimal clipping);
# * train through rounding with the **straight-through estimator** (quantization-aware training) and
#   see when it beats post-training quantization;
# * compress a network Han et al.'s way (prune, share weights by k-means, Huffman-code) and count every
#   stored bit;
# * run a network on **integer kernels** and measure its latency next to fp32.
#
# Heavy sweeps (three seeds) were run by `scripts/precompute_quantize.py` into `data/quantize/`; the
# cells below read them and redo small pieces live. Everything runs on a CPU.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from labkit import data, models, train
from labkit.checks import quantize as checks
from labkit.quantize import QuantConfig, compute_params, prepare_qat, quantize_model
from labkit.quantize import backend, deep_compression, kmeans
from labkit.quantize.calibrate import calibrate
from labkit.widgets import button
from labkit.widgets import quantize as qw

train.set_threads(1)
ds = data.load("mnist1d", seed=0)
net = qw.trained_cnn(ds, seed=0)                     # the lab's CNN 32-32-32, trained 30 epochs (precomputed)
calibration_X = ds.train.subset(512, seed=0).X       # a small calibration set from the training split
sweep = qw.load_sweep()
fp32_acc = train.accuracy(net, ds.val)
print(f"CNN {qw.SPEC}: validation accuracy {fp32_acc:.3f}; seeds in the precomputed sweep: {sweep['seeds']}")

# %% [markdown]
# ## 1 · The grid: quantize and dequantize
#
# A b-bit integer has 2^b levels. **Affine** quantization maps a real range [lo, hi] onto them with a
# *scale* s (the step between levels) and a *zero point* z (the integer that stands for 0.0):
#
# * symmetric: q in [-(2^(b-1)-1), 2^(b-1)-1], s = max(|lo|, |hi|) / (2^(b-1)-1), z = 0 (weights);
# * asymmetric: q in [0, 2^b-1], s = (hi - lo) / (2^b-1), z = round(-lo / s) (activations after ReLU).
#
# **Exercise.** Write `quantize(x, scale, zero_point, q_min, q_max)` returning the integers (as a float
# or int tensor) and `dequantize(q, scale, zero_point)` returning the real values they stand for.
# `scale` and `zero_point` are tensors that broadcast against `x` (one value, or one per channel).

# %% exercise="quantize"
def quantize(x, scale, zero_point, q_min, q_max):
    ### BEGIN SOLUTION
    return torch.clamp(torch.round(x / scale) + zero_point, q_min, q_max)
    ### END SOLUTION


def dequantize(q, scale, zero_point):
    ### BEGIN SOLUTION
    return scale * (q - zero_point)
    ### END SOLUTION


p = compute_params(-1.0, 1.0, bits=4)            # 4 bits, symmetric: 15 levels, step 1/7
print("q =", quantize(torch.tensor([0.3, -0.05, 2.0]), p.scale, p.zero_point, p.q_min, p.q_max))

# %% check="quantize"
checks.check_quantize(quantize, dequantize)

# %% [markdown]
# ## 2 · How many bits does a weight need?
#
# Move the slider: the histogram shows one layer's weights (BatchNorm folded in, as inference sees
# them) with the grid in red; below it, the validation accuracy of the whole CNN with weights at that
# width (post-training, activations at 8 bits) and the stored size. With **per-channel** scales every
# output channel gets its own grid, so a channel of small weights is not rounded to zero by the grid
# of a channel of large ones.

# %%
explorer_widget = qw.BitWidthExplorer(net, ds.val, calibration_X).widget
explorer_widget

# %% [markdown]
# The callback is a thin shell over `qw.ptq_point`; moving the slider from code, as a test would:

# %%
explorer = explorer_widget.explorer
explorer.bits.value = 8
assert abs(explorer.state["accuracy"] - explorer.state["fp32_accuracy"]) < 0.02, explorer.state
explorer.bits.value = 2
print(f"2 bits: accuracy {explorer.state['accuracy']:.3f}, {explorer.state['kB']:.1f} kB of weights "
      f"vs {explorer.state['fp32_kB']:.1f} kB in fp32")

# %% [markdown]
# ### Per tensor or per channel, three seeds
#
# The precomputed sweep: post-training quantization of the CNN at every width from 2 to 8 bits, with
# one scale per tensor or one per output channel (min and max over three seeds as error bars).

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.5))
qw.plot_sweep(sweep["ptq"], "bits", "granularity", ax=ax, baseline=sweep["fp32_mean"],
              title="Post-training weight quantization (8-bit activations)")
plt.show()
ptq = pd.DataFrame(sweep["ptq"]).groupby(["granularity", "bits"])["accuracy"].mean().unstack(0)
ptq.round(3)

# %%
assert (ptq.loc[8] - sweep["fp32_mean"]).abs().max() < 0.01          # int8: no visible loss
assert ptq.loc[4, "per_channel"] >= ptq.loc[4, "per_tensor"] - 0.005   # per channel is never worse

# %% [markdown]
# At 8 bits both are as good as fp32; below 5 bits the per-tensor grid collapses first, because the
# layer's largest channel sets the step for all of them.
#
# ## 3 · Calibrating activations
#
# Weights are known after training; activations only when data flows. We run 512 **training** inputs
# through the network and record the input range of every layer. Min-max keeps every outlier, and one
# outlier widens every step; the 99.99th percentile drops the rarest tails; the MSE rule searches the
# clipping value that minimises the round-trip error `||x - Q(x)||^2`.

# %%
rows = []
for method in ("minmax", "percentile", "mse"):
    ranges = calibrate(net, calibration_X, method=method, bits=4)
    for act_bits in (8, 4):
        q = quantize_model(net, QuantConfig(8), act_bits, calibration_X, method=method)
        rows.append({"method": method, "activation bits": act_bits, "accuracy": train.accuracy(q, ds.val),
                     "input range of the head": tuple(round(v, 2) for v in list(ranges.values())[-1])})
calibration = pd.DataFrame(rows)
at4 = calibration[calibration["activation bits"] == 4].set_index("method")["accuracy"]
assert at4["mse"] > at4["minmax"]
calibration

# %% [markdown]
# At 8 bits the method hardly matters; at 4 bits clipping the tails (percentile, MSE) keeps more
# accuracy than min-max: rounding error on the many common values costs more than clipping the few
# rare ones.
#
# ## 4 · Training through the rounding: the straight-through estimator
#
# Rounding has zero gradient almost everywhere, so a network cannot learn through it. The
# straight-through estimator (Bengio et al. 2013) pretends in the backward pass that quantize-dequantize
# was the identity, **inside** the clipping range; outside it the value was clipped and the gradient is 0:
#
# `d x_hat / d x = 1 if s (q_min - z) <= x <= s (q_max - z) else 0`
#
# **Exercise.** Complete the autograd function: `forward` returns `s (clamp(round(x/s) + z) - z)` and
# saves the mask of values inside the range; `backward` lets the gradient through where the mask is true.

# %% exercise="ste"
class FakeQuantizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, q_min, q_max):
        ### BEGIN SOLUTION
        q = torch.clamp(torch.round(x / scale) + zero_point, q_min, q_max)
        inside = (x >= scale * (q_min - zero_point)) & (x <= scale * (q_max - zero_point))
        ctx.save_for_backward(inside)
        return scale * (q - zero_point)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None, None, None
        ### END SOLUTION


def fake_quantize_ste(x, scale, zero_point, q_min, q_max):
    return FakeQuantizeSTE.apply(x, scale, zero_point, q_min, q_max)


x = torch.tensor([-3.0, 0.4, 3.0], requires_grad=True)
p = compute_params(-1.0, 1.0, bits=4)
fake_quantize_ste(x, p.scale, p.zero_point.float(), p.q_min, p.q_max).sum().backward()
print("gradient:", x.grad)

# %% check="ste"
checks.check_ste(fake_quantize_ste)

# %% [markdown]
# ### Post-training or quantization-aware, at 4 and 2 bits
#
# `labkit.quantize.prepare_qat` wraps every layer with the same estimator (weights per channel,
# activations at 8 bits with a moving min-max range) and fine-tunes with the usual `train.fit`. The sweep
# fine-tuned each seed's CNN for 10 epochs; post-training quantization got no training at all.

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.5))
qw.plot_sweep(sweep["qat"], "bits", "method", ax=ax, baseline=sweep["fp32_mean"],
              title="Post-training (PTQ) vs quantization-aware training (QAT)")
plt.show()
qat = pd.DataFrame(sweep["qat"]).groupby(["method", "bits"])["accuracy"].agg(["mean", "min", "max"])
qat.round(3)

# %%
assert qat.loc[("qat", 4), "mean"] > qat.loc[("ptq", 4), "mean"]
assert qat.loc[("qat", 2), "mean"] > qat.loc[("ptq", 2), "mean"] + 0.1

# %% [markdown]
# QAT recovers the 4-bit loss; at 2 bits (three levels per channel: -s, 0, +s) post-training
# quantization is close to chance (10 %) and QAT lifts it far above, yet still far below fp32: ternary
# weights need a network trained for them from the start. The button below runs QAT live (here with a
# one-epoch budget; click it for the full ten epochs).

# %%
def run_qat(bits=4, epochs=10, progress=True):
    qat_net = prepare_qat(net, QuantConfig(bits), 8, calibration_X)
    train.fit(qat_net, ds.train, ds.val, epochs=epochs, lr=3e-4, progress=progress)
    return train.accuracy(qat_net.eval(), ds.val)


qat_button = button("Run 4-bit QAT (10 epochs)", lambda: print(f"4-bit QAT accuracy {run_qat():.3f}"))
display(qat_button)
print(f"one epoch of 4-bit QAT: validation accuracy {run_qat(epochs=1, progress=False):.3f}")

# %% [markdown]
# ## 5 · Linear grid or k-means codebook?
#
# An evenly spaced grid wastes levels where few weights live. **Weight sharing** (Han et al. 2016)
# clusters each layer's weights into 2^b centroids by k-means and stores a b-bit index per weight plus
# the codebook. Same bits, levels placed where the weights are (no fine-tuning for either here):

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.5))
qw.plot_sweep(sweep["kmeans"], "bits", "method", ax=ax, baseline=sweep["fp32_mean"],
              title="Weight-only quantization: linear per-channel grid vs k-means codebook")
plt.show()
sharing = pd.DataFrame(sweep["kmeans"]).groupby(["method", "bits"])["accuracy"].mean().unstack(0)
assert sharing.loc[2, "k-means per layer"] > sharing.loc[2, "linear per channel"]
sharing.round(3)

# %% [markdown]
# At 2 and 3 bits the k-means codebook wins: its levels sit where the weights are, and it has 2^b of
# them where the symmetric grid has 2^b - 1. From 4 bits on, the linear grid with one scale per output
# channel catches up, because k-means shares one codebook across all channels of a layer. The codebook
# has one more advantage: its values can be *fine-tuned* (the gradient of a centroid is the sum of its
# weights' gradients), which is what Deep Compression does next.
#
# ## 6 · Deep Compression: prune, share, Huffman
#
# Han, Mao and Dally chain three techniques, each followed by retraining: prune the smallest weights of
# every layer in rounds (Han et al. 2015), share the survivors by k-means and fine-tune the centroids
# (each centroid moves by the summed gradient of its weights), then Huffman-code the indices and the
# gaps between survivors. Every layer gets its own plan, the paper's for AlexNet: fully connected layers
# keep 9 % of their weights at 5 bits, convolutions 38 % at 8 bits, the first layer 84 %, the classifier
# 25 %. Every stage is stored in a real format whose parts add up: values, positions (gaps, with filler
# zeros where a gap overflows its 5 or 8 bits), codebooks, code tables, biases.
#
# **The model matters.** The paper's 35x (AlexNet), 49x (VGG-16) and 40x (LeNet-300-100) come from
# their huge fully connected layers: 96 % of AlexNet's weights. So we compress a network of that shape:
# the CNN 64-64-64 with two fully connected layers of 512 (dropout 0.5), 474 k weights, 91 % of them
# fully connected; beside it the same pipeline and plan on the all-conv CNN 64-64-64.
#
# Why does each kind of layer get its own share? Han et al. pruned each layer alone, without retraining,
# and looked at the accuracy (their figure 5): the convolutions lose accuracy soon, the large fully
# connected layers only at high sparsity. The same scan on our network (seed 0, validation split):

# %%
dc = qw.load_sweep("deep_compression")
fig, ax = plt.subplots(figsize=(7, 3.8))
qw.plot_sensitivity(dc["fc_head"]["sensitivity"], dc["fc_head"]["layers"], ax=ax)
plt.show()

# %% [markdown]
# The waterfalls are the precomputed runs of seed 0 (validation accuracy on the bars).

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
qw.plot_waterfall(dc["fc_head"]["summary"], ax=axes[0], title="CNN 64-64-64 + FC 512-512 (AlexNet-like)")
qw.plot_waterfall(dc["all_conv"]["summary"], ax=axes[1], title="all-conv CNN 64-64-64")
plt.show()
fc_head, all_conv = (pd.DataFrame(dc[k]["summary"]).set_index("stage") for k in ("fc_head", "all_conv"))
assert fc_head.loc["huffman", "ratio"] > 20 and fc_head.loc["huffman", "ratio"] > 2 * all_conv.loc["huffman", "ratio"]
assert fc_head.loc["huffman", "val_acc"] >= fc_head.loc["fp32", "val_acc"] - 0.01
pd.DataFrame(dc["fc_head"]["layers"]).set_index("layer").round(2)

# %% [markdown]
# Per layer (the paper's Table 4): the fully connected layers, 91 % of the weights, end at about 3 % of
# their fp32 size; the small conv layers at 12-13 %, and the tiny first layer grows, since its 8-bit
# codebook outweighs its 320 weights. Huffman saves about a fifth more on top of sharing (paper: 20-30 %),
# mostly on the gaps of the conv layers. Retraining after each step keeps, here even raises, the
# accuracy; the all-conv network has no such bulk to remove. On the test split, three seeds
# (`benchmarks/results/quantize.txt`): fp32 90.8 %, compressed 25.3x smaller at 92.5 % (seeds from +0.5
# to +3.1 points); the dense network trained for as many epochs as the pipeline reaches only 90.7 %, so
# pruning and retraining regularise, as Han et al. 2015 also saw. The all-conv CNN: 93.4 % -> 93.5 % at
# 7.1x. Mind the baseline of a ratio: compressed, the all-conv network is both smaller (25 kB vs 75 kB)
# and more accurate. A compact design and compression add up: SqueezeNet (Iandola et al. 2016) matched
# AlexNet with 50x fewer weights, and 510x fewer bytes after Deep Compression.
#
# The same pipeline live, on a smaller network of the same shape with a tiny budget (two rounds of one
# epoch); the button runs the full schedule on the network above (about a minute: it trains it first).

# %%
def run_deep_compression(config=None, spec=qw.DC_SPEC, progress=True):
    dense = qw.trained_cnn(ds, seed=0, spec=spec, progress=progress)
    result = deep_compression.DeepCompression(config, seed=0, progress=progress).fit(dense, ds.train, ds.val)
    return pd.DataFrame(result.summary())


dc_button = button("Run Deep Compression (full schedule)", lambda: display(run_deep_compression(qw.DC_CONFIG)))
display(dc_button)
tiny = deep_compression.DeepCompressionConfig(prune_rounds=2, prune_epochs=1, share_epochs=1)
live = run_deep_compression(tiny, spec="cnn_fc:16-16-16/128-128", progress=False)
assert (live["kB"].diff().dropna() < 0).all()       # every stage is smaller than the one before
live.round(3)

# %% [markdown]
# ## 7 · Real int8: integer kernels and their latency
#
# Simulated quantization computes in floats. Speed needs kernels that multiply int8 by int8 and add in
# int32. `labkit.quantize.backend` writes the network as an ONNX graph of integer operators
# (`DynamicQuantizeLinear -> MatMulInteger / ConvInteger -> scale`) with weights from our own quantizer,
# and runs it with ONNX Runtime. First: does it still classify like the fp32 network?

# %%
int8_cnn = backend.OnnxModule(net, ds.input_shape, mode="int8")
print("ops:", sorted({n.op_type for n in int8_cnn.onnx_model.graph.node}))
int8_acc = train.accuracy(int8_cnn, ds.val)
print(f"validation accuracy: fp32 {fp32_acc:.3f}, int8 kernels {int8_acc:.3f}")
assert abs(int8_acc - fp32_acc) < 0.02

# %% [markdown]
# Latency on a Linear-heavy MLP (512-1024-1024-10, batch 64, one thread), measured here, interleaved
# in rounds so that load on the machine hits every model alike: PyTorch fp32, the same graph in ONNX
# Runtime with float kernels, and with integer kernels. On a busy machine other programs take the core
# in the middle of a call, more often the longer the call, so we also record the **CPU time** of the
# calling thread, which only counts the time our kernels ran. The benchmark repeats the measurement
# (`benchmarks/results/quantize.txt`).

# %%
torch.manual_seed(0)
mlp = models.mlp((512,), hidden=(1024, 1024), num_classes=10).eval()
candidates = {"PyTorch fp32": mlp, "ONNX Runtime fp32": backend.OnnxModule(mlp, (512,), mode="fp32"),
              "ONNX Runtime int8": backend.OnnxModule(mlp, (512,), mode="int8")}
latency = backend.compare_latency(candidates, torch.randn(64, 512), rounds=3, repeats=10)
fig, ax = plt.subplots(figsize=(6.5, 2.5))
qw.plot_latency(latency, ax=ax, title="MLP 512-1024-1024-10, batch 64")
plt.show()
speedup = latency["PyTorch fp32"]["cpu_ms"] / latency["ONNX Runtime int8"]["cpu_ms"]
print(f"int8 needs {speedup:.1f}x less CPU time than PyTorch fp32 here; "
      f"stored {candidates['ONNX Runtime int8'].stored_bytes() / 1e6:.2f} MB vs "
      f"{candidates['ONNX Runtime fp32'].stored_bytes() / 1e6:.2f} MB")

# %% [markdown]
# ## 8 · What to take away
#
# * 8 bits per weight and activation cost nothing measurable; 4 bits need per-channel scales and
#   quantization-aware training; 2 bits need QAT and still lose accuracy.
# * Quantization shrinks storage 4x (int8) and, with integer kernels, also time. Pruning alone shrinks
#   storage only if the format is sparse, and time only with sparse kernels.
# * Deep Compression multiplies the savings of pruning, sharing and entropy coding, layer by layer; count
#   every part of the stored format (positions, codebooks, tables) before quoting a ratio. Its large
#   ratios come from large fully connected layers: a compact all-conv network has far less to remove.
