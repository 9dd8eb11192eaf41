"""Structured pruning: remove whole neurons (MLP) or channels (CNN) so the model really shrinks.

Zeroing single weights leaves every matrix its dense shape: the masked model is exactly as large and
as slow as the dense one. Removing output channel c of layer l instead removes row c of W_l (and
b_l[c]), the c-th scale and shift of the BatchNorm after it, and the inputs of layer l+1 that read
channel c (after a Flatten: the c-th block of ``length`` features). The result is a smaller model of
the same family, with ~(1 - s)^2 of the MACs in the middle layers when a share s of channels goes.

Channel score (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): the mean of the weight
saliencies over the channel's row; with the magnitude criterion, the filter's L1 norm / its size.
Rows are then chosen with the same ``select_min_k`` as single weights.

Exactness: a channel with zero weights, zero bias and zero BatchNorm scale and shift outputs 0; it
stays 0 through ReLU, pooling and Flatten, so the physically smaller model computes the same outputs
as the masked one. This needs f(0) = 0 for every layer in between: a Sigmoid (f(0) = 0.5) or a layer
this module does not know stops with a ParameterError naming it. Models are flat ``nn.Sequential``
(labkit.models builds them so). Used by notebook 01 (pruning) and benchmarks/pruning.py.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ParameterError, check_choice, check_range, check_type
from .masks import Masks, select_min_k

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
PASS_THROUGH = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Hardtanh, nn.Identity,
                nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
                nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


@dataclass
class Link:
    """A layer whose output channels can be removed, and the modules that read them."""
    layer: str            # name of the Linear/Conv whose rows go
    norms: list[str]      # BatchNorms between it and the next layer
    next_layer: str       # the Linear/Conv that reads its channels
    per_channel: int      # inputs of next_layer per channel (spatial positions after a Flatten, else 1)


def channel_links(model: nn.Module) -> dict[str, Link]:
    """For every Linear/Conv but the last, which modules its channels reach; raise if unsafe.

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> channel_links(net)["0"].next_layer
    '2'
    """
    check_type(model, nn.Sequential, "model", "channel_links", "a flat torch.nn.Sequential")
    names = [n for n, _ in model.named_children()]
    mods = dict(model.named_children())
    positions = [i for i, n in enumerate(names) if isinstance(mods[n], LAYERS)]
    links = {}
    for a, b in zip(positions, positions[1:]):
        layer, nxt = mods[names[a]], mods[names[b]]
        if getattr(layer, "groups", 1) != 1:
            raise _cannot(names[a], "a grouped convolution shares channels between groups")
        norms, flatten = [], False
        for name in names[a + 1:b]:
            mod = mods[name]
            if isinstance(mod, NORMS):
                norms.append(name)
            elif isinstance(mod, nn.Flatten):
                flatten = True
            elif isinstance(mod, PASS_THROUGH):
                if isinstance(mod, (nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU)) and mod(torch.zeros(1)).item() != 0:
                    raise _cannot(names[a], f"{type(mod).__name__} maps 0 to a non-zero value")
            else:
                raise _cannot(names[a], f"it feeds {type(mod).__name__} ({name!r}), which keeps no channel "
                                        f"structure this module knows (f(0) must be 0)")
        out = _out_channels(layer)
        fan_in = nxt.in_features if isinstance(nxt, nn.Linear) else nxt.in_channels
        if fan_in % out or (fan_in != out and not flatten):
            raise _cannot(names[a], f"{names[b]!r} reads {fan_in} inputs, not a multiple of its {out} channels")
        links[names[a]] = Link(names[a], norms, names[b], fan_in // out)
    return links


def _cannot(layer: str, why: str) -> ParameterError:
    return ParameterError(f"The 'model' parameter of structured pruning must have layers whose channels can "
                          f"be removed. Got layer {layer!r}, which cannot be pruned structurally: {why}. "
                          f"Prune it unstructured, or leave it out.")


def _out_channels(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def channel_scores(model: nn.Module, weight_scores: dict | None = None) -> dict[str, torch.Tensor]:
    """Score of each output channel of each removable layer: mean weight saliency over its row.

    ``weight_scores`` (by weight name) defaults to |w|, which gives the filter's mean absolute value.

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> channel_scores(net)["0"].shape
    torch.Size([8])
    """
    params = dict(model.named_parameters())
    scores = {}
    for name in channel_links(model):
        w = (weight_scores or {}).get(f"{name}.weight", params[f"{name}.weight"].detach().abs())
        scores[name] = w.reshape(w.shape[0], -1).mean(1)          # (out_channels,)
    return scores


def select_channels(scores: dict, alive: dict, amount: float, scope="layer") -> dict[str, torch.Tensor]:
    """Remove ``amount`` of the alive channels with the lowest score; at least one stays per layer.

    >>> s = {"0": torch.tensor([0.1, 0.5, 0.2, 0.9])}
    >>> select_channels(s, {"0": torch.ones(4, dtype=torch.bool)}, 0.5)["0"].tolist()
    [False, True, False, True]
    """
    check_range(amount, "amount", "select_channels", 0.0, 1.0, high_inclusive=False)
    new = select_min_k(scores, alive, amount, scope)
    for name, keep in new.items():
        if not keep.any():                  # an empty layer would cut the network in two
            keep[torch.argmax(torch.where(alive[name], scores[name], -torch.inf))] = True
    return new


def all_channels(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every channel of every removable layer alive (the start of structured pruning)."""
    mods = dict(model.named_children())
    return {name: torch.ones(_out_channels(mods[name]), dtype=torch.bool) for name in channel_links(model)}


def channel_masks(model: nn.Module, alive: dict) -> Masks:
    """Parameter masks that zero removed channels: rows, biases, BatchNorm scale/shift, next inputs.

    Applied with ``apply_masks``, they give the *masked* model whose outputs the physically smaller
    model of :func:`remove_channels` reproduces.

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> channel_masks(net, {"0": torch.tensor([True, False, True])})["2.weight"].tolist()[0]
    [True, False, True]
    """
    links, params = channel_links(model), dict(model.named_parameters())
    masks: Masks = {}

    def mask(name):
        return masks.setdefault(name, torch.ones_like(params[name], dtype=torch.bool))

    for name, keep in alive.items():
        if name not in links:
            raise _cannot(name, "it is the output layer or not a Linear/Conv of this model")
        link = links[name]
        drop = ~keep
        for pname in [f"{name}.weight", f"{name}.bias"] + [f"{n}.{p}" for n in link.norms for p in ("weight", "bias")]:
            if pname in params:
                mask(pname)[drop] = False
        cols = drop.repeat_interleave(link.per_channel)       # (in_features of next,)
        mask(f"{link.next_layer}.weight")[:, cols] = False
    return masks


def remove_channels(model: nn.Module, alive: dict) -> nn.Sequential:
    """A new, physically smaller model without the removed channels (the input model is unchanged).

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> remove_channels(net, {"0": torch.tensor([True, False, True])})[0].out_features
    2
    """
    links = channel_links(model)
    small = copy.deepcopy(model)
    mods = dict(small.named_children())
    with torch.no_grad():
        for name, keep in alive.items():
            if name not in links:
                raise _cannot(name, "it is the output layer or not a Linear/Conv of this model")
            link, idx = links[name], keep.nonzero().view(-1)
            _slice_out(mods[name], idx)
            for norm in link.norms:
                _slice_norm(mods[norm], idx)
            per = link.per_channel                                  # channel c -> inputs c*per .. c*per+per-1
            cols = (idx[:, None] * per + torch.arange(per)).reshape(-1)
            _slice_in(mods[link.next_layer], cols, len(idx))
    return small


def _slice_out(layer, idx):
    layer.weight = nn.Parameter(layer.weight[idx].clone())
    if layer.bias is not None:
        layer.bias = nn.Parameter(layer.bias[idx].clone())
    if isinstance(layer, nn.Linear):
        layer.out_features = len(idx)
    else:
        layer.out_channels = len(idx)


def _slice_in(layer, cols, channels):
    layer.weight = nn.Parameter(layer.weight[:, cols].clone())
    if isinstance(layer, nn.Linear):
        layer.in_features = len(cols)
    else:
        layer.in_channels = channels


def _slice_norm(norm, idx):
    for p in ("weight", "bias"):
        if getattr(norm, p) is not None:
            setattr(norm, p, nn.Parameter(getattr(norm, p)[idx].clone()))
    for b in ("running_mean", "running_var"):
        if getattr(norm, b) is not None:
            setattr(norm, b, getattr(norm, b)[idx].clone())
    norm.num_features = len(idx)


def prune_channels(model: nn.Module, amount: float, criterion: str = "magnitude", scope="layer",
                   seed: int = 0) -> tuple[nn.Sequential, dict]:
    """One shot: remove ``amount`` of the channels of every removable layer; returns (small, alive).

    ``criterion`` "magnitude" (mean |w| of the filter) or "random" (the baseline).

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> small, alive = prune_channels(net, 0.5); small[0].out_features
    4
    """
    check_choice(criterion, ("magnitude", "random"), "criterion", "prune_channels")
    check_range(amount, "amount", "prune_channels", 0.0, 1.0, high_inclusive=False)
    scores = channel_scores(model)
    if criterion == "random":
        gen = torch.Generator().manual_seed(seed)
        scores = {n: torch.rand(s.shape, generator=gen) for n, s in scores.items()}
    alive = select_channels(scores, all_channels(model), amount, scope)
    return remove_channels(model, alive), alive


def fold_batchnorm(model: nn.Module) -> nn.Sequential:
    """An inference copy where each BatchNorm right after a Linear/Conv is folded into that layer.

    BN(Wx + b) = s * (Wx + b - mu) + beta with s = gamma / sqrt(var + eps), so W' = s * W and
    b' = s * (b - mu) + beta: one layer fewer, the same outputs in eval mode. Inference engines do
    this; it removes a memory-bound pass over the activations that MAC counts do not see.

    >>> net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU()).eval()
    >>> x = torch.randn(2, 3); torch.allclose(fold_batchnorm(net)(x), net(x), atol=1e-6)
    True
    """
    check_type(model, nn.Sequential, "model", "fold_batchnorm", "a flat torch.nn.Sequential")
    layers, previous = [], None
    for module in copy.deepcopy(model).children():
        if isinstance(module, NORMS) and isinstance(previous, LAYERS) and module.track_running_stats:
            with torch.no_grad():
                s = module.weight / torch.sqrt(module.running_var + module.eps)      # (channels,)
                previous.weight.mul_(s.reshape(-1, *[1] * (previous.weight.dim() - 1)))
                bias = previous.bias if previous.bias is not None else torch.zeros_like(s)
                previous.bias = nn.Parameter((bias - module.running_mean) * s + module.bias)
            continue
        layers.append(module)
        previous = module
    return nn.Sequential(*layers).eval()
