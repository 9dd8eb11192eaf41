"""DARTS on MNIST-1D, live: search cost, derived cells vs random cells, first vs second order.

    python benchmarks/darts.py            # about 20 CPU-minutes on 2 worker processes of one thread each
    python benchmarks/darts.py --quick    # tiny budgets: tests this script only

1. First-order searches (labkit.nas.darts, 3-node cell, 2 cells of 8 channels, 20 epochs: 10 of w alone,
   then 10 bilevel with the paper's architecture optimiser) on the two halves of the TRAINING split
   (w on one, alpha on the other), one per seed in SEARCH_SEEDS. The method was tuned on other seeds.
2. The cost of one bilevel step, first vs second order, interleaved in the main process (the paper:
   1.5 vs 4 GPU-days, 2.7x).
3. Every cell retrained from scratch with the same budget and the same training seeds: each derived cell,
   8 random cells of the same space, and a hand-designed CNN for reference; test accuracy once, at the
   end. Parameter counts are printed beside the accuracies (parameter-free operations make cells smaller).
4. The "~100x cheaper" claim of the slide, in the units we can measure: the search in retrainings, the
   size of the space.

Times: CPU-seconds of the worker that ran the job (one thread) are what it costs on a core of its own;
wall seconds are printed beside them because the machine may be shared. Ends with the issue's summary line.
"""
from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import data, models, train  # noqa: E402
from labkit.nas.darts import (PRIMITIVES, DartsSearch, DerivedNetwork, NetworkConfig,  # noqa: E402
                              SearchConfig, random_genotype)
from labkit.nas.darts.estimate import RetrainConfig, search_splits  # noqa: E402
from labkit.nas.darts.genotype import PARAMETER_FREE  # noqa: E402

NETWORK = NetworkConfig(channels=8, cells=2, nodes=3)
SEARCH = dict(epochs=20, warmup_epochs=10)  # alpha: the paper's Adam 3e-4; the first half trains w only
SEARCH_SEEDS = (0, 100, 200, 300, 400)  # the method was chosen on search seeds 1-3: these are fresh
RETRAIN = RetrainConfig()  # 16 channels, 2 cells, 15 epochs of Adam 3e-3
TRAIN_SEEDS = (0, 1)
RANDOM_CELLS = 8
STEP_REPEATS = 8
WORKERS = 2  # processes of one torch thread each: the 2 cores


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _init_worker():
    torch.set_num_threads(1)


def _dataset(quick):
    ds = data.load("mnist1d", val_fraction=0.2, seed=0)
    if quick:
        ds.train = ds.train.subset(256)
    return ds


def search_job(seed, search, quick):
    """One first-order search (in a worker); its CPU-seconds are the search cost."""
    ds = _dataset(quick)
    w_split, a_split = search_splits(ds.train, seed=0)
    s, wall, cpu = timed(lambda: DartsSearch(NETWORK, SearchConfig(order="first", seed=seed, **search))
                         .fit(w_split, a_split, num_classes=ds.num_classes))
    return {"seed": seed, "genotype": s.genotype_, "cpu": cpu, "wall": wall,
            "supernet_val": s.history_["val_acc"][-1], "free": sum(s.genotype_.count(op) for op in PARAMETER_FREE)}


def train_job(kind, genotype, seed, retrain_cfg, quick):
    """Train one network from scratch with the common budget (in a worker); test accuracy at the end."""
    ds = _dataset(quick)
    torch.manual_seed(seed)
    if kind == "cnn":
        net = models.cnn1d(ds.input_shape, channels=(32, 32, 32), num_classes=ds.num_classes)
    else:
        net = DerivedNetwork(genotype, ds.num_classes, NetworkConfig(channels=retrain_cfg.channels,
                                                                     cells=retrain_cfg.cells, nodes=NETWORK.nodes))
    hist, wall, cpu = timed(lambda: train.fit(net, ds.train, ds.val, epochs=retrain_cfg.epochs, lr=retrain_cfg.lr,
                                              batch_size=retrain_cfg.batch_size, seed=seed, progress=False))
    return {"val": hist.val_acc[-1], "test": train.accuracy(net, ds.test()), "cpu": cpu, "wall": wall,
            "params": sum(p.numel() for p in net.parameters())}


def step_costs(w_split, a_split, repeats=STEP_REPEATS):
    """Median CPU-seconds of one bilevel step, first and second order, interleaved."""
    xt, yt = w_split.X[:64], w_split.y[:64]
    xv, yv = a_split.X[:64], a_split.y[:64]
    searches = {o: DartsSearch(NETWORK, SearchConfig(order=o, epochs=1, warmup_epochs=0)).setup(10, 100)
                for o in ("first", "second")}
    costs = {o: [] for o in searches}
    for rep in range(repeats + 1):
        for order, s in searches.items():
            _, _, cpu = timed(lambda: s.step((xt, yt), (xv, yv)))
            if rep:  # the first step of each pays for allocations
                costs[order].append(cpu)
    return {o: statistics.median(c) for o, c in costs.items()}


def mean_sd(xs):
    return f"{np.mean(xs):.3f} +-{np.std(xs):.3f}"


def main(quick: bool = False):
    torch.set_num_threads(1)
    search, retrain_cfg, random_cells, repeats = SEARCH, RETRAIN, RANDOM_CELLS, STEP_REPEATS
    if quick:  # smoke test of this script only: tiny budgets, meaningless numbers
        search, retrain_cfg, random_cells, repeats = dict(epochs=1, warmup_epochs=0), RetrainConfig(
            channels=2, epochs=1), 2, 1
    ds = _dataset(quick)
    w_split, a_split = search_splits(ds.train, seed=0)
    print(f"MNIST-1D: search on {len(w_split)} (w) + {len(a_split)} (alpha) training samples; retrain on "
          f"{len(ds.train)}, validate on {len(ds.val)}; test {len(ds.test())} used only for the final column")
    print(f"search: {SearchConfig(**search)}\nretraining (every network): {retrain_cfg}\n", flush=True)

    wall0 = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, initializer=_init_worker) as pool:
        search_f = [pool.submit(search_job, seed, search, quick) for seed in SEARCH_SEEDS]
        cells = [random_genotype(NETWORK.nodes, seed=2000 + r) for r in range(random_cells)]
        random_f = [[pool.submit(train_job, "cell", g, seed, retrain_cfg, quick) for seed in TRAIN_SEEDS]
                    for g in cells]
        cnn_f = [pool.submit(train_job, "cnn", None, seed, retrain_cfg, quick) for seed in TRAIN_SEEDS]
        steps = step_costs(w_split, a_split, repeats)  # in this process, while the workers run
        searches = [f.result() for f in search_f]
        for s in searches:
            print(f"first-order search seed {s['seed']}: {s['cpu']:.0f} CPU-s ({s['wall']:.0f} s wall), supernet "
                  f"val acc {s['supernet_val']:.3f}, parameter-free edges {s['free']} of {2 * NETWORK.nodes}\n"
                  f"  cell: {s['genotype']}", flush=True)
        derived_f = [[pool.submit(train_job, "cell", s["genotype"], seed, retrain_cfg, quick) for seed in TRAIN_SEEDS]
                     for s in searches]
        derived = [[f.result() for f in fs] for fs in derived_f]
        randoms = [[f.result() for f in fs] for fs in random_f]
        cnn = [f.result() for f in cnn_f]
    wall = time.perf_counter() - wall0

    ratio = steps["second"] / steps["first"]
    print(f"\none bilevel step: first order {steps['first']:.3f} CPU-s, second order {steps['second']:.3f} CPU-s "
          f"-> {ratio:.2f}x (paper: 4 / 1.5 = 2.7x GPU-days)\n")
    print("each cell retrained with seeds", TRAIN_SEEDS, "-> test accuracy (mean over seeds), parameters")
    for s, rs in zip(searches, derived):
        print(f"derived, search seed {s['seed']:>3}: {s['genotype']} -> {np.mean([x['test'] for x in rs]):.3f}"
              f"  ({rs[0]['params']} params)")
    for r, (g, rs) in enumerate(zip(cells, randoms)):
        print(f"random cell {r}:          {g} -> {np.mean([x['test'] for x in rs]):.3f}  ({rs[0]['params']} params)")

    rows = {"derived (first order)": [x for rs in derived for x in rs],
            "random cells": [x for rs in randoms for x in rs], "CNN 32-32-32 (hand-designed)": cnn}
    print(f"\n{'networks, same budget':<30}{'n':>4}{'val acc':>16}{'test acc':>16}{'params':>9}{'CPU-s/train':>13}")
    for name, rs in rows.items():
        print(f"{name:<30}{len(rs):>4}{mean_sd([x['val'] for x in rs]):>16}{mean_sd([x['test'] for x in rs]):>16}"
              f"{int(np.mean([x['params'] for x in rs])):>9}{np.mean([x['cpu'] for x in rs]):>13.1f}")
    per_search = [np.mean([x["test"] for x in rs]) for rs in derived]
    per_cell = [np.mean([x["test"] for x in rs]) for rs in randoms]
    derived_acc, random_acc = float(np.mean(per_search)), float(np.mean(per_cell))
    print(f"per search (mean over training seeds): {mean_sd(per_search)} over {len(per_search)} searches; "
          f"per random cell: {mean_sd(per_cell)} over {len(per_cell)} cells (best {max(per_cell):.3f})")
    print(f"derived beats the mean of {len(per_cell)} random cells: {derived_acc > random_acc} "
          f"({derived_acc:.4f} vs {random_acc:.4f}); searches above the random mean: "
          f"{sum(a > random_acc for a in per_search)} of {len(per_search)}")
    if len(per_search) > 1 and len(per_cell) > 1:  # is the gap larger than the noise between cells?
        t = stats.ttest_ind(per_search, per_cell, equal_var=False)
        print(f"Welch's t-test, searches vs random cells: difference {derived_acc - random_acc:+.4f}, "
              f"t = {t.statistic:.2f}, p = {t.pvalue:.2f} (p < 0.05 would call the gap real)")

    search_cpu = float(np.mean([s["cpu"] for s in searches]))
    retrain_cpu = float(np.mean([x["cpu"] for x in rows["random cells"] + rows["derived (first order)"]]))
    space = np.prod([(j + 2) * (j + 1) / 2 * (len(PRIMITIVES) - 1) ** 2 for j in range(NETWORK.nodes)])
    hits = np.mean(np.asarray(per_cell) >= derived_acc)
    print("\n'~100x cheaper' (slide): the paper compares GPU-days, NASNet-A 1800 and AmoebaNet 3150 vs DARTS 1.5-4"
          " (450-2100x), but ENAS 0.5 (DARTS is not cheaper than ENAS).")
    print(f"here: one first-order search = {search_cpu:.0f} CPU-s = {search_cpu / retrain_cpu:.1f} retrainings of "
          f"one candidate ({retrain_cpu:.0f} CPU-s); the space holds {space:,.0f} cells "
          f"(training each: {space:.2e} retrainings).")
    print(f"random cells at least as good as the derived cells' mean: {hits:.2f} of {len(per_cell)}; DARTS costs "
          f"{search_cpu / retrain_cpu + 1:.1f} trainings (search + one retraining).")
    print(f"search wall time on this (shared) machine: {np.mean([s['wall'] for s in searches]):.0f} s per search; "
          f"slowest search {max(s['cpu'] for s in searches):.0f} CPU-s; under 3 minutes of CPU: {search_cpu < 180}; "
          f"whole benchmark {wall / 60:.1f} min wall with {WORKERS} workers")
    print(f"\ndarts: search_seconds={search_cpu:.1f} derived_acc={derived_acc:.4f} random_cells_acc={random_acc:.4f} "
          f"second_over_first_time={ratio:.2f}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
