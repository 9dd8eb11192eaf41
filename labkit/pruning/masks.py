"""Masks: which weights are still there, and how they stay removed (slide "Прореживание НС").

A mask is a 0/1 tensor with the shape of a weight; ``masks`` is a plain ``dict[name, mask]`` keyed by
the parameter's name in ``model.named_parameters()`` ("1.weight"). Removing weights is

    W' <- W' - select_min_k(S, p * |W'|)          Algorithm 1, line 4

i.e. among the weights still alive, set the ``round(p * n_alive)`` with the smallest saliency S to 0.

**The "fraction" convention.** ``amount`` is a share of the weights that are *still there*, exactly as
in ``torch.nn.utils.prune``: n rounds of p leave (1 - p)^n, so they remove 1 - (1 - p)^n of the
weights; to reach a final sparsity s in n rounds, use p = 1 - (1 - s)^(1/n) (:func:`fraction_per_round`).
(The slide writes ``|W'| / p``: we read it as p * |W'|, the only reading where p is a fraction.)

**How a mask is held.** We zero the removed weights once (:func:`apply_masks`) and again after
every optimizer step (:func:`keep_masks`, passed as ``train.fit(..., after_step=...)``). torch's prune
instead recomputes ``weight = weight_orig * weight_mask`` in a forward pre-hook on every forward and
back-propagates through it. Ours costs one in-place ``masked_fill_`` per step, keeps the module's own
``weight`` parameter (so ``state_dict()`` is a plain state dict that loads into a fresh model), and
leaves the dense gradient of removed weights in ``.grad`` (RigL regrowth reads it). Surviving weights
follow the same trajectory as under torch's prune for any element-wise optimizer (SGD, Adam).

Used by notebooks 01 (pruning) and 02 (lottery ticket); quantization reuses
:func:`magnitude_masks` and :func:`apply_masks`.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from ..errors import ParameterError, check_choice, check_range, fail

Masks = dict  # dict[str, torch.Tensor]: parameter name -> 0/1 mask of the same shape

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)
# Norm layers and biases hold few parameters and are not pruned weight by weight (as in the papers).
NOT_PRUNED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


def prunable_weights(model: nn.Module, exclude=()) -> dict[str, nn.Parameter]:
    """The weights of every Linear/Conv layer, by parameter name, minus the names in ``exclude``.

    Warns, naming them, when the model holds other weights that will therefore not be pruned.

    >>> list(prunable_weights(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))))
    ['0.weight', '2.weight']
    """
    exclude = set(exclude)
    weights, skipped = {}, []
    for mod_name, module in model.named_modules():
        own = list(module.named_parameters(recurse=False))
        for p_name, p in own:
            name = f"{mod_name}.{p_name}" if mod_name else p_name
            if isinstance(module, PRUNABLE) and p_name == "weight" and name not in exclude:
                weights[name] = p
            elif p_name != "bias" and not isinstance(module, NOT_PRUNED) and name not in exclude:
                skipped.append(name)
    unknown = exclude - {n for n, _ in model.named_parameters()}
    if unknown:
        raise fail("exclude", "prunable_weights", "names from model.named_parameters()", sorted(unknown))
    if skipped:
        warnings.warn(f"These weights are not in a Linear/Conv layer and stay dense: {skipped}", stacklevel=2)
    if not weights:
        raise fail("model", "prunable_weights", "a model with at least one Linear or Conv layer to prune", type(model).__name__)
    return weights


def full_masks(model: nn.Module, exclude=()) -> Masks:
    """All-ones masks for the prunable weights: Algorithm 1, line 1 (W' <- W).

    >>> full_masks(nn.Linear(3, 2))["weight"].all().item()
    True
    """
    return {name: torch.ones_like(p, dtype=torch.bool) for name, p in prunable_weights(model, exclude).items()}


def select_min_k(scores: dict, masks: Masks, amount: float, scope="global") -> Masks:
    """Remove the ``round(amount * n_alive)`` alive weights with the smallest score (line 4).

    ``scope`` spreads the removal over the network: ``"layer"`` removes the same share of every layer,
    ``"global"`` ranks all layers together (one threshold), a dict ``{name: share}`` gives each layer its
    own share (from a sensitivity scan). Returns new masks; the inputs are not changed.

    >>> s = {"w": torch.tensor([3., 1., 2., 4.])}
    >>> select_min_k(s, {"w": torch.ones(4, dtype=torch.bool)}, 0.5)["w"].tolist()
    [True, False, False, True]
    """
    check_range(amount, "amount", "select_min_k", 0.0, 1.0, high_inclusive=False)
    if set(scores) != set(masks):
        raise fail("scores", "select_min_k", f"a dict with the same keys as masks {sorted(masks)}", sorted(scores))
    new = {name: m.clone() for name, m in masks.items()}
    if isinstance(scope, dict):
        for name, share in scope.items():
            if name not in masks:
                raise fail("scope", "select_min_k", f"a dict keyed by names from {sorted(masks)}", name)
            check_range(share, f"scope[{name!r}]", "select_min_k", 0.0, 1.0, high_inclusive=False)
            _remove_smallest(scores[name].reshape(-1), new[name].view(-1), share)
        return new
    check_choice(scope, ("global", "layer"), "scope", "select_min_k")
    if scope == "layer":
        for name in masks:
            _remove_smallest(scores[name].reshape(-1), new[name].view(-1), amount)
        return new
    flat_scores = torch.cat([scores[n].reshape(-1) for n in masks])  # (total weights,)
    flat_mask = torch.cat([new[n].reshape(-1) for n in masks])
    _remove_smallest(flat_scores, flat_mask, amount)
    start = 0
    for name, m in new.items():
        m.view(-1).copy_(flat_mask[start:start + m.numel()])
        start += m.numel()
    return new


def _remove_smallest(scores: torch.Tensor, mask: torch.Tensor, amount: float) -> None:
    """In place on the flat ``mask``: zero the round(amount * alive) alive entries of lowest score."""
    alive = mask.nonzero().view(-1)                       # indices of weights still there
    k = round(amount * alive.numel())                     # Python's round, like torch's prune
    if k == 0:
        return
    lowest = torch.topk(scores[alive], k, largest=False).indices
    mask[alive[lowest]] = False


def apply_masks(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero the weights each mask removes (mask == 0), in place; returns the model.

    >>> net = nn.Linear(2, 1)
    >>> apply_masks(net, {"weight": torch.tensor([[True, False]])}).weight[0, 1].item()
    0.0
    """
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            if name not in params:
                raise fail("masks", "apply_masks", "a dict keyed by names from model.named_parameters()", name)
            if mask.shape != params[name].shape:
                raise fail("masks", "apply_masks", f"a mask of shape {tuple(params[name].shape)} for {name!r}",
                           tuple(mask.shape))
            params[name].masked_fill_(mask == 0, 0.0)
    return model


def keep_masks(masks: Masks) -> Callable[[nn.Module], None]:
    """An ``after_step(model)`` callback that re-applies ``masks`` after every optimizer step.

    >>> net = nn.Linear(2, 1); keep = keep_masks({"weight": torch.tensor([[True, False]])})
    >>> keep(net); net.weight[0, 1].item()
    0.0
    """
    removed = {name: mask == 0 for name, mask in masks.items()}   # computed once: runs every step
    params: dict = {}

    def after_step(model: nn.Module) -> None:
        if not params:
            named = dict(model.named_parameters())
            params.update({name: named[name] for name in masks})
        with torch.no_grad():
            for name, gone in removed.items():
                params[name].masked_fill_(gone, 0.0)

    return after_step


def magnitude_masks(model: nn.Module, sparsity: float, scope: str = "global", exclude=()) -> Masks:
    """One-shot magnitude masks that remove ``sparsity`` of all prunable weights (|w| smallest first).

    ``scope="layer"`` removes that share in every layer, ``"global"`` ranks all weights together.
    This is the function quantization reuses: ``apply_masks(model, magnitude_masks(model, 0.5))``.

    >>> net = nn.Linear(10, 10)
    >>> m = magnitude_masks(net, 0.3); round(1 - m["weight"].float().mean().item(), 2)
    0.3
    """
    check_range(sparsity, "sparsity", "magnitude_masks", 0.0, 1.0, high_inclusive=False)
    weights = prunable_weights(model, exclude)
    scores = {name: p.detach().abs() for name, p in weights.items()}
    return select_min_k(scores, {n: torch.ones_like(p, dtype=torch.bool) for n, p in weights.items()},
                        sparsity, scope)


def masks_from_model(model: nn.Module, exclude=()) -> Masks:
    """Recover the masks of a pruned model from its zeros (e.g. after loading a plain state dict).

    >>> net = nn.Linear(2, 1); net.weight.data[0, 0] = 0
    >>> masks_from_model(net)["weight"].tolist()
    [[False, True]]
    """
    return {name: p.detach() != 0 for name, p in prunable_weights(model, exclude).items()}


def sparsity(masks: Masks) -> float:
    """Share of masked weights that are removed: 1 - alive / total.

    >>> sparsity({"w": torch.tensor([True, False, False, False])})
    0.75
    """
    total = sum(m.numel() for m in masks.values())
    return 1.0 - sum(int(m.sum()) for m in masks.values()) / total


def layer_sparsity(masks: Masks) -> dict[str, float]:
    """Share removed in each layer, by name.

    >>> layer_sparsity({"w": torch.tensor([True, False])})
    {'w': 0.5}
    """
    return {name: 1.0 - m.float().mean().item() for name, m in masks.items()}


def fraction_per_round(final_sparsity: float, rounds: int) -> float:
    """The per-round share p of remaining weights that reaches ``final_sparsity`` in ``rounds`` rounds.

    p = 1 - (1 - s)^(1/n)

    >>> round(fraction_per_round(0.9, 10), 4)
    0.2057
    """
    check_range(final_sparsity, "final_sparsity", "fraction_per_round", 0.0, 1.0, high_inclusive=False)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise fail("rounds", "fraction_per_round", "an int >= 1", rounds)
    return 1.0 - (1.0 - final_sparsity) ** (1.0 / rounds)


def sparsity_after(fraction: float, rounds: int) -> float:
    """Sparsity after ``rounds`` rounds of removing ``fraction`` of the remaining weights: 1 - (1-p)^n.

    >>> round(sparsity_after(0.2, 10), 4)
    0.8926
    """
    check_range(fraction, "fraction", "sparsity_after", 0.0, 1.0, high_inclusive=False)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise fail("rounds", "sparsity_after", "an int >= 0", rounds)
    return 1.0 - (1.0 - fraction) ** rounds


def check_masks_hold(model: nn.Module, masks: Masks, owner: str = "fine_tune") -> None:
    """Raise if a removed weight came back (a training loop that forgot to re-apply the masks)."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if bool((params[name].detach()[~mask] != 0).any()):
            raise ParameterError(
                f"The {owner!r} parameter must keep the masks: weights removed from {name!r} are non-zero "
                f"after it ran. Pass after_step=keep_masks(masks) to train.fit (or apply_masks after "
                f"every optimizer.step()).")
