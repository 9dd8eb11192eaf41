"""Checks for notebook 01 (pruning): a saliency criterion, select_min_k and the Algorithm 1 loop.

Each check runs the student's function on small tensors and compares it with labkit's reference
(and, for the masks, with ``torch.nn.utils.prune``); it prints a tick or raises with a hint.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from . import ExerciseFailure, call, expect, expect_close, expect_equal, passed
from ..pruning import full_masks, keep_masks, prune_and_finetune, sparsity


def check_taylor_saliency(fn) -> None:
    """``fn(weight, grad)`` must return |w * g| elementwise, shaped like the weight."""
    gen = torch.Generator().manual_seed(0)
    w, g = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    out = call(fn, w.clone(), g.clone(), what="taylor_saliency")
    expect(isinstance(out, torch.Tensor), "a tensor of scores", "return a torch tensor, not a number")
    expect_equal(tuple(out.shape), (5, 7), "scores shaped like the weight", "score every weight: no sum, no mean")
    expect_close(out, (w * g).abs(), "the first-order Taylor scores |w * g|",
                 "removing w changes the loss by about -g * w; its size is what matters, so take abs()")
    passed("taylor_saliency: |w * g|, the first-order estimate of the loss change when w is removed")


def check_select_min_k(fn) -> None:
    """``fn(scores, mask, amount)`` must remove round(amount * alive) alive weights of lowest score."""
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(6, 10, generator=gen)
    layer = nn.Linear(10, 6)
    with torch.no_grad():
        layer.weight.copy_(weight)
    mask = torch.ones(6, 10, dtype=torch.bool)
    for round_, amount in enumerate((0.3, 0.5), start=1):
        out = call(fn, weight.abs(), mask.clone(), amount, what="select_min_k")
        expect(isinstance(out, torch.Tensor) and out.shape == mask.shape, "a mask shaped like the scores",
               "return the new 0/1 mask")
        out = out.bool()
        torch_prune.l1_unstructured(layer, "weight", amount=amount)
        expected = layer.weight_mask.bool()
        expect(not bool((out & ~mask).any()), "removed weights to stay removed",
               "start from the current mask; only alive weights can be removed")
        expect_equal(int(out.sum()), int(expected.sum()),
                     f"{int(expected.sum())} weights alive after round {round_} (amount = {amount} of the remaining)",
                     "remove round(amount * number_alive): a share of the weights still there, like torch's prune")
        expect(torch.equal(out, expected), f"the same mask as torch.nn.utils.prune.l1_unstructured in round {round_}",
               "rank only the alive weights (scores[mask]) and remove those with the smallest scores")
        mask = out
    passed("select_min_k: equals torch.nn.utils.prune.l1_unstructured over two rounds")


def check_algorithm1(fn) -> None:
    """``fn(model, rounds, fraction, fine_tune) -> masks`` must follow Algorithm 1 (layer-wise magnitude)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3))
    x, y = torch.randn(24, 6), torch.randint(0, 3, (24,))
    calls = []

    def fine_tune(model, after_step):
        calls.append(sparsity({n: p.detach() != 0 for n, p in model.named_parameters() if n.endswith("weight")}))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            after_step(model)

    reference = copy.deepcopy(net)
    masks = call(fn, net, 3, 0.5, fine_tune, what="algorithm1")
    expect(isinstance(masks, dict) and set(masks) == set(full_masks(net)),
           f"a dict of masks keyed by {sorted(full_masks(net))}", "return the masks after the last round")
    expect_equal(len(calls), 3, "fine_tune called once per round", "line 5 is inside the loop of line 2")
    expect_close(calls, [0.5, 0.75, 0.875], "the sparsity before each fine-tuning (1 - 0.5^i)",
                 "prune `fraction` of the REMAINING weights each round, then fine-tune", atol=0.02)
    expect(all(not bool((p.detach()[~masks[n].bool()] != 0).any()) for n, p in net.named_parameters() if n in masks),
           "removed weights still zero after fine-tuning", "pass keep_masks(masks) as fine_tune's after_step")
    calls.clear()
    ref = prune_and_finetune(reference, 3, 0.5, scope="layer", fine_tune=fine_tune)
    for name in ref.masks:
        if not torch.equal(masks[name].bool(), ref.masks[name]):
            raise ExerciseFailure(f"Expected the same masks as labkit.pruning.prune_and_finetune(scope='layer') "
                                  f"for {name!r}. Hint: score the fine-tuned weights of this round (line 3), "
                                  f"not the original ones.")
    passed("algorithm1: N rounds of saliency -> select_min_k -> fine-tune, masks kept through fine-tuning")


def check_reset_to_init(fn) -> None:
    """``fn(model, init_state, masks)`` must load the initial weights and zero the removed ones (LTH line 4)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    init = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)                                  # "training" moved every weight
    masks = {n: torch.rand(p.shape, generator=torch.Generator().manual_seed(1)) > 0.5
             for n, p in net.named_parameters() if n.endswith("weight")}
    out = call(fn, net, init, masks, what="reset_to_init")
    expect(out is net or out is None, "the same model, changed in place", "load the state into `model` itself")
    state = net.state_dict()
    for name, mask in masks.items():
        expect_close(state[name], init[name] * mask, f"{name} = mask * initial weights",
                     "load init_state, then zero the removed weights (pruning.apply_masks)")
    expect_close(state["0.bias"], init["0.bias"], "the biases back at their initial values too",
                 "reset every parameter, not only the masked weights: model.load_state_dict(init_state)")
    passed("reset_to_init: theta <- m * theta_0, the reset that makes a winning ticket")
