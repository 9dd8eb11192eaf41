"""Notebook 00: what a network costs, and what an efficient architecture saves.

* :func:`architecture_table` measures torchvision architectures built without weights (nothing is
  downloaded): parameters, MACs at 224x224, and CPU latency; their ImageNet top-1 accuracies are the
  published figures of torchvision's model documentation, quoted, not measured here.
* :func:`conv_costs` builds a standard and a depthwise-separable convolution and counts both with
  :mod:`labkit.metrics`: separable / standard = 1/C_out + 1/k^2 (MobileNets, Howard et al. 2017).
* :func:`dashboard` turns the knobs of :func:`conv_costs` with sliders.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch import nn

from .. import metrics
from ..errors import check_int
from . import panel, show

# name -> (torchvision builder, ImageNet top-1 % published with torchvision's IMAGENET1K_V1 weights)
ARCHITECTURES = {
    "ResNet-18": ("resnet18", 69.758),
    "MobileNetV2": ("mobilenet_v2", 71.878),
    "MobileNetV3-Small": ("mobilenet_v3_small", 67.668),
    "ShuffleNetV2 x1.0": ("shufflenet_v2_x1_0", 69.362),
    "SqueezeNet 1.1": ("squeezenet1_1", 58.178),
    "EfficientNet-B0": ("efficientnet_b0", 77.692),
}


def build_architecture(name: str) -> nn.Module:
    """A torchvision architecture from :data:`ARCHITECTURES`, randomly initialised (no download)."""
    import torchvision

    from ..errors import check_choice

    check_choice(name, ARCHITECTURES, "name", "build_architecture")
    return getattr(torchvision.models, ARCHITECTURES[name][0])(weights=None)


def architecture_table(names=None, *, image_size: int = 224, batch_size: int = 1, repeats: int = 3,
                       threads: int = 1) -> pd.DataFrame:
    """Params, MACs and measured latency of torchvision architectures (published top-1 alongside)."""
    check_int(image_size, "image_size", "architecture_table", low=32)
    rows, previous = [], torch.get_num_threads()
    torch.set_num_threads(threads)  # the MAC-counting forward pass too: 2 threads on a busy 2-core CPU crawl
    try:
        for name in names or ARCHITECTURES:
            net = build_architecture(name)
            shape = (3, image_size, image_size)
            lat = metrics.measure_latency(net, shape, batch_size=batch_size, threads=threads, warmup=1, repeats=repeats)
            rows.append({"model": name, "params_M": metrics.count_params(net) / 1e6,
                         "GMACs": metrics.count_macs(net, shape) / 1e9, "latency_ms": lat.median_ms,
                         "fp32_MB": metrics.model_bytes(net) / 1e6, "imagenet_top1_published": ARCHITECTURES[name][1]})
    finally:
        torch.set_num_threads(previous)
    return pd.DataFrame(rows)


def plot_architectures(table: pd.DataFrame):
    """Two panels: published accuracy against MACs, and measured latency against MACs."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for _, r in table.iterrows():
        ax1.scatter(r.GMACs, r.imagenet_top1_published, s=30 + 20 * r.params_M)
        ax1.annotate(r.model, (r.GMACs, r.imagenet_top1_published), fontsize=8, xytext=(4, 4), textcoords="offset points")
        ax2.scatter(r.GMACs, r.latency_ms)
        ax2.annotate(r.model, (r.GMACs, r.latency_ms), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax1.set(xscale="log", xlabel="MACs per image (GMAC, log scale)", ylabel="ImageNet top-1 (%, published)",
            title="Accuracy against compute (marker area ~ parameters)")
    ax2.set(xscale="log", yscale="log", xlabel="MACs per image (GMAC, log scale)",
            ylabel="CPU latency, batch 1, 1 thread (ms, log scale)", title="Latency is not proportional to MACs")
    fig.tight_layout()
    return fig


def conv_costs(in_channels: int, out_channels: int, kernel_size: int, size: int) -> dict[str, int]:
    """Params and MACs of a standard k x k conv and of its depthwise-separable replacement on a size x size map.

    >>> c = conv_costs(32, 64, 3, 16)
    >>> round(c["separable_macs"] / c["standard_macs"], 4) == round(1 / 64 + 1 / 9, 4)
    True
    """
    owner = "conv_costs"
    check_int(in_channels, "in_channels", owner, low=1)
    check_int(out_channels, "out_channels", owner, low=1)
    check_int(kernel_size, "kernel_size", owner, low=1)
    check_int(size, "size", owner, low=1)
    pad = kernel_size // 2
    standard = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad, bias=False)
    separable = nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False),  # depthwise
        nn.Conv2d(in_channels, out_channels, 1, bias=False))                                             # pointwise
    shape = (in_channels, size, size)
    return {"standard_params": metrics.count_params(standard), "standard_macs": metrics.count_macs(standard, shape),
            "separable_params": metrics.count_params(separable), "separable_macs": metrics.count_macs(separable, shape)}


def plot_conv_costs(costs: dict[str, int], ax=None):
    """Bars of params and MACs, standard vs separable, on a log axis."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    labels = ["params", "MACs"]
    std = [costs["standard_params"], costs["standard_macs"]]
    sep = [costs["separable_params"], costs["separable_macs"]]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], std, width=0.4, label="standard conv")
    ax.bar([x + 0.2 for x in xs], sep, width=0.4, label="depthwise-separable")
    ax.set(xticks=list(xs), xticklabels=labels, yscale="log", ylabel="count (log scale)",
           title=f"separable / standard MACs = {costs['separable_macs'] / costs['standard_macs']:.3f}")
    ax.legend()
    return ax


def dashboard(in_channels: int = 32, out_channels: int = 64, kernel_size: int = 3, size: int = 16):
    """Sliders for channels, kernel size and map size; the bar chart and ratio update at once."""
    import ipywidgets as W
    from IPython.display import display

    sliders = {
        "in_channels": W.IntSlider(in_channels, 1, 512, description="C_in", continuous_update=False),
        "out_channels": W.IntSlider(out_channels, 1, 512, description="C_out", continuous_update=False),
        "kernel_size": W.SelectionSlider(options=[1, 3, 5, 7], value=kernel_size, description="k",
                                         continuous_update=False),
        "size": W.IntSlider(size, 4, 112, description="H = W", continuous_update=False),
    }
    controls = list(sliders.values())

    def draw():
        costs = conv_costs(**{k: s.value for k, s in sliders.items()})
        plot_conv_costs(costs, plt.subplots(figsize=(6, 3.5))[1])
        show()
        display(pd.DataFrame([costs]))
        return costs

    box = panel(controls, draw, rows=[W.HBox(controls[:2]), W.HBox(controls[2:])])
    box.sliders = sliders
    return box
