"""Schedules: when the weights are removed (slide: "Расписание проведения прореживания").

* **one-shot**   prune to the final sparsity s at once, then fine-tune: Algorithm 1 with N = 1, p = s.
* **iterative**  Algorithm 1 with N rounds of p = 1 - (1 - s)^(1/N) of the remaining weights, each
                 followed by fine-tuning (Han et al. 2015).
* **gradual**    prune a little every dt training steps while training goes on, following the cubic
                 schedule of Zhu & Gupta 2017 ("To prune, or not to prune"):

                     s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))^3,   t0 <= t <= t0 + n*dt

                 fast at first, when many weights are redundant, slowly near the end.

:class:`GradualPruner` is an ``after_step`` callback for ``train.fit``. Used by notebook 01.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import check_int, check_range
from .algorithm import PruneResult, prune_and_finetune
from .masks import apply_masks, fraction_per_round, full_masks, select_min_k, sparsity
from .saliency import magnitude


def one_shot(model: nn.Module, final_sparsity: float, **kwargs) -> PruneResult:
    """Algorithm 1 with one round that removes ``final_sparsity`` at once (kwargs: prune_and_finetune's).

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> round(one_shot(net, 0.75).history[-1]["sparsity"], 2)
    0.75
    """
    return prune_and_finetune(model, 1, final_sparsity, **kwargs)


def iterative(model: nn.Module, final_sparsity: float, rounds: int, **kwargs) -> PruneResult:
    """Algorithm 1 with ``rounds`` rounds of p = 1 - (1 - s)^(1/rounds) each.

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> round(iterative(net, 0.75, rounds=2).history[-1]["sparsity"], 2)
    0.75
    """
    return prune_and_finetune(model, rounds, fraction_per_round(final_sparsity, rounds), **kwargs)


def cubic_sparsity(step: int, final: float, initial: float = 0.0, start: int = 0, events: int = 10,
                   every: int = 100) -> float:
    """Zhu & Gupta's target sparsity s_t at training step t (constant before t0 and after t0 + n*dt).

    >>> cubic_sparsity(0, 0.9), cubic_sparsity(500, 0.9, events=10, every=100), cubic_sparsity(5000, 0.9)
    (0.0, 0.7875, 0.9)
    """
    check_range(final, "final", "cubic_sparsity", 0.0, 1.0, high_inclusive=False)
    check_range(initial, "initial", "cubic_sparsity", 0.0, final)
    check_int(events, "events", "cubic_sparsity", low=1)
    check_int(every, "every", "cubic_sparsity", low=1)
    progress = min(max((step - start) / (events * every), 0.0), 1.0)          # (t - t0) / (n dt)
    return final + (initial - final) * (1.0 - progress) ** 3


@dataclass
class GradualConfig:
    """Zhu & Gupta 2017 gradual pruning; their t0, dt, n are in optimizer steps."""
    final_sparsity: float = 0.9    # s_f
    initial_sparsity: float = 0.0  # s_i (the paper starts from 0)
    start: int = 0                 # t0: first pruning step
    events: int = 10               # n: number of pruning events
    every: int = 100               # dt: steps between events (the paper: 100 to 1000)
    scope: str = "global"


class GradualPruner:
    """``after_step`` callback: every ``every`` steps raise the sparsity to s_t by magnitude; keep masks.

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> pruner = GradualPruner(net, GradualConfig(final_sparsity=0.5, events=2, every=1))
    >>> for _ in range(3): pruner(net)
    >>> round(sparsity(pruner.masks_), 2)
    0.5
    """

    def __init__(self, model: nn.Module, config: GradualConfig | None = None, exclude=(),
                 score: Callable = magnitude):
        self.config = config or GradualConfig()
        cubic_sparsity(0, self.config.final_sparsity, self.config.initial_sparsity, self.config.start,
                       self.config.events, self.config.every)          # validates the config
        self.masks_ = full_masks(model, exclude)
        self.score = score
        self.step_ = 0
        self.history_: list[tuple[int, float]] = []                    # (step, sparsity) per event

    def __call__(self, model: nn.Module) -> None:
        c = self.config
        self.step_ += 1
        t = self.step_
        if c.start <= t <= c.start + c.events * c.every and (t - c.start) % c.every == 0:
            target = cubic_sparsity(t, c.final_sparsity, c.initial_sparsity, c.start, c.events, c.every)
            now = sparsity(self.masks_)
            if target > now:
                amount = 1.0 - (1.0 - target) / (1.0 - now)    # share of the remaining weights
                params = dict(model.named_parameters())
                scores = {n: self.score(params[n].detach(), None) for n in self.masks_}
                self.masks_ = select_min_k(scores, self.masks_, amount, c.scope)
            self.history_.append((t, sparsity(self.masks_)))
        apply_masks(model, self.masks_)
