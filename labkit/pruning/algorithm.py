"""Algorithm 1 of the lecture: standard network pruning with fine-tuning.

    1  W' <- W
    2  for i <- 1 to N do
    3      S  <- compute_saliency_scores(W')
    4      W' <- W' - select_min_k(S, p * |W'|)
    5      W' <- fine_tune(X, W')
    6  end
    7  return W'

``p`` (``fraction``) is a share of the weights still there (as in ``torch.nn.utils.prune``): N rounds
remove 1 - (1 - p)^N of the weights (see :mod:`labkit.pruning.masks`). One round with p = s is the
one-shot schedule; N rounds is the iterative schedule of Han et al. 2015; the gradual schedule of
Zhu & Gupta 2017 prunes inside training instead (:mod:`labkit.pruning.schedules`).

Used by notebook 01 (pruning); the lottery ticket (notebook 02) adds a weight reset to line 5.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..errors import check_choice, check_int, check_range, check_type
from .masks import Masks, apply_masks, check_masks_hold, full_masks, keep_masks, select_min_k, sparsity
from .saliency import compute_saliency_scores
from .structured import all_channels, channel_masks, channel_scores, select_channels


@dataclass
class PruneResult:
    """What :func:`prune_and_finetune` returns: the pruned model, its masks, one record per round."""
    model: nn.Module
    masks: Masks
    history: list[dict] = field(default_factory=list)  # {"round", "sparsity", "score"?}
    channels: dict | None = None   # granularity "channel": alive channels per layer (for remove_channels)


def prune_and_finetune(model: nn.Module, rounds: int, fraction: float, *, criterion: str = "magnitude",
                       scope="global", granularity: str = "weight", fine_tune: Callable | None = None,
                       batches=None, evaluate: Callable | None = None, exclude=(), seed: int = 0) -> PruneResult:
    """Algorithm 1: ``rounds`` times, score the weights, remove ``fraction`` of those left, fine-tune.

    ``fine_tune(model, after_step)`` trains the model in place and must call ``after_step(model)`` after
    every optimizer step (``lambda m, keep: train.fit(m, tr, va, epochs=2, after_step=keep)``), so the
    removed weights stay removed; None skips line 5. ``evaluate(model) -> float`` (e.g. validation
    accuracy) is recorded after each round. ``criterion`` and ``batches``: see
    :func:`~labkit.pruning.saliency.compute_saliency_scores`; ``scope``: see
    :func:`~labkit.pruning.masks.select_min_k`. ``granularity="channel"`` removes whole neurons/channels
    (rows scored by their mean saliency, see :mod:`~labkit.pruning.structured`); ``fraction`` is then a
    share of the remaining channels, and ``result.channels`` feeds ``remove_channels``.

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> result = prune_and_finetune(net, rounds=3, fraction=0.5)
    >>> round(result.history[-1]["sparsity"], 3)    # 1 - 0.5^3
    0.875
    """
    owner = "prune_and_finetune"
    check_type(model, nn.Module, "model", owner, "a torch.nn.Module")
    check_int(rounds, "rounds", owner, low=1)
    check_range(fraction, "fraction", owner, 0.0, 1.0, high_inclusive=False)
    check_choice(granularity, ("weight", "channel"), "granularity", owner)
    masks = full_masks(model, exclude)                                           # 1: W' <- W
    weights = list(masks)
    channels = all_channels(model) if granularity == "channel" else None
    history = []
    for i in range(1, rounds + 1):                                               # 2: for i <- 1 to N
        scores = compute_saliency_scores(model, {n: masks[n] for n in weights}, criterion, batches,
                                         seed=seed + i)                          # 3: S
        if granularity == "weight":                                              # 4: W' - select_min_k
            masks = select_min_k(scores, masks, fraction, scope)
        else:
            channels = select_channels(channel_scores(model, scores), channels, fraction, scope)
            masks = {**full_masks(model, exclude), **channel_masks(model, channels)}
        apply_masks(model, masks)
        if fine_tune is not None:                                                # 5: W' <- fine_tune(X, W')
            fine_tune(model, keep_masks(masks))
            check_masks_hold(model, masks)
        record = {"round": i, "sparsity": sparsity({n: masks[n] for n in weights})}
        if evaluate is not None:
            record["score"] = float(evaluate(model))
        history.append(record)
    return PruneResult(model, masks, history, channels)                          # 7: return W'
