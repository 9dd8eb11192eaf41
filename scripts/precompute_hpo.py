"""Precompute what notebook 04 reads from data/hpo/ (small JSON files and trial logs).

    nice -n 5 .venv/bin/python scripts/precompute_hpo.py            # everything (35 min on 2 cores under heavy load)
    .venv/bin/python scripts/precompute_hpo.py --quick              # a smoke run (into a temp dir)
    nice -n 5 .venv/bin/python scripts/precompute_hpo.py --only tuning   # after a change to a strategy:
        delete that strategy's logs in data/hpo/logs/ first; the others resume from theirs (no retraining)

* tuning    an MLP on MNIST-1D: learning rate, weight decay, width, dropout, tuned on the validation
            split by grid (coarse-to-fine), random and Bayesian search, 3 seeds, 20 trials each; the
            chosen values are evaluated once on the test split
* parallel  the same random search with 1 and 2 worker processes: wall-clock seconds

Each study writes its append-only trial log to data/hpo/logs/, so an interrupted run resumes where it
stopped (the lab's own resumable-study feature at work). Summaries go through labkit.cache (atomic).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit import cache, data, models, train  # noqa: E402
from labkit.hpo import BayesConfig, BayesSearch, GridSearch, RandomSearch  # noqa: E402
from labkit.hpo.objective import MNIST1D_SPACE, TrainObjective  # noqa: E402

SPACE = MNIST1D_SPACE   # lr, weight decay, width, dropout (labkit/hpo/objective.py)
STRATEGIES = {
    "grid": lambda seed, log: GridSearch(SPACE, levels=2, log=log),
    "random": lambda seed, log: RandomSearch(SPACE, seed=seed, log=log),
    "bayes": lambda seed, log: BayesSearch(SPACE, config=BayesConfig(n_initial=8), seed=seed, log=log),
}


def test_accuracy(params: dict, objective: TrainObjective) -> float:
    """Final evaluation of chosen values: train on the training split, score once on the test split."""
    import torch
    ds = data.load(objective.dataset, seed=objective.seed)
    torch.manual_seed(objective.seed)
    net = models.mlp(ds.input_shape, hidden=(int(params["width"]),) * objective.depth,
                     num_classes=ds.num_classes, dropout=float(params["dropout"]))
    train.fit(net, ds.train, None, train.TrainConfig(epochs=objective.epochs, lr=float(params["lr"]),
                                                     weight_decay=float(params["weight_decay"]),
                                                     seed=objective.seed, progress=False))
    return train.accuracy(net, ds.test())


def tuning(out: Path, seeds, budget: int, epochs: int) -> dict:
    runs = []
    for seed in seeds:
        objective = TrainObjective(dataset="mnist1d", epochs=epochs, seed=seed)
        for name, make in STRATEGIES.items():
            search = make(seed, out / "logs" / f"{name}_seed{seed}.jsonl").optimize(objective, budget, progress=True)
            h = search.history_
            runs.append({"strategy": name, "seed": seed, "history": h.to_dict(orient="list"),
                         "trace": search.trace_.tolist(), "best_params": search.best_params_,
                         "best_val_error": search.best_value_,
                         "test_accuracy": test_accuracy(search.best_params_, objective),
                         "seconds": float(h["seconds"].sum())})   # training time of the trials (resume-safe)
            print(f"{name:>6} seed {seed}: best val error {search.best_value_:.3f}, "
                  f"test accuracy {runs[-1]['test_accuracy']:.3f}", flush=True)
    return {"space": {k: repr(v) for k, v in SPACE.items()}, "budget": budget, "epochs": epochs, "runs": runs}


def parallel(trials: int, epochs: int) -> dict:
    objective = TrainObjective(dataset="mnist1d", epochs=epochs, seed=0)
    seconds = {}
    for workers in (1, 2):
        with ProcessPoolExecutor(workers) as pool:
            pool.submit(objective._data).result()  # start the workers before the clock
            started = time.perf_counter()
            RandomSearch(SPACE, seed=0).optimize(objective, trials, executor=pool)
            seconds[workers] = time.perf_counter() - started
        print(f"{workers} worker(s): {seconds[workers]:.1f} s for {trials} trials", flush=True)
    return {"trials": trials, "epochs": epochs, "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run into a temporary folder")
    parser.add_argument("--only", choices=["tuning", "parallel"], help="compute one of the two files")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) if args.quick else cache.DATA_DIR / "hpo"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    seeds, budget, epochs = ([0], 16, 1) if args.quick else ([0, 1, 2], 20, 5)
    if args.only in (None, "tuning"):
        cache.save_json(out / "mnist1d_tuning.json", tuning(out, seeds, budget, epochs))
    if args.only in (None, "parallel"):
        cache.save_json(out / "parallel.json", parallel(4 if args.quick else 8, epochs))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
