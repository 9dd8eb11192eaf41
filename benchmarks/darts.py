"""DARTS on MNIST-1D, live: search cost, derived cell vs random cells, first vs second order.

    python benchmarks/darts.py            # about 9 CPU-minutes on one core (one torch thread)

1. First-order search (labkit.nas.darts, 3-node cell, 2 cells of 8 channels), on the two halves of the
   TRAINING split (w on one, alpha on the other); SEARCH_SEEDS lists the searches (one by default: the
   2-core machine is shared; add seeds when it is yours).
2. The cost of one bilevel step, first vs second order, interleaved in this process (the paper: 1.5 vs
   4 GPU-days, 2.7x).
3. Every cell retrained from scratch with the same budget: the derived cells, 6 random cells of the same
   space, and a hand-designed CNN for reference; three training seeds for each derived cell, two for
   every other network; test accuracy once, at the end.
4. The "~100x cheaper" claim of the slide, in the units we can measure: the search in retrainings, the
   size of the space, the trainings random search needs to match the derived cell.

Times: CPU-seconds of this process (one thread) are what the search costs on a core of its own; wall
seconds are printed beside them because the machine may be shared. Ends with the issue's summary line.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import data, models, train  # noqa: E402
from labkit.nas.darts import (PRIMITIVES, DartsSearch, DerivedNetwork, NetworkConfig,  # noqa: E402
                              SearchConfig, random_genotype)
from labkit.nas.darts.estimate import RetrainConfig, search_splits  # noqa: E402

NETWORK = NetworkConfig(channels=8, cells=2, nodes=3)
SEARCH = dict(epochs=14, warmup_epochs=4)
SEARCH_SEEDS = (0,)
RETRAIN = RetrainConfig()  # 16 channels, 2 cells, 15 epochs of Adam 3e-3
TRAIN_SEEDS = (0, 1)
DERIVED_SEEDS = (0, 1, 2)
RANDOM_CELLS = 6
STEP_REPEATS = 8


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def train_and_test(make_net, ds, seed):
    torch.manual_seed(seed)
    net = make_net()
    hist, wall, cpu = timed(lambda: train.fit(net, ds.train, ds.val, epochs=RETRAIN.epochs, lr=RETRAIN.lr,
                                              batch_size=RETRAIN.batch_size, seed=seed, progress=False))
    return {"val": hist.val_acc[-1], "test": train.accuracy(net, ds.test()), "cpu": cpu, "wall": wall,
            "params": sum(p.numel() for p in net.parameters())}


def step_costs(w_split, a_split):
    """Median CPU-seconds of one bilevel step, first and second order, interleaved."""
    xt, yt = w_split.X[:64], w_split.y[:64]
    xv, yv = a_split.X[:64], a_split.y[:64]
    searches = {o: DartsSearch(NETWORK, SearchConfig(order=o, epochs=1, warmup_epochs=0)).setup(10, 100)
                for o in ("first", "second")}
    costs = {o: [] for o in searches}
    for rep in range(STEP_REPEATS + 1):
        for order, s in searches.items():
            _, _, cpu = timed(lambda: s.step((xt, yt), (xv, yv)))
            if rep:  # the first step of each pays for allocations
                costs[order].append(cpu)
    return {o: statistics.median(c) for o, c in costs.items()}


def main(quick: bool = False):
    global RETRAIN, RANDOM_CELLS, STEP_REPEATS
    torch.set_num_threads(1)
    ds = data.load("mnist1d", val_fraction=0.2, seed=0)
    if quick:  # smoke test of this script only: tiny budgets, meaningless numbers
        SEARCH.update(epochs=1, warmup_epochs=0)
        RETRAIN, RANDOM_CELLS, STEP_REPEATS = RetrainConfig(channels=2, epochs=1), 2, 1
        ds.train = ds.train.subset(256)
    w_split, a_split = search_splits(ds.train, seed=0)
    print(f"MNIST-1D: search on {len(w_split)} (w) + {len(a_split)} (alpha) training samples; retrain on "
          f"{len(ds.train)}, validate on {len(ds.val)}; test {len(ds.test())} used only for the final column\n")

    searches = []
    for seed in SEARCH_SEEDS:
        s, wall, cpu = timed(lambda: DartsSearch(NETWORK, SearchConfig(order="first", seed=seed, **SEARCH))
                             .fit(w_split, a_split, num_classes=ds.num_classes))
        searches.append({"seed": seed, "genotype": s.genotype_, "cpu": cpu, "wall": wall,
                         "supernet_val": s.history_["val_acc"][-1]})
        print(f"first-order search seed {seed}: {cpu:.0f} CPU-s ({wall:.0f} s wall), supernet val acc "
              f"{s.history_['val_acc'][-1]:.3f}, skips {s.genotype_.count('skip_connect')}\n  cell: {s.genotype_}",
              flush=True)

    steps = step_costs(w_split, a_split)
    ratio = steps["second"] / steps["first"]
    print(f"\none bilevel step: first order {steps['first']:.3f} CPU-s, second order {steps['second']:.3f} CPU-s "
          f"-> {ratio:.2f}x (paper: 4 / 1.5 = 2.7x GPU-days)\n", flush=True)

    derived_cfg = NetworkConfig(channels=RETRAIN.channels, cells=RETRAIN.cells, nodes=NETWORK.nodes)
    rows = {"derived (first order)": [], "random cells": [], "CNN 32-32-32 (hand-designed)": []}
    for s in searches:
        for seed in DERIVED_SEEDS:
            rows["derived (first order)"].append(train_and_test(
                lambda: DerivedNetwork(s["genotype"], ds.num_classes, derived_cfg), ds, seed))
    for r in range(RANDOM_CELLS):
        g = random_genotype(NETWORK.nodes, seed=2000 + r)
        for seed in TRAIN_SEEDS:
            rows["random cells"].append(train_and_test(lambda: DerivedNetwork(g, ds.num_classes, derived_cfg),
                                                       ds, seed))
        print(f"random cell {r}: {g} -> test {np.mean([x['test'] for x in rows['random cells'][-2:]]):.3f}",
              flush=True)
    for seed in TRAIN_SEEDS:
        rows["CNN 32-32-32 (hand-designed)"].append(train_and_test(
            lambda: models.cnn1d(ds.input_shape, channels=(32, 32, 32), num_classes=ds.num_classes), ds, seed))

    print(f"\n{'networks, same budget':<30}{'n':>4}{'val acc':>16}{'test acc':>16}{'params':>9}{'CPU-s/train':>13}")
    for name, rs in rows.items():
        val, test = [x["val"] for x in rs], [x["test"] for x in rs]
        print(f"{name:<30}{len(rs):>4}{np.mean(val):>10.3f} +-{np.std(val):.3f}{np.mean(test):>10.3f} +-"
              f"{np.std(test):.3f}{int(np.mean([x['params'] for x in rs])):>9}{np.mean([x['cpu'] for x in rs]):>13.1f}")
    derived_acc = float(np.mean([x["test"] for x in rows["derived (first order)"]]))
    random_acc = float(np.mean([x["test"] for x in rows["random cells"]]))
    per_cell = [np.mean([x["test"] for x in rows["random cells"][i:i + len(TRAIN_SEEDS)]])
                for i in range(0, len(rows["random cells"]), len(TRAIN_SEEDS))]
    print(f"derived beats the mean of {RANDOM_CELLS} random cells: {derived_acc > random_acc} "
          f"({derived_acc:.3f} vs {random_acc:.3f}; best random cell {max(per_cell):.3f})")

    search_cpu = float(np.mean([s["cpu"] for s in searches]))
    retrain_cpu = float(np.mean([x["cpu"] for x in rows["random cells"] + rows["derived (first order)"]]))
    space = np.prod([(j + 2) * (j + 1) / 2 * (len(PRIMITIVES) - 1) ** 2 for j in range(NETWORK.nodes)])
    hits = np.mean(np.asarray(per_cell) >= derived_acc)
    print("\n'~100x cheaper' (slide): the paper compares GPU-days, NASNet-A 1800 and AmoebaNet 3150 vs DARTS 1.5-4"
          " (450-2100x), but ENAS 0.5 (DARTS is not cheaper than ENAS).")
    print(f"here: one first-order search = {search_cpu:.0f} CPU-s = {search_cpu / retrain_cpu:.1f} retrainings of "
          f"one candidate ({retrain_cpu:.0f} CPU-s); the space holds {space:,.0f} cells "
          f"(training each: {space:.2e} retrainings).")
    print(f"random cells at least as good as the derived cell: {hits:.2f} of {RANDOM_CELLS} -> random search "
          f"needs ~{1 / max(hits, 1 / RANDOM_CELLS):.0f}+ trainings to match; DARTS costs "
          f"{search_cpu / retrain_cpu + 1:.1f} (search + one retraining).")
    print(f"search wall time on this (shared) machine: {np.mean([s['wall'] for s in searches]):.0f} s; "
          f"under 3 minutes of CPU: {search_cpu < 180}")
    print(f"\ndarts: search_seconds={search_cpu:.1f} derived_acc={derived_acc:.4f} random_cells_acc={random_acc:.4f} "
          f"second_over_first_time={ratio:.2f}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
