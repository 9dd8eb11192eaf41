"""Saliency criteria: how much would the loss suffer if weight w_k were removed? (Algorithm 1, line 3)

Removing w_k changes the loss, to second order (LeCun, Denker, Solla 1990, "Optimal Brain Damage"), by

    dL ~= -g_k * w_k + 1/2 * h_kk * w_k^2            g = dL/dw, h_kk = d2L/dw_k^2

* ``magnitude``  |w_k|: small weights matter little (Han et al. 2015). Needs nothing but W.
* ``random``     a random score: the baseline every criterion must beat.
* ``taylor``     first-order term |g_k * w_k| (Molchanov et al. 2019). At a trained minimum the
                 full-batch gradient is ~0, so we use the gradients g_b of single mini-batches:
                 S_k = |w_k| * sqrt(mean_b g_{b,k}^2), which ranks like Molchanov's mean_b (g_b w)^2.
* ``obd``        second-order term S_k = 1/2 * h_kk * w_k^2 (the first term vanishes at a minimum).
                 diag(H) by Hutchinson's estimator: h = mean_z z * (H z), z with random +-1 entries,
                 H z by differentiating the gradient once more (a Hessian-vector product, no H stored).
* ``snip``       |g_k * w_k| at initialisation on one mini-batch (Lee et al. 2019): prune before training.

A new criterion is one function ``score(w, stats) -> tensor shaped like w``, registered with
``@criterion("name", needs=(...))``; ``stats`` holds what it declared it needs ("grad_rms",
"grad_init", "hessian_diag", "generator"), computed once per call of :func:`compute_saliency_scores`.

Used by notebook 01 (pruning) and the lottery-ticket search of notebook 02.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import check_choice, check_int, fail

CRITERIA: dict[str, tuple[Callable, tuple[str, ...]]] = {}   # name -> (score function, what it needs)
_STATS = ("grad_rms", "grad_init", "hessian_diag", "generator")


def criterion(name: str, needs: tuple[str, ...] = ()):
    """Register ``score(w, stats)`` as a saliency criterion under ``name``.

    >>> @criterion("square")
    ... def square(w, stats):
    ...     return w ** 2
    >>> "square" in CRITERIA
    True
    >>> del CRITERIA["square"]
    """
    for need in needs:
        check_choice(need, _STATS, "needs", "criterion")

    def register(fn: Callable) -> Callable:
        CRITERIA[name] = (fn, tuple(needs))
        return fn

    return register


@dataclass
class Stats:
    """What criteria may read, per weight name; only the fields a criterion needs are filled."""
    grad_rms: dict = field(default_factory=dict)      # sqrt(mean_b g_b^2) over mini-batches
    grad_init: dict = field(default_factory=dict)     # gradient on one mini-batch (SNIP)
    hessian_diag: dict = field(default_factory=dict)  # Hutchinson estimate of diag(H)
    generator: torch.Generator | None = None
    name: str = ""                                    # the weight being scored


@criterion("magnitude")
def magnitude(w, stats):
    return w.abs()                                               # |w|


@criterion("random", needs=("generator",))
def random(w, stats):
    return torch.rand(w.shape, generator=stats.generator)


@criterion("taylor", needs=("grad_rms",))
def taylor(w, stats):
    return w.abs() * stats.grad_rms[stats.name]                  # |w| * RMS_b(g_b)


@criterion("obd", needs=("hessian_diag",))
def obd(w, stats):
    return 0.5 * stats.hessian_diag[stats.name] * w ** 2         # 1/2 h_kk w_k^2


@criterion("snip", needs=("grad_init",))
def snip(w, stats):
    return (w * stats.grad_init[stats.name]).abs()              # |g * w| on one batch at init


def compute_saliency_scores(model: nn.Module, masks: dict, criterion: str = "magnitude", batches=None,
                            loss_fn: Callable | None = None, seed: int = 0, hutchinson_samples: int = 16) -> dict:
    """Score every masked weight with a criterion: Algorithm 1, line 3 (S <- compute_saliency_scores(W')).

    ``batches`` is an iterable of ``(x, y)`` mini-batches (training data), needed by the gradient-based
    criteria; ``loss_fn(model, x, y)`` defaults to cross-entropy. Removed weights score as they are (0
    for magnitude); :func:`select_min_k` only ranks the alive ones.

    >>> net = nn.Linear(3, 2)
    >>> compute_saliency_scores(net, {"weight": torch.ones(2, 3, dtype=torch.bool)})["weight"].shape
    torch.Size([2, 3])
    """
    check_choice(criterion, CRITERIA, "criterion", "compute_saliency_scores")
    check_int(hutchinson_samples, "hutchinson_samples", "compute_saliency_scores", low=1)
    score_fn, needs = CRITERIA[criterion]
    params = dict(model.named_parameters())
    unknown = [n for n in masks if n not in params]
    if unknown:
        raise fail("masks", "compute_saliency_scores", "a dict keyed by names from model.named_parameters()", unknown)
    stats = Stats(generator=torch.Generator().manual_seed(seed))
    grad_needs = {"grad_rms", "grad_init", "hessian_diag"} & set(needs)
    if grad_needs:
        if batches is None:
            raise fail("batches", "compute_saliency_scores", f"an iterable of (x, y) batches for {criterion!r}", None)
        loss_fn = loss_fn or (lambda m, x, y: F.cross_entropy(m(x), y))
        batches = list(batches)
        if not batches:
            raise fail("batches", "compute_saliency_scores", "a non-empty iterable of (x, y) batches", batches)
        if "grad_rms" in grad_needs:
            stats.grad_rms = gradient_rms(model, masks, batches, loss_fn)
        if "grad_init" in grad_needs:
            stats.grad_init = gradient_rms(model, masks, batches[:1], loss_fn)
        if "hessian_diag" in grad_needs:
            stats.hessian_diag = hessian_diagonal(model, masks, batches, loss_fn, hutchinson_samples, seed)
    scores = {}
    for name in masks:
        stats.name = name
        scores[name] = score_fn(params[name].detach(), stats)
    return scores


def gradient_rms(model: nn.Module, masks: dict, batches, loss_fn) -> dict:
    """sqrt(mean_b g_b^2) per weight over the mini-batches (one batch: |g|)."""
    params = dict(model.named_parameters())
    total = {name: torch.zeros_like(params[name]) for name in masks}
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        loss_fn(model, x, y).backward()
        for name in masks:
            total[name] += params[name].grad.detach() ** 2
    model.zero_grad(set_to_none=True)
    return {name: (t / len(batches)).sqrt() for name, t in total.items()}


def hessian_diagonal(model: nn.Module, masks: dict, batches, loss_fn, samples: int = 4, seed: int = 0) -> dict:
    """Hutchinson's estimate of diag(H) per weight: mean over z (+-1 entries) and batches of z * (H z).

    E[z_i (Hz)_i] = h_ii because E[z_i z_j] = 0 for i != j; Hz is the gradient of (g . z).

    >>> net = nn.Linear(2, 2); x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    >>> ce = lambda m, a, b: F.cross_entropy(m(a), b)
    >>> hessian_diagonal(net, {"weight": torch.ones(2, 2, dtype=torch.bool)}, [(x, y)], ce)["weight"].shape
    torch.Size([2, 2])
    """
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    names = list(masks)
    tensors = [params[n] for n in names]
    total = [torch.zeros_like(t) for t in tensors]
    for x, y in batches:
        grads = torch.autograd.grad(loss_fn(model, x, y), tensors, create_graph=True)
        for _ in range(samples):
            zs = [torch.randint(0, 2, t.shape, generator=gen).to(t.dtype) * 2 - 1 for t in tensors]
            hz = torch.autograd.grad(grads, tensors, grad_outputs=zs, retain_graph=True)  # H z
            for acc, z, h in zip(total, zs, hz):
                acc += z * h
    n = len(batches) * samples
    return {name: acc.detach() / n for name, acc in zip(names, total)}
