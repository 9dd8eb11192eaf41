"""Precompute notebook 07's DARTS searches and retrainings into data/darts/ (about 15 CPU-minutes; retrainings on 2 processes).

    python scripts/precompute_darts.py                    # everything
    python scripts/precompute_darts.py --only first long  # some runs
    python scripts/precompute_darts.py --quick            # tiny budgets, to test the script

Writes (atomically, through labkit.cache):
    first.json   first-order search: softmax(alpha) per epoch, losses, skip counts, derived cells
    second.json  second-order search, same network and budget
    fast.json    the first landing's first-order search (alpha 10x faster, short warm-up)
    long.json    a long first-order search without warm-up on 600 samples: the drift to parameter-free ops
    deep.json    the same on a deeper, narrower supernet (5 cells of 4 channels)
    retrain.json derived cells (first, second, fast, long, with each guard) and random cells, retrained
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import cache, data  # noqa: E402
from labkit.nas.darts import (DartsSearch, Genotype, NetworkConfig, SearchConfig, derive,  # noqa: E402
                              random_genotype)
from labkit.nas.darts.diagnostics import collapse_epoch  # noqa: E402
from labkit.nas.darts.genotype import PARAMETER_FREE  # noqa: E402
from labkit.nas.darts.estimate import RetrainConfig, retrain, search_splits  # noqa: E402

OUT = cache.DATA_DIR / "darts"
NETWORK = NetworkConfig(channels=8, cells=2, nodes=3)
RUNS = {
    # the benchmark's search: 20 epochs, the first 10 train w alone, then the paper's alpha optimiser
    "first": SearchConfig(order="first", epochs=20, warmup_epochs=10),
    "second": SearchConfig(order="second", epochs=20, warmup_epochs=10),
    # the first landing's search: alpha at 10x the paper's rate after a 4-epoch warm-up; its cell is
    # pooling-heavy and loses to random cells (notebook 07, section 4)
    "fast": SearchConfig(order="first", epochs=14, warmup_epochs=4, alpha_lr=3e-3),
    # the collapse: no warm-up (the paper's schedule), many epochs on little data (600 samples), where
    # the supernet's weights fit the training half quickly and parameter-free operations take over
    "long": SearchConfig(order="first", epochs=40, warmup_epochs=0),
    # the same on a deeper, narrower supernet (5 cells of 4 channels), where a skip is also a residual
    # path that eases optimisation: the setting of the paper's 8-cell supernet, in miniature
    "deep": SearchConfig(order="first", epochs=30, warmup_epochs=0),
}
SEARCH_SAMPLES = {"long": 600, "deep": 600}
NETWORKS = {"deep": NetworkConfig(channels=4, cells=5, nodes=3)}  # training samples the search sees (default: the whole training split)
MAX_SKIPS = 2
RANDOM_CELLS, RETRAIN_SEEDS = 6, (0,)
WORKERS = 2  # retrainings run in 2 processes of one torch thread each


def search(name: str, cfg: SearchConfig, ds) -> dict:
    n = SEARCH_SAMPLES.get(name)
    w_split, a_split = search_splits(ds.train.subset(n, seed=0) if n else ds.train, seed=0)
    start, cpu = time.perf_counter(), time.process_time()
    network = NETWORKS.get(name, NETWORK)
    s = DartsSearch(network, cfg).fit(
        w_split, a_split, num_classes=ds.num_classes,
        progress=lambda e, h: print(f"  {name} epoch {e}: val_acc {h['val_acc'][-1]:.3f} "
                                    f"skips {h['skips'][-1]}", flush=True))
    run = {"config": vars(cfg) | {"search_samples": len(w_split) + len(a_split), "network": {"channels": network.channels, "cells": network.cells,
                                                "nodes": network.nodes}},
           "primitives": list(s.net_.primitives),
           "alpha_history": np.round(s.alpha_history_, 5).tolist(),
           "history": s.history_, "genotype": s.genotype_.to_list(),
           "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    cache.save_json(OUT / f"{name}.json", run)
    return run


def retrain_all(ds, rcfg: RetrainConfig) -> dict:
    runs = {name: cache.load_json(OUT / f"{name}.json") for name in RUNS if (OUT / f"{name}.json").exists()}
    cells = {f"derived ({name})": Genotype.from_list(runs[name]["genotype"]) for name in ("first", "second")}
    cells["fast alpha, short warm-up"] = Genotype.from_list(runs["fast"]["genotype"])
    fast_alphas = np.log(np.asarray(runs["fast"]["alpha_history"])[-1] + 1e-12)
    cells["fast + cap on skip & pool"] = derive(fast_alphas, runs["fast"]["primitives"], max_skips=MAX_SKIPS,
                                                capped=PARAMETER_FREE)
    long = runs["long"]
    cells["long search"] = Genotype.from_list(long["genotype"])
    alphas = np.log(np.asarray(long["alpha_history"])[-1] + 1e-12)
    cells["long + cap (P-DARTS)"] = derive(alphas, long["primitives"], max_skips=MAX_SKIPS)
    stop = collapse_epoch(long["history"]["skips"], MAX_SKIPS)
    if stop is not None and stop > 0:
        cells["long + early stop (DARTS+)"] = Genotype.from_list(long["history"]["genotypes"][stop - 1])
    for r in range(RANDOM_CELLS):
        cells[f"random {r}"] = random_genotype(NETWORK.nodes, seed=1000 + r)
    results = {}
    with ProcessPoolExecutor(WORKERS, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        jobs = {name: [pool.submit(retrain, g, ds.train, ds.val, rcfg, seed=s, num_classes=ds.num_classes)
                       for s in RETRAIN_SEEDS] for name, g in cells.items()}
        for name, g in cells.items():
            accs = [job.result() for job in jobs[name]]
            results[name] = {"genotype": g.to_list(), "val_acc": [a["val_acc"] for a in accs],
                             "cpu_seconds": [a["cpu_seconds"] for a in accs], "params": accs[0]["params"]}
            print(f"  {name}: {g}  val_acc {[round(a['val_acc'], 3) for a in accs]}", flush=True)
    groups = {k: v["val_acc"] for k, v in results.items() if not k.startswith("random")}
    groups["random cells"] = [a for k, v in results.items() if k.startswith("random") for a in v["val_acc"]]
    out = {"retrain_config": vars(rcfg), "seeds": list(RETRAIN_SEEDS), "cells": results, "groups": groups,
           "collapse_epoch": stop, "max_skips": MAX_SKIPS}
    cache.save_json(OUT / "retrain.json", out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[*RUNS, "retrain"], choices=[*RUNS, "retrain"])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (tests the script)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ds = data.load("mnist1d", val_fraction=0.2, seed=0)
    rcfg = RetrainConfig()
    if args.quick:
        global OUT
        OUT = OUT / "quick"
        for cfg in RUNS.values():
            cfg.epochs, cfg.warmup_epochs = 2, 0
        ds.train = ds.train.subset(256)
        SEARCH_SAMPLES["long"] = 128
        rcfg = RetrainConfig(epochs=1, channels=4)
    for name in args.only:
        t = time.perf_counter()
        print(f"{name} ...", flush=True)
        if name == "retrain":
            retrain_all(ds, rcfg)
        else:
            search(name, RUNS[name], ds)
        print(f"{name}: {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
