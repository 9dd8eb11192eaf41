"""Allocation: how the removal is spread over the layers (slide: "Распределение доли удаляемых элементов").

Three ways, all passed as ``scope`` to :func:`~labkit.pruning.masks.select_min_k`:

* ``"layer"``   the same share s in every layer (uniform);
* ``"global"``  one threshold over all weights: layers with many small weights lose more (big, redundant
                layers end up sparser than the first and last, which are small and sensitive);
* ``{name: s_l}`` a share per layer, here from a **sensitivity scan** (Han et al. 2015; MIT 6.5940 lab 1):
                prune one layer alone to s = 0.1 ... 0.9 without fine-tuning, measure the validation
                accuracy, and give each layer the largest s whose drop stays under a tolerance.

Used by notebook 01 (the sensitivity plot and the per-layer sparsity under global allocation).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import check_range, fail
from .masks import prunable_weights, select_min_k


@dataclass
class Sensitivity:
    """Accuracy of the model with one layer pruned, per layer and sparsity (no fine-tuning)."""
    sparsities: list[float]
    dense: float                                          # score of the unpruned model
    scores: dict[str, list[float]] = field(default_factory=dict)   # layer -> score per sparsity


def sensitivity_scan(model: nn.Module, evaluate: Callable[[nn.Module], float],
                     sparsities=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), exclude=()) -> Sensitivity:
    """Prune each layer alone by magnitude to each sparsity, ``evaluate(model)``, restore it.

    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> scan = sensitivity_scan(net, lambda m: 1.0, sparsities=(0.5,))
    >>> scan.scores
    {'0.weight': [1.0], '2.weight': [1.0]}
    """
    sparsities = [check_range(s, "sparsities", "sensitivity_scan", 0.0, 1.0, high_inclusive=False)
                  for s in sparsities]
    if not sparsities:
        raise fail("sparsities", "sensitivity_scan", "a non-empty sequence of floats in [0, 1)", sparsities)
    weights = prunable_weights(model, exclude)
    result = Sensitivity(sparsities, float(evaluate(model)))
    for name, w in weights.items():
        original = w.detach().clone()
        alive = {name: torch.ones_like(w, dtype=torch.bool)}
        result.scores[name] = []
        for s in sparsities:
            mask = select_min_k({name: original.abs()}, alive, s, "layer")[name]
            with torch.no_grad():
                w.copy_(original * mask)
            result.scores[name].append(float(evaluate(model)))
        with torch.no_grad():
            w.copy_(original)
    return result


def shares_from_sensitivity(scan: Sensitivity, max_drop: float = 0.01) -> dict[str, float]:
    """Per layer, the largest scanned sparsity whose score is within ``max_drop`` of dense (else 0).

    >>> scan = Sensitivity([0.5, 0.9], 0.9, {"a": [0.9, 0.8], "b": [0.9, 0.9]})
    >>> shares_from_sensitivity(scan, max_drop=0.01)
    {'a': 0.5, 'b': 0.9}
    """
    check_range(max_drop, "max_drop", "shares_from_sensitivity", 0.0, 1.0)
    shares = {}
    for name, scores in scan.scores.items():
        ok = [s for s, score in zip(scan.sparsities, scores) if score >= scan.dense - max_drop]
        shares[name] = max(ok, default=0.0)
    return shares


def per_layer_removal(scores: dict, masks: dict, amount: float, scope="global") -> dict[str, float]:
    """Share of each layer that one round of ``select_min_k`` would remove (to plot allocations).

    >>> s = {"a": torch.tensor([1., 2.]), "b": torch.tensor([3., 4.])}
    >>> m = {k: torch.ones(2, dtype=torch.bool) for k in s}
    >>> per_layer_removal(s, m, 0.5)
    {'a': 1.0, 'b': 0.0}
    """
    new = select_min_k(scores, masks, amount, scope)
    return {name: 1.0 - new[name].float().mean().item() for name in new}
