"""Precompute notebook 06's heavy NEAT runs into data/neat/ (small JSON files, written atomically).

    python scripts/precompute_neat.py            # a few minutes on 2 cores
    python scripts/precompute_neat.py --quick    # tiny budgets into a temporary folder, to test it

Writes
  data/neat/spirals.json   one run on two spirals, with the champion of every generation
  data/neat/ablation.json  XOR over several seeds: full NEAT, no speciation, fully connected start
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from labkit import cache  # noqa: E402
from labkit.nas.neat import NEAT, NEATConfig, tasks  # noqa: E402
from labkit.widgets import neat as neatw  # noqa: E402

OUT = cache.DATA_DIR / "neat"

SPIRALS = {"n": 200, "noise": 0.05, "seed": 0}              # labkit.data.make_toy("spirals", ...)
# Larger structural rates, as the paper uses for larger problems, and tanh hidden units.
SPIRALS_CONFIG = dict(add_node_prob=0.1, add_connection_prob=0.3, activation="tanh")

ABLATIONS = {
    "NEAT (paper)": {},
    "no speciation": {"speciation": False},
    "fully connected start": {"initial_hidden": 4, "initial_connection": "full"},
}


def spirals_run(generations: int, seed: int = 0) -> dict:
    task = tasks.spirals(**SPIRALS)
    neat = NEAT(NEATConfig(**SPIRALS_CONFIG), seed=seed).run(task, max_generations=generations,
                                                              stop_when_solved=False)
    return neatw.run_record(neat, "spirals", **SPIRALS)


def ablation(seeds: int, max_generations: int) -> dict:
    results = {"max_generations": max_generations, "seeds": list(range(100, 100 + seeds)), "variants": {}}
    for name, overrides in ABLATIONS.items():
        runs = []
        for seed in results["seeds"]:
            start = time.perf_counter()
            neat = NEAT(NEATConfig(**overrides), seed=seed).run(tasks.xor(), max_generations=max_generations)
            solved = neat.solved_generation_ is not None
            runs.append({"seed": seed, "solved": solved, "generations": neat.solved_generation_,
                         "evaluations": neat.evaluations_, "hidden": neat.best_genome_.num_hidden,
                         "seconds": round(time.perf_counter() - start, 3)})
            print(f"{name:>22} seed {seed}: {'gen ' + str(neat.solved_generation_) if solved else 'unsolved'}",
                  flush=True)
        results["variants"][name] = runs
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, for testing the script")
    parser.add_argument("--only", choices=("spirals", "ablation"), help="recompute one file only")
    args = parser.parse_args()
    gens, seeds, cap = (5, 2, 5) if args.quick else (150, 10, 100)
    out = OUT if not args.quick else Path(tempfile.mkdtemp(prefix="neat-quick-"))
    if args.only in (None, "spirals"):
        cache.save_json(out / "spirals.json", spirals_run(gens))
        print(f"spirals written to {out}", flush=True)
    if args.only in (None, "ablation"):
        cache.save_json(out / "ablation.json", ablation(seeds, cap))
        print(f"ablation written to {out}")


if __name__ == "__main__":
    main()
