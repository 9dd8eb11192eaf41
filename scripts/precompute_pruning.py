"""Precompute the sweeps that notebooks 01 and 02 read from data/pruning/ (small JSON files).

    nice -n 5 .venv/bin/python scripts/precompute_pruning.py                 # everything
    nice -n 5 .venv/bin/python scripts/precompute_pruning.py --only lottery  # one part
    .venv/bin/python scripts/precompute_pruning.py --quick                   # a smoke run (into a temp dir)

* sweep     digits MLP 64-128-64-10: criterion x granularity x schedule x sparsity, 3 seeds, val accuracy
* regrowth  digits MLP trained sparse (90 %) from scratch: static mask, SET, RigL, 3 seeds, per epoch
* lottery   MNIST-1D MLP 40-100-100-10: IMP with reset, random re-init, random mask, 3 seeds, val + test
* latency   CNN family cnn2d(3x32x32, channels w-2w-4w): dense vs half the channels, by width and batch

Every file is written atomically through labkit.cache. One torch thread throughout.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import cache, data, metrics, models, train  # noqa: E402
from labkit import pruning  # noqa: E402

CRITERIA = ("magnitude", "random", "taylor", "obd", "snip")
GRANULARITIES = ("weight", "channel")
SCHEDULES = ("one-shot", "iterative", "gradual")
ROUNDS = 8                       # iterative: 8 rounds of p = 1 - 0.1^(1/5): 90 % after round 5
FRACTION = 1 - 0.1 ** (1 / 5)
DIGITS_HIDDEN = (128, 64)
DENSE = dict(epochs=40, lr=3e-3)        # dense digits MLP: ~97 % validation accuracy
FINE_TUNE = dict(epochs=4, lr=1e-3)     # per pruning round


def digits_dense(ds, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = models.mlp(ds.input_shape, hidden=DIGITS_HIDDEN, num_classes=ds.num_classes)
    train.fit(net, ds.train, ds.val, seed=seed, progress=False, **DENSE)
    return net


def sweep(seeds=(0, 1, 2), quick=False) -> dict:
    ds = data.load("digits", seed=0)
    ft = dict(FINE_TUNE, epochs=1) if quick else FINE_TUNE
    rounds = 2 if quick else ROUNDS
    grid = [pruning.sparsity_after(FRACTION, i) for i in range(1, rounds + 1)]
    runs, dense_acc = [], {}
    for seed in seeds:
        dense = digits_dense(ds, seed)
        dense_acc[str(seed)] = train.accuracy(dense, ds.val)
        batches = list(ds.train.loader(128, shuffle=True, seed=seed))[:4]
        fine = lambda m, keep: train.fit(m, ds.train, ds.val, seed=seed, progress=False, after_step=keep, **ft)
        val = lambda m: train.accuracy(m, ds.val)
        for crit in CRITERIA:
            for gran in GRANULARITIES:
                for sched in SCHEDULES:
                    t0 = time.perf_counter()
                    if crit == "snip":   # SNIP prunes at initialisation, once, then trains: one-shot only
                        if sched != "one-shot":
                            continue
                        xs, ys = _snip_runs(ds, seed, grid, gran, batches, quick)
                    elif sched == "iterative":
                        res = pruning.prune_and_finetune(copy.deepcopy(dense), rounds, FRACTION, criterion=crit,
                                                         scope="layer" if gran == "channel" else "global",
                                                         granularity=gran, fine_tune=fine, batches=batches,
                                                         evaluate=val, seed=seed)
                        xs, ys = [h["sparsity"] for h in res.history], [h["score"] for h in res.history]
                    elif sched == "one-shot":
                        xs, ys = [], []
                        for s in grid:
                            res = pruning.prune_and_finetune(copy.deepcopy(dense), 1, s, criterion=crit,
                                                             scope="layer" if gran == "channel" else "global",
                                                             granularity=gran, fine_tune=fine, batches=batches,
                                                             evaluate=val, seed=seed)
                            xs.append(res.history[-1]["sparsity"])
                            ys.append(res.history[-1]["score"])
                    else:                  # gradual: weight-level magnitude only (Zhu & Gupta)
                        if gran != "weight" or crit != "magnitude":
                            continue
                        xs, ys = _gradual_runs(ds, dense, seed, grid, ft)
                    runs.append({"criterion": crit, "granularity": gran, "schedule": sched, "seed": seed,
                                 "sparsity": xs, "accuracy": ys})
                    print(f"sweep seed {seed} {crit:9s} {gran:7s} {sched:9s} "
                          f"acc@last {ys[-1]:.3f} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return {"meta": {"data": "digits", "model": f"MLP 64-{'-'.join(map(str, DIGITS_HIDDEN))}-10",
                     "criteria": list(CRITERIA), "granularities": list(GRANULARITIES), "schedules": list(SCHEDULES),
                     "fraction_per_round": FRACTION, "fine_tune": ft, "dense_training": DENSE,
                     "note": "iterative: the budget is one fine-tuning per round; one-shot and gradual get the "
                             "same budget as one round. Channel pruning uses the same share per layer. "
                             "SNIP prunes at initialisation and trains from scratch; gradual is magnitude only."},
            "dense": dense_acc, "runs": runs}


def _snip_runs(ds, seed, grid, gran, batches, quick):
    xs, ys = [], []
    for s in grid:
        torch.manual_seed(seed)
        net = models.mlp(ds.input_shape, hidden=DIGITS_HIDDEN, num_classes=ds.num_classes)
        res = pruning.prune_and_finetune(net, 1, s, criterion="snip", granularity=gran,
                                         scope="layer" if gran == "channel" else "global", batches=batches, seed=seed)
        keep = pruning.keep_masks(res.masks)
        train.fit(net, ds.train, ds.val, seed=seed, progress=False, after_step=keep,
                  **dict(DENSE, epochs=2 if quick else DENSE["epochs"]))
        xs.append(res.history[-1]["sparsity"])
        ys.append(train.accuracy(net, ds.val))
    return xs, ys


def _gradual_runs(ds, dense, seed, grid, ft):
    xs, ys = [], []
    steps_per_epoch = -(-len(ds.train) // 128)
    for s in grid:
        net = copy.deepcopy(dense)
        epochs = ft["epochs"] * 2
        events = max(2, (epochs * steps_per_epoch * 3 // 4) // 10)
        cfg = pruning.GradualConfig(final_sparsity=s, events=10, every=max(1, events))
        pruner = pruning.GradualPruner(net, cfg)
        with warnings.catch_warnings():   # the loss rises while weights are removed: expected here
            warnings.simplefilter("ignore", train.LearningWarning)
            train.fit(net, ds.train, ds.val, seed=seed, progress=False, after_step=pruner, **dict(ft, epochs=epochs))
        xs.append(pruning.sparsity(pruner.masks_))
        ys.append(train.accuracy(net, ds.val))
    return xs, ys


def regrowth(seeds=(0, 1, 2), quick=False, target=0.9) -> dict:
    ds = data.load("digits", seed=0)
    epochs = 2 if quick else 30
    curves = {"dense": [], "static": [], "set": [], "rigl": []}
    moved = {}
    for seed in seeds:
        for method in curves:
            torch.manual_seed(seed)
            net = models.mlp(ds.input_shape, hidden=DIGITS_HIDDEN, num_classes=ds.num_classes)
            after = None
            if method != "dense":
                masks = pruning.random_masks(pruning.magnitude_masks(net, target, scope="layer"), seed)
                pruning.apply_masks(net, masks)
                after = pruning.keep_masks(masks) if method == "static" else pruning.Regrowth(
                    masks, pruning.RegrowthConfig(method=method, every=20, end=epochs * 9 * 3 // 4, seed=seed))
            hist = train.fit(net, ds.train, ds.val, epochs=epochs, lr=3e-3, seed=seed, progress=False, after_step=after)
            curves[method].append(hist.val_acc)
            if method in ("set", "rigl"):
                moved.setdefault(method, []).append(sum(k for _, k in after.moved_))
            print(f"regrowth seed {seed} {method:6s} final {hist.val_acc[-1]:.3f}", flush=True)
    return {"data": "digits", "model": "MLP 64-128-64-10", "sparsity": target, "curves": curves, "moved": moved,
            "note": "sparse runs start from a random mask with each layer at the target sparsity; "
                    "SET/RigL move weights every 20 steps with RigL's cosine drop fraction (alpha 0.3)."}


def lottery(seeds=(0, 1, 2), quick=False, rounds=10) -> dict:
    ds = data.load("mnist1d", seed=0)
    test = ds.test()
    rounds = 2 if quick else rounds
    epochs = 2 if quick else LTH_EPOCHS
    out = []
    for seed in seeds:
        record = {"val": {}, "test": {}}
        tests = []

        def train_fn(model, after_step):
            train.fit(model, ds.train, ds.val, epochs=epochs, lr=LTH_LR, patience=LTH_PATIENCE, seed=seed,
                      after_step=after_step, progress=False)
            tests.append(train.accuracy(model, test))
            return train.accuracy(model, ds.val)

        torch.manual_seed(seed)
        net = models.mlp(ds.input_shape, hidden=(100, 100), num_classes=10)
        lt = pruning.LotteryTicket(pruning.LotteryConfig(rounds=rounds, fraction=0.2)).fit(net, train_fn)
        record["sparsity"] = [h["sparsity"] for h in lt.history_]
        record["val"]["ticket"] = [h["accuracy"] for h in lt.history_]
        record["test"]["ticket"] = list(tests)
        tests.clear()
        control_rounds = list(range(2, rounds + 1, 2)) if rounds > 2 else [rounds]
        controls = pruning.train_controls(lt, net, train_fn, seed=1000 + seed, rounds=control_rounds)
        record["control_sparsity"] = [c["sparsity"] for c in controls]
        record["val"]["reinit"] = [c["reinit"] for c in controls]
        record["val"]["random_mask"] = [c["random_mask"] for c in controls]
        record["test"]["reinit"], record["test"]["random_mask"] = tests[0::2], tests[1::2]
        out.append(record)
        print(f"lottery seed {seed}: ticket {record['test']['ticket']}\n reinit {record['test']['reinit']}", flush=True)
    return {"data": "MNIST-1D", "model": "MLP 40-100-100-10", "fraction": 0.2,
            "training": {"epochs": epochs, "lr": LTH_LR, "patience": LTH_PATIENCE, "optimizer": "adam"},
            "seeds": out}


LTH_EPOCHS, LTH_LR, LTH_PATIENCE = 40, 1e-3, 5


def timed(model, x, clock) -> float:
    with torch.inference_mode():
        t0 = clock()
        model(x)
        return clock() - t0


def interleaved_speedup(a: nn.Module, b: nn.Module, x, pairs: int = 15, clock=time.thread_time) -> tuple:
    """Median of a's and b's time over interleaved runs (a, b, a, b, ...), after warm-up."""
    a.eval(), b.eval()
    for _ in range(2):
        timed(a, x, clock), timed(b, x, clock)
    ta, tb = [], []
    for _ in range(pairs):
        ta.append(timed(a, x, clock))
        tb.append(timed(b, x, clock))
    return statistics.median(ta), statistics.median(tb)


KINDS = {"conv": (nn.Conv1d, nn.Conv2d), "linear": (nn.Linear,), "batchnorm": (nn.BatchNorm1d, nn.BatchNorm2d),
         "relu + pool": (nn.ReLU, nn.MaxPool2d, nn.MaxPool1d)}


def time_by_kind(model: nn.Module, x, repeats: int = 5) -> dict[str, float]:
    """Milliseconds per batch spent in each kind of layer (CPU time of the thread, median of repeats)."""
    model.eval()
    per = {k: [] for k in KINDS}
    with torch.inference_mode():
        for _ in range(repeats + 1):
            spent = {k: 0.0 for k in KINDS}
            h = x
            for m in model:
                t0 = time.thread_time()
                h = m(h)
                dt = time.thread_time() - t0
                for kind, types in KINDS.items():
                    if isinstance(m, types):
                        spent[kind] += dt
            for k in KINDS:
                per[k].append(spent[k])
    return {k: 1000 * statistics.median(v[1:]) for k, v in per.items()}


def latency(quick=False) -> dict:
    torch.set_num_threads(1)
    widths = (8, 16) if quick else (8, 16, 32, 64)
    batches = (1,) if quick else (1, 64)
    shape = (3, 32, 32)
    speed = {}
    # BatchNorm folding (benchmarks/pruning.py measures it) is left out here: at widths 8-32 its effect
    # was smaller than the run-to-run noise of this shared machine
    for batch, folded in [(b, False) for b in batches]:
        key = f"{batch}, BatchNorm folded" if folded else str(batch)
        speed[key] = []
        for w in widths:
            torch.manual_seed(0)
            net = models.cnn2d(shape, channels=(w, 2 * w, 4 * w)).eval()
            small, _ = pruning.prune_channels(net, 0.5)
            red = metrics.count_macs(net, shape) / metrics.count_macs(small, shape)
            if folded:
                net, small = pruning.fold_batchnorm(net), pruning.fold_batchnorm(small)
            x = torch.randn(batch, *shape)
            blocks = [interleaved_speedup(net, small, x, pairs=5 if quick else 15) for _ in range(1 if quick else 3)]
            ta, tb = sorted(blocks, key=lambda t: t[0] / t[1])[len(blocks) // 2]          # median block
            speed[key].append({"width": w, "dense_ms": 1000 * ta, "pruned_ms": 1000 * tb,   # median of 3 blocks
                               "speedup": ta / tb, "mac_reduction": red})
            print(f"latency batch {key} w {w}: speedup {ta / tb:.2f} MACs {red:.2f}", flush=True)
    breakdown = []
    for w in widths[-2:]:
        torch.manual_seed(0)
        net = models.cnn2d(shape, channels=(w, 2 * w, 4 * w)).eval()
        small, _ = pruning.prune_channels(net, 0.5)
        x = torch.randn(64, *shape)
        for label, m in (("dense", net), ("half channels", small)):
            breakdown.append({"width": w, "model": label, "ms": time_by_kind(m, x, 2 if quick else 5)})
    return {"family": "cnn2d 3x32x32, channels (w, 2w, 4w), BatchNorm, 1 thread", "speedup": speed,
            "breakdown": breakdown, "breakdown_batch": 64, "kinds": list(KINDS),
            "clock": "CPU time of the one inference thread (time.thread_time): robust on a shared machine"}


PARTS = {"sweep": sweep, "regrowth": regrowth, "lottery": lottery, "latency": latency}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    parser.add_argument("--quick", action="store_true", help="tiny budgets, written to --out")
    parser.add_argument("--out", default=str(cache.DATA_DIR / "pruning"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.only.split(","):
        t0 = time.perf_counter()
        kwargs = {"quick": True, "seeds": (0,)} if args.quick and name != "latency" else {"quick": args.quick}
        result = PARTS[name](**kwargs)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        cache.save_json(Path(args.out) / f"{name}.json", result)
        print(f"{name}: written in {result['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
