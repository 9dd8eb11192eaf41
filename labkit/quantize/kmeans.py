"""Weight sharing by k-means: many weights, few distinct values (Deep Compression, stage 2).

Instead of an evenly spaced grid, the weights of a layer are clustered into k = 2^b groups and every
weight is replaced by its group's centroid; the layer then stores a b-bit index per weight plus a
codebook of k floats (Han, Mao, Dally 2016, "Deep Compression", section 3):

    min_C  sum_i sum_{w in c_i} |w - c_i|^2          k-means on one layer's weights (1-D)

Centroids start evenly spaced between min w and max w: the paper found this "linear" initialisation
best, because it keeps the rare large weights, which matter most, represented. Fine-tuning then trains
the centroids only; the gradient of a centroid is the sum of the gradients of the weights that share it

    dL/dc_k = sum_i dL/dW_i 1[I_i = k]                (paper, equation 3)

which autograd computes by itself when the weight is built as ``codebook[index]``. Pruned weights stay
at exactly 0 (the mask), so sharing follows pruning without undoing it. Used by notebook 08 and
:mod:`labkit.quantize.deep_compression`.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import check_choice, check_int, check_type, fail
from .calibrate import quantized_layers
from .fake import layer_forward

INITS = ("linear", "random", "density")


def kmeans_1d(values: torch.Tensor, k: int, iters: int = 30, init: str = "linear",
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on a flat tensor: (centroids (k,), labels (n,)).

    ``init``: "linear" (evenly spaced in [min, max], the paper's choice), "random" (k random weights),
    "density" (evenly spaced quantiles).

    >>> c, labels = kmeans_1d(torch.tensor([0.0, 0.1, 1.0, 1.1]), k=2)
    >>> [round(v, 3) for v in c.tolist()], labels.tolist()
    ([0.05, 1.05], [0, 0, 1, 1])
    """
    check_int(k, "k", "kmeans_1d", low=1)
    check_int(iters, "iters", "kmeans_1d", low=1)
    check_choice(init, INITS, "init", "kmeans_1d")
    values = values.detach().float().reshape(-1)
    if values.numel() == 0:
        raise fail("values", "kmeans_1d", "a non-empty tensor", "an empty tensor")
    if init == "linear":
        centroids = torch.linspace(values.min().item(), values.max().item(), k)
    elif init == "density":
        centroids = torch.quantile(values, torch.linspace(0, 1, k))
    else:
        g = torch.Generator().manual_seed(seed)
        centroids = values[torch.randint(values.numel(), (k,), generator=g)].clone()
    for _ in range(iters):
        labels = (values[:, None] - centroids[None, :]).abs().argmin(1)            # (n,) nearest centroid
        sums = torch.zeros(k).index_add_(0, labels, values)
        counts = torch.zeros(k).index_add_(0, labels, torch.ones_like(values))
        new = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)     # empty clusters stay
        if torch.allclose(new, centroids):
            break
        centroids = new
    labels = (values[:, None] - centroids[None, :]).abs().argmin(1)
    return centroids, labels


class SharedWeightLayer(nn.Module):
    """A Linear / Conv whose weight is ``mask * codebook[index]``; only the codebook (and bias) train."""

    def __init__(self, layer: nn.Module, bits: int = 4, init: str = "linear", seed: int = 0):
        super().__init__()
        weight = layer.weight.detach()
        mask = weight != 0                                   # pruned weights stay exactly 0
        alive = weight[mask]
        # a pruned layer keeps one of its 2^b symbols for "zero" (filler entries of the sparse format)
        k = 2 ** bits - 1 if bool((~mask).any()) and bits > 1 else 2 ** bits
        centroids, labels = kmeans_1d(alive, min(k, max(alive.numel(), 1)), init=init, seed=seed) \
            if alive.numel() else (torch.zeros(1), torch.zeros(0, dtype=torch.long))
        index = torch.zeros_like(weight, dtype=torch.long)
        index[mask] = labels
        self.layer = layer
        self.bits = bits
        self.codebook = nn.Parameter(centroids)               # (k,) shared values, fine-tuned
        self.register_buffer("index", index)                  # same shape as the weight, b-bit ints
        self.register_buffer("mask", mask)
        layer.weight.requires_grad_(False)

    def shared_weight(self) -> torch.Tensor:
        return self.codebook[self.index] * self.mask          # dL/dc_k = sum of dL/dW over cluster k

    def forward(self, x):
        return layer_forward(self.layer, x, self.shared_weight())


def share_weights(model: nn.Module, bits: int = 4, init: str = "linear", seed: int = 0,
                  bits_per_layer: dict[str, int] | None = None) -> nn.Module:
    """A copy of ``model`` with every Linear / Conv weight clustered into 2^bits shared values.

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> shared = share_weights(net, bits=2)
    >>> shared[0].shared_weight().unique().numel() <= 4
    True
    """
    check_type(model, nn.Module, "model", "share_weights", "a torch.nn.Module")
    check_int(bits, "bits", "share_weights", low=1, high=16)
    check_choice(init, INITS, "init", "share_weights")
    bits_per_layer = dict(bits_per_layer or {})
    model = copy.deepcopy(model)
    layers = quantized_layers(model)
    for name in bits_per_layer:
        if name not in layers:
            raise fail("bits_per_layer", "share_weights", f"a dict keyed by layer names from {sorted(layers)}", name)
        check_int(bits_per_layer[name], f"bits_per_layer[{name!r}]", "share_weights", low=1, high=16)
    for name, layer in layers.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, SharedWeightLayer(layer, bits_per_layer.get(name, bits), init, seed))
    return model


def bake(model: nn.Module) -> nn.Module:
    """A copy with every :class:`SharedWeightLayer` turned back into its plain layer (shared values kept)."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, SharedWeightLayer):
            layer = module.layer
            with torch.no_grad():
                layer.weight.copy_(module.shared_weight())
            layer.weight.requires_grad_(True)
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, layer)
    return model


def shared_layers(model: nn.Module) -> dict[str, SharedWeightLayer]:
    """The :class:`SharedWeightLayer` modules of ``model`` by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, SharedWeightLayer)}
