"""Regrowth: removed connections may come back (slide: "Возможность восстановления связей").

Dynamic sparse training keeps the number of weights fixed but moves them during training. Every
``every`` steps, in each layer:

    drop   the k = f(t) * n_alive alive weights of smallest |w|
    grow   k removed weights: those with the largest |dL/dw| (RigL, Evci et al. 2020)
           or random ones (SET, Mocanu et al. 2018); they start at w = 0

    f(t) = alpha / 2 * (1 + cos(pi * t / T_end))        RigL's cosine drop fraction, alpha = 0.3

The gradient of a removed weight is known for free here: labkit masks hold removed weights at 0
after each optimizer step but compute the dense gradient (see :mod:`labkit.pruning.masks`).
:class:`Regrowth` is an ``after_step`` callback for ``train.fit``. Used by notebook 01.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ParameterError, check_choice, check_int, check_range
from .masks import Masks, apply_masks


@dataclass
class RegrowthConfig:
    """RigL defaults (Evci et al. 2020): alpha 0.3, an update every 100 steps, cosine decay."""
    method: str = "rigl"     # "rigl" (grow by |gradient|) | "set" (grow at random)
    alpha: float = 0.3       # initial drop fraction
    every: int = 100         # dT: steps between updates
    end: int = 1000          # T_end: no more updates after this step (RigL: 75 % of training)
    seed: int = 0


def drop_fraction(step: int, alpha: float = 0.3, end: int = 1000) -> float:
    """RigL's cosine schedule f(t) = alpha/2 * (1 + cos(pi t / T_end)).

    >>> drop_fraction(0), round(drop_fraction(500), 3), drop_fraction(1000)
    (0.3, 0.15, 0.0)
    """
    return alpha / 2 * (1 + math.cos(math.pi * min(step, end) / end))


class Regrowth:
    """``after_step`` callback that drops and regrows connections, keeping each layer's sparsity.

    >>> net = nn.Linear(10, 10); masks = {"weight": torch.rand(10, 10) > 0.5}
    >>> rg = Regrowth(masks, RegrowthConfig(method="set", every=1, end=10))
    >>> net(torch.randn(4, 10)).sum().backward(); rg(net)
    >>> int(rg.masks_["weight"].sum()) == int(masks["weight"].sum())
    True
    """

    def __init__(self, masks: Masks, config: RegrowthConfig | None = None):
        self.config = config or RegrowthConfig()
        check_choice(self.config.method, ("rigl", "set"), "method", "Regrowth")
        check_range(self.config.alpha, "alpha", "Regrowth", 0.0, 1.0)
        check_int(self.config.every, "every", "Regrowth", low=1)
        check_int(self.config.end, "end", "Regrowth", low=1)
        self.masks_ = {name: m.clone() for name, m in masks.items()}
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.step_ = 0
        self.moved_: list[tuple[int, int]] = []       # (step, weights moved) per update

    def __call__(self, model: nn.Module) -> None:
        c = self.config
        self.step_ += 1
        if self.step_ % c.every == 0 and self.step_ < c.end:
            params = dict(model.named_parameters())
            moved = 0
            for name, mask in self.masks_.items():
                moved += self._update(params[name], mask, drop_fraction(self.step_, c.alpha, c.end))
            self.moved_.append((self.step_, moved))
        apply_masks(model, self.masks_)

    def _update(self, w: nn.Parameter, mask: torch.Tensor, fraction: float) -> int:
        flat_mask, flat_w = mask.view(-1), w.detach().view(-1)
        alive, dead = flat_mask.nonzero().view(-1), (~flat_mask).nonzero().view(-1)
        k = min(round(fraction * alive.numel()), dead.numel())
        if k == 0:
            return 0
        drop = alive[torch.topk(flat_w[alive].abs(), k, largest=False).indices]        # smallest |w|
        if self.config.method == "rigl":
            if w.grad is None:
                raise ParameterError("The 'method' parameter of Regrowth must be 'set' when no gradient is "
                                     "available. Got 'rigl' instead: call it after backward(), as "
                                     "train.fit's after_step.")
            grow = dead[torch.topk(w.grad.detach().view(-1)[dead].abs(), k).indices]  # largest |g|
        else:
            grow = dead[torch.randperm(dead.numel(), generator=self.generator)[:k]]
        flat_mask[drop] = False
        flat_mask[grow] = True
        with torch.no_grad():
            flat_w[grow] = 0.0                             # new connections start at zero (RigL)
        return k
