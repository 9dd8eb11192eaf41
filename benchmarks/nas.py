"""NAS benchmark: strategies raced on the MNIST-1D table, estimators ranked, a live search timed.

    .venv/bin/python benchmarks/nas.py | tee benchmarks/results/nas.txt

1. Race: random search, regularized evolution, REINFORCE and Bayesian optimization (labkit.nas), plus
   Optuna's TPE sampler over the same categorical edges, on ``data/nas/table.npz``: median regret of
   the incumbent after 25/50/100 evaluations over 100 seeds (Optuna: 20 seeds, it is slower per ask).
   Regret on validation accuracy (what the search optimizes; the summary line) and on test accuracy.
2. Estimators: Spearman/Kendall of cheap estimates (trained live here) against the table's full
   training, on 20 cells, with CPU seconds.
3. Live search: regularized evolution over chains, screened by short training, winner retrained; test
   accuracy and wall seconds (published MNIST-1D: CNN 94 %, MLP 68 %).

Ends with: nas: archs=<n> rea_vs_random_regret_ratio=<x> race_seconds=<s> live_best_test_acc=<f> live_seconds=<s>
Timings come from a shared 2-core machine and are noisy.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit.nas import estimators as E  # noqa: E402
from labkit.nas.strategies import race  # noqa: E402
from labkit.nas.tabular import benchmark_data, load_table  # noqa: E402


def optuna_tpe(table, seeds, budget, split, one_seed):
    """Optuna's TPE sampler (default settings) choosing one categorical per edge."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves, t0 = [], time.perf_counter()
    for seed in seeds:
        rng = np.random.default_rng(10_000 + seed)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        best, best_value, curve = None, -np.inf, []
        for _ in range(budget):
            trial = study.ask()
            arch = tuple(trial.suggest_categorical(f"e{i}{j}", table.space.ops) for i, j in table.space.edges())
            value, _ = table.objective(arch, rng, one_seed)
            study.tell(trial, value)
            if value > best_value:
                best, best_value = arch, value
            curve.append(table.regret(best, split))
        curves.append(curve)
    return np.array(curves), time.perf_counter() - t0


def main() -> None:
    torch.set_num_threads(1)
    table = load_table()
    print(f"table: {len(table)} cells, {table.num_unique} distinct networks, seeds {table.config.seeds}, "
          f"{table.config.epochs} epochs; best mean test accuracy {100 * table.oracle_test_acc():.2f} %")
    print(f"cost of building it: {np.nansum(table.arrays['train_seconds']) / 60:.1f} min of training (wall, shared machine)")

    # 1. the race: each query sees one random training seed; regret is scored on the mean of the seeds
    budget, seeds = 100, range(100)
    ratios = {}
    protocols = [("val", False, "each lookup = mean of the 2 training seeds; regret on mean val accuracy"),
                 ("test", False, "same searches; regret on mean test accuracy of the pick"),
                 ("val", True, "each lookup = ONE random training seed (NAS-Bench-201 protocol); regret on mean val")]
    for part, (split, one_seed, title) in zip("abc", protocols):
        t0 = time.perf_counter()
        result = race(lambda a, rng: table.objective(a, rng, one_seed), table.space, budget=budget, seeds=seeds,
                      score=lambda a: table.regret(a, split))
        wall = time.perf_counter() - t0
        if part == "a":
            race_seconds, race_cpu = wall, sum(result.cpu_seconds.values())
        tpe, tpe_seconds = optuna_tpe(table, range(20), budget, split, one_seed)
        print(f"\n1{part}. race on the table, {title}")
        print(f"    median regret (accuracy points, %) of the incumbent after 25/50/100 evaluations")
        print(f"{'strategy':28s} {'@25':>6s} {'@50':>6s} {'@100':>6s} {'IQR@100':>13s} {'seeds':>5s} {'wall s':>7s} {'cpu s':>6s}")
        rows = [(name, curves, result.seconds[name], result.cpu_seconds[name]) for name, curves in result.curves.items()]
        rows.append(("optuna TPE (reference)", tpe, tpe_seconds, float("nan")))
        for name, curves, sec, cpu in rows:
            q1, q3 = np.percentile(100 * curves[:, -1], [25, 75])
            med = [100 * np.median(curves[:, n - 1]) for n in (25, 50, 100)]
            print(f"{name:28s} {med[0]:6.2f} {med[1]:6.2f} {med[2]:6.2f} {q1:6.2f}-{q3:<6.2f} {len(curves):5d} {sec:7.2f} {cpu:6.2f}")
        ratios[part] = result.median("evolution") / max(result.median("random"), 1e-9)
        mean_ratio = float(np.mean(result.curves["evolution"][:, -1]) / np.mean(result.curves["random"][:, -1]))
        print(f"regularized evolution / random after 100: median regret ratio {ratios[part]:.3f}, mean ratio {mean_ratio:.3f}")
    ratio = ratios["a"]
    print(f"race of the four labkit strategies, 100 seeds x 100 evaluations: {race_seconds:.2f} s wall, "
          f"{race_cpu:.2f} s CPU (shared machine)")

    # 2. estimators
    splits = benchmark_data()
    rng = np.random.default_rng(1)
    reps = [table.space.arch_at(int(i)) for i in table.arrays["representative"]]
    cells = [reps[int(k)] for k in rng.choice(len(reps), 20, replace=False)]
    truth = [table.val_acc(a) for a in cells]
    full_seconds = float(np.nanmean(table.arrays["train_seconds"]))
    ests = {"1 epoch": E.LowFidelity(table.space, splits, epochs=1),
            "1/4 of the data": E.LowFidelity(table.space, splits, subset=800),
            "half the channels": E.LowFidelity(table.space, splits, channels=4),
            "curve extrapolation": E.CurveExtrapolation(table.space, splits),
            "one-shot supernet": E.OneShot(table.space, splits).fit()}
    print("\n2. estimators vs full training (table, mean of 2 seeds), 20 cells")
    print(f"{'estimator':24s} {'spearman':>8s} {'kendall':>8s} {'s/cell':>10s}")
    other = [table.val_acc(a, seed=table.config.seeds[1]) for a in cells]
    r = E.rank_correlation(other, truth)
    print(f"{'a second seed':24s} {r['spearman']:8.3f} {r['kendall']:8.3f} {full_seconds:10.3f}  "
          "(wall s during the table build, machine shared by ~20 processes; the others: CPU s)")
    for name, est in ests.items():
        values = [est.estimate(a) for a in cells]
        r = E.rank_correlation([v.value for v in values], truth)
        extra = f"  (+{est.fit_seconds_:.1f} s once)" if name.startswith("one-shot") else ""
        print(f"{name:24s} {r['spearman']:8.3f} {r['kendall']:8.3f} {np.mean([v.seconds for v in values]):10.3f}{extra}")

    # 3. the live search
    t0 = time.perf_counter()
    live = E.live_search(budget=10, progress=False)
    live_seconds = time.perf_counter() - t0
    print("\n3. live search (regularized evolution over chains, 10 screened by 2 epochs, winner retrained 12 epochs)")
    for arch, value in live.history:
        print(f"   screened {' > '.join(f'{op}-{w}' for op, w in arch):40s} val {100 * value:5.1f} %")
    print(f"winner {' > '.join(f'{op}-{w}' for op, w in live.best_arch)}: val {100 * live.val_acc:.1f} %, "
          f"test {100 * live.test_acc:.1f} % (published CNN 94 %, MLP 68 %), {live_seconds:.0f} s wall")
    print(f"\nnas: archs={len(table)} rea_vs_random_regret_ratio={ratio:.3f} race_seconds={race_seconds:.2f} "
          f"live_best_test_acc={live.test_acc:.3f} live_seconds={live_seconds:.0f}")


if __name__ == "__main__":
    main()
