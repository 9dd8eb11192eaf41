"""Plots and the bit-width dashboard of notebook 08 (quantization and Deep Compression).

``dashboard()`` shows a trained MNIST-1D CNN's weights with the quantization grid on top, and the
accuracy and size at the chosen bit width, per tensor or per channel. Callbacks are thin shells over
:func:`ptq_point` and :func:`plot_weight_grid`, which tests and the notebook call directly.
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import cache, data, models, train
from ..quantize.affine import QuantConfig, grid, observe_params
from ..quantize.calibrate import quantized_layers
from ..quantize.deep_compression import DeepCompressionConfig, cnn_fc
from ..quantize.fake import fold_batchnorm, quantize_model
from . import panel, show

DATA = "quantize"
SPEC = "cnn1d:32-32-32"     # the lab's MNIST-1D CNN
DC_SPEC = "cnn_fc:64-64-64/512-512"   # Deep Compression's model: conv trunk + two wide fully connected layers
CONV_SPEC = "cnn1d:64-64-64"          # the same trunk alone (all-conv): Deep Compression's contrast
EPOCHS = 30                 # training budget of both (Adam, lr 1e-3)
DC_CONFIG = DeepCompressionConfig()   # the paper's per-layer choices (AlexNet, Table 4): fc 9 %, conv 38 % kept


def build(spec: str, ds):
    """``models.build`` for the lab's specs, and ``"cnn_fc:<channels>/<hidden>"`` for :func:`cnn_fc`.

    >>> from labkit import data
    >>> sum(p.numel() for p in build("cnn_fc:8-8/32", data.load("mnist1d")).parameters())
    3330
    """
    if spec.startswith("cnn_fc:"):
        channels, hidden = spec.split(":", 1)[1].split("/")
        widths = lambda text: tuple(int(w) for w in text.split("-"))  # noqa: E731
        return cnn_fc(ds.input_shape, widths(channels), widths(hidden), ds.num_classes)
    return models.build(spec, ds)


def model_path(spec: str = SPEC, seed: int = 0):
    name = spec.replace(":", "_").replace("/", "_")
    return cache.DATA_DIR / DATA / f"{name}_seed{seed}.pt"


def trained_cnn(ds, seed: int = 0, spec: str = SPEC, progress: bool = False):
    """The network ``spec`` trained with ``seed``: read from ``data/quantize`` if precomputed, else trained now."""
    torch.manual_seed(seed)
    net = build(spec, ds)
    path = model_path(spec, seed)
    if path.exists():
        return cache.load_state_dict(net, path).eval()
    train.fit(net, ds.train, ds.val, epochs=EPOCHS, seed=seed, progress=progress)
    return net.eval()


def trained_dc_model(ds, seed: int = 0, progress: bool = False):
    """The network of the Deep Compression section: CNN 64-64-64 with a 512-512 fully connected head."""
    return trained_cnn(ds, seed, DC_SPEC, progress)


def load_sweep(name: str = "sweep") -> dict:
    """A precomputed result of ``scripts/precompute_quantize.py``: "sweep" or "deep_compression"."""
    path = cache.DATA_DIR / DATA / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_quantize.py` first.")
    return cache.load_json(path)


def weight_bits(model, bits: int) -> dict[str, int]:
    """Stored bits of the Linear / Conv weights at ``bits`` per weight (+ 32-bit scales) and fp32 biases."""
    folded = fold_batchnorm(model)
    layers = quantized_layers(folded)
    weights = sum(m.weight.numel() for m in layers.values())
    scales = sum(m.weight.shape[0] for m in layers.values())
    biases = sum(m.bias.numel() for m in layers.values() if m.bias is not None)
    return {"weights": weights * bits, "scales": scales * 32 if bits < 32 else 0, "biases": biases * 32}


def ptq_point(model, split, calibration_X, bits: int, granularity: str = "per_channel",
              act_bits: int | None = 8) -> dict:
    """Accuracy on ``split`` and stored kB of ``model`` with ``bits``-bit weights (post-training)."""
    if bits >= 32:
        acc, size = train.accuracy(model, split), sum(weight_bits(model, 32).values())
    else:
        q = quantize_model(model, QuantConfig(bits, "symmetric", granularity), act_bits, calibration_X)
        acc, size = train.accuracy(q, split), sum(weight_bits(model, bits).values())
    return {"bits": bits, "granularity": granularity, "accuracy": acc, "kB": size / 8 / 1000}


def plot_weight_grid(weight: torch.Tensor, bits: int, granularity: str = "per_channel", channel: int = 0, ax=None):
    """Histogram of a weight tensor (or of one output channel) with the b-bit grid drawn on top."""
    ax = ax or plt.subplots(figsize=(7, 3))[1]
    params = observe_params(weight.detach(), QuantConfig(bits, "symmetric", granularity))
    shown = weight.detach()[channel] if granularity == "per_channel" else weight.detach()
    ax.hist(shown.reshape(-1).numpy(), bins=60, color="tab:blue", alpha=0.7)
    for level in grid(params, channel).tolist():
        ax.axvline(level, color="tab:red", lw=0.8, alpha=0.6)
    where = f"output channel {channel}" if granularity == "per_channel" else "whole tensor"
    ax.set(xlabel="weight value (unitless)", ylabel="number of weights",
           title=f"{bits}-bit grid ({granularity}, {where}): {2 ** bits - 1} levels in red")
    return ax


def plot_sweep(rows: list[dict], x: str, group: str, ax=None, title: str = "", baseline: float | None = None):
    """Mean accuracy (with min-max over seeds) against ``x``, one line per ``group``."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    df = pd.DataFrame(rows)
    for name, sub in df.groupby(group):
        stats = sub.groupby(x)["accuracy"].agg(["mean", "min", "max"])
        ax.errorbar(stats.index, stats["mean"], yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                    marker="o", capsize=3, label=str(name))
    if baseline is not None:
        ax.axhline(baseline, color="k", ls="--", lw=1, label="fp32")
    ax.set(xlabel="weight bit width (bits)" if x == "bits" else x.replace("_", " "),
           ylabel="validation accuracy (fraction)", title=title)
    ax.legend()
    return ax


def plot_waterfall(summary: list[dict], ax=None, title: str = "Deep Compression: size after each stage"):
    """Stored kB of each Deep Compression stage, with the ratio to fp32 and the accuracy on each bar."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    names = [r["stage"] for r in summary]
    kb = [r["kB"] for r in summary]
    bars = ax.bar(names, kb, color=["tab:gray", "tab:orange", "tab:green", "tab:purple"][:len(names)])
    for bar, r in zip(bars, summary):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{r['ratio']:.1f}x\nacc {r['val_acc']:.3f}",
                ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="stage", ylabel="stored size (kB)", title=title)
    ax.set_ylim(0, max(kb) * 1.3)
    return ax


def plot_sensitivity(sensitivity: dict, plan: list[dict], ax=None, title: str = ""):
    """Validation accuracy with one layer pruned alone (no retraining) against its sparsity, per layer.

    ``sensitivity``: ``{"sparsities", "dense", "scores": {layer: [accuracy per sparsity]}}``; ``plan``:
    rows of ``DeepCompression.layer_table()``, whose kept share is marked on each curve.
    """
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    x = 100 * np.array(sensitivity["sparsities"])
    kinds = {row["layer"]: row for row in plan}
    for layer, row in kinds.items():                     # in the network's order
        scores = sensitivity["scores"][layer]
        line, = ax.plot(x, scores, marker="o", ls="-" if row["kind"] == "fc" else "--",
                        label=f"{row['kind']} {layer} ({row['weights']:,} w)")
        ax.axvline(100 - row["kept %"], color=line.get_color(), lw=0.8, alpha=0.5)
    ax.axhline(sensitivity["dense"], color="k", lw=1, ls=":", label="dense")
    ax.set(xlabel="weights removed from this layer alone (%)", ylabel="validation accuracy (fraction)",
           title=title or "Pruning sensitivity per layer (no retraining); vertical lines: the plan")
    ax.legend(fontsize=7)
    return ax


def plot_latency(latency: dict[str, dict], ax=None, title: str = ""):
    """Per model: median wall-clock time (with quartiles) and median CPU time of the calling thread."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    names = list(latency)
    y = np.arange(len(names))
    wall = np.array([latency[n]["median_ms"] for n in names])
    err = np.array([[wall[i] - latency[n]["q1_ms"], latency[n]["q3_ms"] - wall[i]] for i, n in enumerate(names)]).T
    ax.barh(y + 0.2, wall, height=0.4, xerr=err, color="tab:blue", capsize=3, label="wall clock (median, quartiles)")
    ax.barh(y - 0.2, [latency[n]["cpu_ms"] for n in names], height=0.4, color="tab:orange", label="thread CPU time (median)")
    ax.set_yticks(y, names)
    ax.set(xlabel="time per batch (ms, one thread)", title=title)
    ax.legend(fontsize=8)
    return ax


class BitWidthExplorer:
    """Slider over bits, dropdowns for granularity and layer: histogram + grid, accuracy, size."""

    def __init__(self, model, split, calibration_X):
        import ipywidgets as w

        self.model, self.split, self.calibration_X = model, split, calibration_X
        self.folded = fold_batchnorm(model)
        layers = quantized_layers(self.folded)
        self.bits = w.IntSlider(value=4, min=2, max=8, description="bits", continuous_update=False)
        self.granularity = w.Dropdown(options=["per_channel", "per_tensor"], value="per_channel", description="scale")
        self.layer = w.Dropdown(options=list(layers), value=list(layers)[1], description="layer")
        self.state: dict = {}
        self._point = lru_cache(maxsize=64)(self._compute)
        controls = [self.bits, self.granularity, self.layer]
        self.widget = panel(controls, self._draw)
        self.widget.explorer = self

    def _compute(self, bits: int, granularity: str) -> dict:
        return ptq_point(self.model, self.split, self.calibration_X, bits, granularity)

    def update(self) -> dict:
        return self.widget.update()

    def _draw(self) -> dict:
        bits, granularity = self.bits.value, self.granularity.value
        point = self._point(bits, granularity)
        fp32 = self._point(32, "per_channel")
        self.state = {**point, "fp32_accuracy": fp32["accuracy"], "fp32_kB": fp32["kB"]}
        plot_weight_grid(self.folded.get_submodule(self.layer.value).weight, bits, granularity,
                         ax=plt.subplots(figsize=(7, 3))[1])
        show()
        print(f"{bits}-bit weights, 8-bit activations: validation accuracy {point['accuracy']:.3f} "
              f"(fp32 {fp32['accuracy']:.3f}); weights {point['kB']:.1f} kB (fp32 {fp32['kB']:.1f} kB)")
        return self.state


def dashboard(model=None, split=None, calibration_X=None):
    """The bit-width explorer as one widget; defaults: the lab's CNN (seed 0) on MNIST-1D validation."""
    if model is None or split is None or calibration_X is None:
        ds = data.load("mnist1d", seed=0)
        model = trained_cnn(ds) if model is None else model
        split = ds.val if split is None else split
        calibration_X = ds.train.subset(512, seed=0).X if calibration_X is None else calibration_X
    return BitWidthExplorer(model, split, calibration_X).widget
