"""labkit.hpo beside scikit-optimize and Optuna: simple regret and seconds per suggestion.

Branin with 50 evaluations and Hartmann-6 with 100, the same budget for every method, `--seeds` seeds
(default 10). Methods: labkit grid (coarse-to-fine), labkit random, labkit BO (EI), skopt gp_minimize
with its defaults, Optuna TPE and Optuna random. Simple regret = best value found - known optimum;
seconds per suggestion = (run time - objective time) / evaluations, measured inside each run as CPU
time of the run's single thread (wall-clock time on a shared machine measures the neighbours' load).

Every library gets one BLAS thread (set before numpy loads): on a shared 2-core machine several BLAS
threads per process made the same GP code 10x slower for all of them. Runs go to a process pool of
`--workers` processes (default 2), seed by seed, so each library meets the same load.

    python benchmarks/hpo.py [--seeds 10] [--workers 2] [--skopt-seeds N]

skopt costs 0.25-0.45 s of CPU per suggestion (0.5-1.5 s of wall time on a busy machine), most of the
run: its jobs go first, Hartmann-6 before Branin, so the two workers finish together. Every method runs on every seed by default; `--skopt-seeds N` (for a
quick look only) runs skopt on the first N seeds, and every comparison with it then uses those seeds.

Ends with the line
hpo: branin_regret_ratio_vs_skopt=<x> hartmann6_regret_ratio_vs_skopt=<x> suggest_time_ratio_vs_skopt=<x> bo_beats_random=<true|false>
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402

import numpy as np  # noqa: E402

from labkit.hpo import BayesSearch, GridSearch, RandomSearch  # noqa: E402
from labkit.hpo.functions import Branin, Hartmann6  # noqa: E402

PROBLEMS = {"branin": (Branin, 50, 5), "hartmann6": (Hartmann6, 100, 2)}   # function, budget, grid levels
METHODS = ["labkit grid", "labkit random", "labkit BO (EI)", "skopt gp_minimize", "optuna TPE", "optuna random"]


class Counted:
    """The objective, timing its own calls so that optimiser overhead = run time - objective time."""

    def __init__(self, f):
        self.f, self.seconds, self.values = f, 0.0, []

    def __call__(self, params):
        started = time.process_time()
        value = self.f(params)
        self.seconds += time.process_time() - started
        self.values.append(value)
        return value


def run(problem: str, method: str, seed: int):
    make, budget, levels = PROBLEMS[problem]
    f = Counted(make())
    names = f.f.space.names
    bounds = [(p.low, p.high) for p in f.f.space.params.values()]
    started = time.process_time()   # CPU time of this process's one thread
    if method == "labkit grid":
        GridSearch(f.f.space, levels=levels).optimize(f, budget)
    elif method == "labkit random":
        RandomSearch(f.f.space, seed=seed).optimize(f, budget)
    elif method == "labkit BO (EI)":
        BayesSearch(f.f.space, acquisition="ei", seed=seed).optimize(f, budget)
    elif method == "skopt gp_minimize":
        from skopt import gp_minimize
        gp_minimize(lambda x: f(dict(zip(names, x))), bounds, n_calls=budget, random_state=seed)
    else:
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (optuna.samplers.TPESampler(seed=seed) if method == "optuna TPE"
                   else optuna.samplers.RandomSampler(seed=seed))
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: f({n: t.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, bounds)}),
                       n_trials=budget)
    seconds = time.process_time() - started
    regret = min(f.values[:budget]) - f.f.optimum
    return problem, method, seed, regret, (seconds - f.seconds) / len(f.values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skopt-seeds", type=int, default=None,
                        help="run skopt on the first N seeds only (its ~1-10 s per suggestion dominates)")
    args = parser.parse_args()
    skopt_seeds = args.skopt_seeds or args.seeds
    jobs = [(p, m, s) for s in range(args.seeds) for p in PROBLEMS for m in METHODS
            if not (m == "labkit grid" and s > 0)  # the grid has no randomness: one run
            and not (m == "skopt gp_minimize" and s >= skopt_seeds)]
    cost = {"skopt gp_minimize": 0, "labkit BO (EI)": 1}  # longest first: the pool ends together
    jobs.sort(key=lambda j: (cost.get(j[1], 2), j[0] != "hartmann6", j[2]))
    started = time.perf_counter()
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for future in as_completed([pool.submit(run, *job) for job in jobs]):
            results.append(future.result())
            print(f"[{time.perf_counter() - started:6.0f} s] {len(results)}/{len(jobs)}: {results[-1]}",
                  file=sys.stderr, flush=True)
    table, paired = {}, {}
    for problem, method, seed, regret, per_suggestion in sorted(results, key=lambda r: r[2]):
        table.setdefault((problem, method), []).append((regret, per_suggestion))
        if seed < skopt_seeds:
            paired.setdefault((problem, method), []).append((regret, per_suggestion))

    print(f"labkit.hpo vs scikit-optimize and Optuna: {args.seeds} seeds (skopt: the first {skopt_seeds}), "
          f"{args.workers} worker processes, one BLAS thread each; {time.perf_counter() - started:.0f} s in all")
    print("simple regret = best found - optimum, median [25 %, 75 %] over seeds; s/suggestion = optimiser CPU "
          "time per evaluation (run time minus objective time, one thread)\n")
    header = f"{'problem':<11} {'budget':>6}  {'method':<18} {'median regret':>13}  {'[q25, q75]':<22} {'s/suggestion':>12}"
    print(header)
    print("-" * len(header))
    summary = {}
    for problem, (_, budget, _) in PROBLEMS.items():
        for method in METHODS:
            rows = np.array(table[(problem, method)])
            median, q25, q75 = np.median(rows[:, 0]), *np.percentile(rows[:, 0], [25, 75])
            per = rows[:, 1].mean()
            summary[(problem, method)] = (median, per)
            print(f"{problem:<11} {budget:>6}  {method:<18} {median:>13.3g}  [{q25:.3g}, {q75:.3g}]".ljust(77)
                  + f"{per:>12.4f}")
        print()
    # against skopt: the same seeds (those skopt ran), median regret and mean seconds per suggestion
    med = {k: np.median(np.array(v)[:, 0]) for k, v in paired.items()}
    per = {k: np.mean(np.array(v)[:, 1]) for k, v in paired.items()}
    print(f"on the {skopt_seeds} seeds skopt ran: " + "; ".join(
        f"{p} median regret labkit BO {med[(p, 'labkit BO (EI)')]:.3g} vs skopt {med[(p, 'skopt gp_minimize')]:.3g}, "
        f"s/suggestion {per[(p, 'labkit BO (EI)')]:.3f} vs {per[(p, 'skopt gp_minimize')]:.3f}" for p in PROBLEMS))
    ratio = {p: med[(p, "labkit BO (EI)")] / med[(p, "skopt gp_minimize")] for p in PROBLEMS}
    ours = np.mean([per[(p, "labkit BO (EI)")] for p in PROBLEMS])
    theirs = np.mean([per[(p, "skopt gp_minimize")] for p in PROBLEMS])
    beats = all(summary[(p, "labkit BO (EI)")][0] < summary[(p, "labkit random")][0] for p in PROBLEMS)
    print(f"goal: BO regret ratios <= 1 and suggestion time ratio <= 0.33 (labkit BO {ours:.3f} s, skopt {theirs:.3f} s "
          "per suggestion, mean over both problems; timings are noisy on a shared machine)")
    print(f"total wall time {time.perf_counter() - started:.0f} s with {args.workers} worker processes")
    print(f"hpo: branin_regret_ratio_vs_skopt={ratio['branin']:.3g} hartmann6_regret_ratio_vs_skopt="
          f"{ratio['hartmann6']:.3g} suggest_time_ratio_vs_skopt={ours / theirs:.3g} "
          f"bo_beats_random={str(beats).lower()}")


if __name__ == "__main__":
    main()
