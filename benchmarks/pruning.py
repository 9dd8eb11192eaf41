"""Pruning benchmark: labkit.pruning beside torch.nn.utils.prune, computed live, several seeds.

    nice -n 5 .venv/bin/python benchmarks/pruning.py [--quick]

1. Iterative magnitude pruning (Algorithm 1) with fine-tuning to 90 % sparsity, digits MLP 64-256-256-10,
   test accuracy; one-shot pruning to 90 % with the same fine-tuning per round beside it.
2. Lottery ticket on MNIST-1D, MLP 40-100-100-10: tickets at 19.2 % of the weights (7 rounds of 21 %)
   against dense, random re-initialisation and a random mask, test accuracy.
3. Structured pruning of half the channels of cnn2d (3x32x32, channels w-2w-4w) at batch 64, one
   thread: measured speedup divided by MAC reduction, median over widths; torch's ln_structured (masks
   only) beside it. Times are CPU time of the inference thread, interleaved dense/pruned.
4. Training cost of keeping masks: labkit's after-step masked_fill_ against torch's forward pre-hooks.

Ends with the one line:
pruning: imp_drop_at_90=<points> lth_ticket_gap=<points> lth_reinit_gap=<points> struct_speedup_over_mac_ratio=<x> mask_overhead_vs_torch=<x>
(gaps and drops are dense minus pruned, in accuracy points: negative means better than dense).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils import prune as torch_prune

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import data, metrics, models, train  # noqa: E402
from labkit import pruning  # noqa: E402


def imp_at_90(seeds, quick) -> dict:
    ds = data.load("digits", seed=0)
    test = ds.test()
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = models.mlp(ds.input_shape, hidden=(256, 256), num_classes=ds.num_classes)
        train.fit(net, ds.train, ds.val, epochs=5 if quick else 40, lr=3e-3, seed=seed, progress=False)
        dense = train.accuracy(net, test)
        # 8 epochs of Adam at 3e-3 per round: chosen on the validation split (4 epochs at 1e-3 left the last
        # round unrecovered: the 90 % network still learns when the next cut comes)
        fine = lambda m, keep: train.fit(m, ds.train, ds.val, epochs=1 if quick else 8, lr=3e-3, seed=seed,
                                         after_step=keep, progress=False)
        p = pruning.fraction_per_round(0.9, 5)          # 5 rounds of 36.9 % of the remaining weights
        iterative = pruning.prune_and_finetune(copy.deepcopy(net), 5, p, fine_tune=fine)
        one_shot = pruning.prune_and_finetune(copy.deepcopy(net), 1, 0.9, fine_tune=fine)
        rows.append({"seed": seed, "dense": dense, "iterative": train.accuracy(iterative.model, test),
                     "one_shot": train.accuracy(one_shot.model, test),
                     "sparsity": pruning.sparsity(iterative.masks)})
    print("\n1. Iterative magnitude pruning to 90 % (global threshold), digits MLP 64-256-256-10, "
          "fine-tuning 8 epochs per round, test accuracy (%)")
    print(f"{'seed':>5} {'dense':>7} {'IMP 5x36.9%':>12} {'one-shot 90%':>13} {'sparsity':>9}")
    for r in rows:
        print(f"{r['seed']:>5} {100 * r['dense']:7.2f} {100 * r['iterative']:12.2f} {100 * r['one_shot']:13.2f} "
              f"{100 * r['sparsity']:8.1f}%")
    drop = 100 * np.mean([r["dense"] - r["iterative"] for r in rows])
    print(f"mean drop dense - IMP: {drop:+.2f} points (goal <= 1.0); one-shot: "
          f"{100 * np.mean([r['dense'] - r['one_shot'] for r in rows]):+.2f}")
    return {"drop": drop}


def lottery(seeds, quick) -> dict:
    ds = data.load("mnist1d", seed=0)
    test = ds.test()
    rows = []
    for seed in seeds:
        tests = []

        def train_fn(model, after_step):
            train.fit(model, ds.train, ds.val, epochs=2 if quick else 40, lr=1e-3, patience=5, seed=seed,
                      after_step=after_step, progress=False)
            tests.append(train.accuracy(model, test))
            return train.accuracy(model, ds.val)

        torch.manual_seed(seed)
        net = models.mlp(ds.input_shape, hidden=(100, 100), num_classes=10)
        rounds = 2 if quick else 7
        lt = pruning.LotteryTicket(pruning.LotteryConfig(rounds=rounds, fraction=0.21)).fit(net, train_fn)
        dense, ticket = tests[0], tests[-1]
        masks = lt.masks_[-1]
        pruning.apply_masks(pruning.reinitialize(net, 1000 + seed), masks)
        train_fn(net, pruning.keep_masks(masks))
        shuffled = pruning.random_masks(masks, 1000 + seed)
        net.load_state_dict(lt.init_state_)
        pruning.apply_masks(net, shuffled)
        train_fn(net, pruning.keep_masks(shuffled))
        rows.append({"seed": seed, "remaining": 1 - pruning.sparsity(masks), "dense": dense, "ticket": ticket,
                     "reinit": tests[-2], "random_mask": tests[-1]})
    print("\n2. Lottery ticket, MNIST-1D MLP 40-100-100-10, Adam 1e-3, early stopping on validation, test accuracy (%)")
    print(f"{'seed':>5} {'left':>6} {'dense':>7} {'ticket':>7} {'re-init':>8} {'rand mask':>10}")
    for r in rows:
        print(f"{r['seed']:>5} {100 * r['remaining']:5.1f}% {100 * r['dense']:7.2f} {100 * r['ticket']:7.2f} "
              f"{100 * r['reinit']:8.2f} {100 * r['random_mask']:10.2f}")
    gap = lambda k: 100 * np.mean([r["dense"] - r[k] for r in rows])
    print(f"mean gap dense - ticket {gap('ticket'):+.2f} (goal <= 0.5), dense - re-init {gap('reinit'):+.2f} "
          f"(goal >= 3), dense - random mask {gap('random_mask'):+.2f}")
    return {"ticket_gap": gap("ticket"), "reinit_gap": gap("reinit")}


def _cpu_ms(model, x) -> float:
    with torch.inference_mode():
        t0 = time.thread_time()
        model(x)
        return 1000 * (time.thread_time() - t0)


def _interleaved(models_, x, rounds) -> list[float]:
    """Median CPU ms per model; each round runs every model once, in an order rotated every round so
    that no model always follows the same one (cache state is shared)."""
    for m in models_:
        m.eval()
        _cpu_ms(m, x), _cpu_ms(m, x)
    times = [[] for _ in models_]
    n = len(models_)
    for r in range(rounds):
        for i in [(r + j) % n for j in range(n)]:
            times[i].append(_cpu_ms(models_[i], x))
    return [statistics.median(t) for t in times]


def structured(quick) -> dict:
    torch.set_num_threads(1)
    shape, batch = (3, 32, 32), 64
    widths = (8, 16) if quick else (32, 64, 96)
    rows = []
    for w in widths:
        torch.manual_seed(0)
        net = models.cnn2d(shape, channels=(w, 2 * w, 4 * w)).eval()
        small, _ = pruning.prune_channels(net, 0.5)
        masked = copy.deepcopy(net)                 # torch's structured pruning: masks, same shapes
        for m in masked.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch_prune.ln_structured(m, "weight", amount=0.5, n=1, dim=0)
        folded, small_folded = pruning.fold_batchnorm(net), pruning.fold_batchnorm(small)
        red = metrics.count_macs(net, shape) / metrics.count_macs(small, shape)
        x = torch.randn(batch, *shape)
        t_dense, t_small, t_masked, t_fd, t_fs = _interleaved([net, small, masked, folded, small_folded], x,
                                                              5 if quick else 20)
        rows.append({"width": w, "mac_reduction": red, "dense_ms": t_dense, "small_ms": t_small,
                     "masked_ms": t_masked, "speedup_bn": t_dense / t_small, "speedup": t_fd / t_fs,
                     "masked_speedup": t_dense / t_masked, "params": (metrics.count_params(net),
                                                                     metrics.count_params(small))})
    print(f"\n3. Half the channels of cnn2d(3x32x32, w-2w-4w), batch {batch}, 1 thread, CPU ms per batch (medians)")
    print(f"{'w':>4} {'params':>17} {'MACs /':>7} {'dense':>8} {'pruned':>8} {'speedup':>8} {'/MACs':>6} "
          f"{'BN folded /MACs':>16} {'torch ln_structured speedup':>28}")
    for r in rows:
        print(f"{r['width']:>4} {r['params'][0]:>8,}->{r['params'][1]:<8,} {r['mac_reduction']:7.2f} "
              f"{r['dense_ms']:8.1f} {r['small_ms']:8.1f} {r['speedup_bn']:8.2f} "
              f"{r['speedup_bn'] / r['mac_reduction']:6.2f} {r['speedup'] / r['mac_reduction']:16.2f} "
              f"{r['masked_speedup']:28.2f}")
    ratio = statistics.median(r["speedup"] / r["mac_reduction"] for r in rows)
    ratio_bn = statistics.median(r["speedup_bn"] / r["mac_reduction"] for r in rows)
    print(f"median speedup / MAC reduction: {ratio:.2f} with BatchNorm folded into the convolutions (inference "
          f"form, goal >= 0.8), {ratio_bn:.2f} with BatchNorm as a separate layer. Masks alone keep every MAC: "
          f"the last column is dense kernels on zeros, not less work.")
    return {"ratio": ratio}


def mask_overhead(quick) -> dict:
    ds = data.load("mnist1d", seed=0)
    epochs = 1 if quick else 4

    def run(kind):
        torch.manual_seed(0)
        net = models.mlp(ds.input_shape, hidden=(256, 256), num_classes=10)
        masks = pruning.magnitude_masks(net, 0.9)
        after = None
        if kind == "labkit masks":
            pruning.apply_masks(net, masks)
            after = pruning.keep_masks(masks)
        elif kind == "torch prune":
            for name, m in net.named_children():
                if f"{name}.weight" in masks:
                    torch_prune.custom_from_mask(m, "weight", masks[f"{name}.weight"].float())
        t0 = time.thread_time()
        train.fit(net, ds.train, None, epochs=epochs, progress=False, after_step=after)
        return time.thread_time() - t0

    kinds = ("dense", "labkit masks", "torch prune")
    times = {k: [] for k in kinds}
    for _ in range(2 if quick else 7):              # interleaved repeats
        for k in kinds:
            times[k].append(run(k))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n4. Training with masks, MNIST-1D MLP 40-256-256-10 at 90 % sparsity, {epochs} epochs, "
          f"CPU seconds (median of {len(times['dense'])})")
    for k in kinds:
        print(f"{k:>14}: {med[k]:.3f} s  ({med[k] / med['dense']:.3f}x dense)")
    ratio = med["labkit masks"] / med["torch prune"]
    print(f"labkit / torch.nn.utils.prune: {ratio:.3f} (goal <= 1.1)")
    return {"ratio": ratio}


def main(argv=None):
    parser = argparse.ArgumentParser(description="pruning benchmark")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks that it runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    seeds = (0,) if args.quick else (0, 1, 2)
    print(f"torch {torch.__version__}, 1 thread; machine shared: times are CPU time of this thread")
    overhead = mask_overhead(args.quick)
    struct = structured(args.quick)
    imp = imp_at_90(seeds, args.quick)
    lth = lottery(seeds, args.quick)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s wall")
    print(f"pruning: imp_drop_at_90={imp['drop']:.2f} lth_ticket_gap={lth['ticket_gap']:.2f} "
          f"lth_reinit_gap={lth['reinit_gap']:.2f} struct_speedup_over_mac_ratio={struct['ratio']:.2f} "
          f"mask_overhead_vs_torch={overhead['ratio']:.2f}")


if __name__ == "__main__":
    main()
