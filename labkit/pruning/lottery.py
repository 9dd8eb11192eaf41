"""The lottery ticket hypothesis (Frankle & Carbin 2019; slide: «Гипотеза о лотерейном билете»).

"A dense network contains a sub-network that, trained in isolation from the same initial weights,
reaches the accuracy of the whole." It is found by iterative magnitude pruning with a reset:

    1  theta_0 <- init;  train theta_0 -> theta_T;  m <- 1
    2  for r <- 1 to R do
    3      m <- m - select_min_k(|theta_T| on m, p * |m|)     remove p of the remaining weights
    4      theta <- m * theta_0                                 reset the survivors to their start
    5      train theta (masked) -> theta_T
    6  end

After R rounds (1 - p)^R of the weights remain; with p = 0.2 (the paper's rate for LeNet), 10 rounds
leave 10.7 %. Late rewinding (Frankle et al. 2020) resets to theta_k, the weights after k training
steps, instead of theta_0: needed for deeper networks. The controls that make it a hypothesis:

* **random re-initialisation**: the same mask m, fresh random weights: much worse;
* **random mask**: the original theta_0, a random mask of the same per-layer sparsity: worse too.

Used by notebook 02 and benchmarks/pruning.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import check_choice, check_int, check_range, check_type, fail
from .masks import Masks, apply_masks, full_masks, keep_masks, select_min_k, sparsity


@dataclass
class LotteryConfig:
    """Defaults of Frankle & Carbin 2019 for LeNet-300-100 (OpenLTH: 20 % global pruning per level)."""
    rounds: int = 8            # R pruning levels: 0.8^8 = 16.8 % of the weights left
    fraction: float = 0.2      # p, share of the remaining weights removed per round
    scope: str = "global"      # "global" | "layer"
    rewind_step: int = 0       # 0 = reset to theta_0; k > 0 = rewind to theta_k (late rewinding)
    exclude: tuple = ()        # weight names never pruned (e.g. the output layer)


TrainFn = Callable[[nn.Module, Callable], float]   # train_fn(model, after_step) -> accuracy


class LotteryTicket:
    """Iterative magnitude pruning with reset: learned ``history_``, ``masks_``, ``init_state_``.

    ``train_fn(model, after_step)`` trains in place, calls ``after_step(model)`` after every optimizer
    step, and returns a score (validation accuracy).

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> lt = LotteryTicket(LotteryConfig(rounds=2, fraction=0.5)).fit(net, lambda m, step: 1.0)
    >>> [round(h["sparsity"], 2) for h in lt.history_]
    [0.0, 0.5, 0.75]
    """

    def __init__(self, config: LotteryConfig | None = None):
        self.config = config or LotteryConfig()

    def fit(self, model: nn.Module, train_fn: TrainFn) -> "LotteryTicket":
        c = self.config
        check_type(model, nn.Module, "model", "LotteryTicket.fit", "a torch.nn.Module")
        check_int(c.rounds, "rounds", "LotteryConfig", low=1)
        check_range(c.fraction, "fraction", "LotteryConfig", 0.0, 1.0, high_inclusive=False)
        check_choice(c.scope, ("global", "layer"), "scope", "LotteryConfig")
        check_int(c.rewind_step, "rewind_step", "LotteryConfig", low=0)
        masks = full_masks(model, c.exclude)                                   # 1: m <- 1
        self.init_state_ = _copy_state(model)                                  #    theta_0
        rewind = _RewindCapture(c.rewind_step, self.init_state_)
        score = train_fn(model, rewind)                                        #    theta_0 -> theta_T
        if c.rewind_step and rewind.state is self.init_state_:
            raise fail("rewind_step", "LotteryConfig", f"an int <= the {rewind.steps} steps train_fn took", c.rewind_step)
        self.rewind_state_ = rewind.state
        self.history_ = [{"round": 0, "sparsity": 0.0, "accuracy": float(score)}]
        self.masks_: list[Masks] = [masks]
        for r in range(1, c.rounds + 1):                                       # 2: for r <- 1 to R
            params = dict(model.named_parameters())
            scores = {n: params[n].detach().abs() for n in masks}
            masks = select_min_k(scores, masks, c.fraction, c.scope)           # 3: prune p of the rest
            model.load_state_dict(self.rewind_state_)                          # 4: theta <- m * theta_k
            apply_masks(model, masks)
            score = train_fn(model, keep_masks(masks))                         # 5: train masked
            self.history_.append({"round": r, "sparsity": sparsity(masks), "accuracy": float(score)})
            self.masks_.append(masks)
        return self

    def ticket(self, model: nn.Module, round: int) -> nn.Module:
        """Load round ``round``'s ticket (rewound weights times its mask) into ``model``, untrained."""
        check_int(round, "round", "LotteryTicket.ticket", low=0, high=len(self.masks_) - 1)
        model.load_state_dict(self.rewind_state_)
        return apply_masks(model, self.masks_[round])


class _RewindCapture:
    """after_step that counts steps and keeps a copy of the weights after step k."""

    def __init__(self, k: int, init_state: dict):
        self.k, self.steps, self.state = k, 0, init_state

    def __call__(self, model: nn.Module) -> None:
        self.steps += 1
        if self.steps == self.k:
            self.state = _copy_state(model)


def _copy_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def reinitialize(model: nn.Module, seed: int) -> nn.Module:
    """Fresh random weights from the layers' own initialisers (the random re-initialisation control).

    >>> net = nn.Linear(3, 2); w = net.weight.clone()
    >>> bool(torch.equal(reinitialize(net, seed=1).weight, w))
    False
    """
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model


def random_masks(masks: Masks, seed: int) -> Masks:
    """Random masks with the same number of weights kept in every layer (the random mask control).

    >>> m = random_masks({"w": torch.tensor([True, True, False, False])}, seed=0)
    >>> int(m["w"].sum())
    2
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, m in masks.items():
        perm = torch.randperm(m.numel(), generator=gen)
        out[name] = m.reshape(-1)[perm].reshape(m.shape).clone()
    return out


def train_controls(search: LotteryTicket, model: nn.Module, train_fn: TrainFn, seed: int = 1,
                   rounds=None) -> list[dict]:
    """Train both controls at the given rounds (default: every round) of a fitted search.

    Returns one record per round: ``{"round", "sparsity", "reinit", "random_mask"}`` (scores).

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> lt = LotteryTicket(LotteryConfig(rounds=1, fraction=0.5)).fit(net, lambda m, step: 1.0)
    >>> train_controls(lt, net, lambda m, step: 0.5)[0]["reinit"]
    0.5
    """
    if not hasattr(search, "masks_"):
        raise fail("search", "train_controls", "a fitted LotteryTicket (call fit first)", search)
    rounds = range(1, len(search.masks_)) if rounds is None else rounds
    records = []
    for r in rounds:
        check_int(r, "rounds", "train_controls", low=1, high=len(search.masks_) - 1)
        masks = search.masks_[r]
        apply_masks(reinitialize(model, seed + r), masks)                 # same mask, new weights
        reinit = train_fn(model, keep_masks(masks))
        shuffled = random_masks(masks, seed + r)
        model.load_state_dict(search.rewind_state_)
        apply_masks(model, shuffled)                                      # same weights, random mask
        rand = train_fn(model, keep_masks(shuffled))
        records.append({"round": r, "sparsity": sparsity(masks), "reinit": float(reinit),
                        "random_mask": float(rand)})
    return records
