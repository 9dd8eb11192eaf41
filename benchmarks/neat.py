"""labkit NEAT (the paper's settings) against neat-python (its stock XOR example) on XOR, 30 seeds each.

Both run in this process, interleaved seed by seed, so machine load hits them alike. A run stops at
the first generation holding a solution, or after MAX_GENERATIONS. Evaluations are counted the same
way for both: genomes evaluated up to and including the first one that solves (the paper's count).
"Solved" is each library's own criterion: labkit follows the paper (all four outputs on the right
side of 0.5); neat-python's example asks for fitness 4 - sum (o - y)^2 >= 3.9, which implies it.

    python benchmarks/neat.py                          # the record: 30 seeds
    python benchmarks/neat.py --seeds 2 --max-generations 5    # a smoke test
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is called neat.py: keep its folder off the path so `import neat` finds neat-python
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

from labkit.nas.neat import NEAT, NEATConfig, tasks  # noqa: E402

SEEDS = range(30)
MAX_GENERATIONS = 200
PAPER = {"solved": "100/100", "generations": 32, "evaluations": 4755, "hidden": 2.35}

# neat-python's examples/xor/config-feedforward, as its XOR example loads it.
NEAT_PYTHON_XOR_CONFIG = """
[NEAT]
fitness_criterion     = max
fitness_threshold     = 3.9
pop_size              = 150
reset_on_extinction   = False
no_fitness_termination = False

[DefaultGenome]
activation_default      = sigmoid
activation_mutate_rate  = 0.0
activation_options      = sigmoid
aggregation_default     = sum
aggregation_mutate_rate = 0.0
aggregation_options     = sum
bias_init_mean          = 0.0
bias_init_stdev         = 1.0
bias_max_value          = 30.0
bias_min_value          = -30.0
bias_mutate_power       = 0.5
bias_mutate_rate        = 0.7
bias_replace_rate       = 0.1
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient   = 0.5
conn_add_prob           = 0.5
conn_delete_prob        = 0.5
enabled_default         = True
enabled_mutate_rate     = 0.01
feed_forward            = True
initial_connection      = full
node_add_prob           = 0.2
node_delete_prob        = 0.2
num_hidden              = 0
num_inputs              = 2
num_outputs             = 1
response_init_mean      = 1.0
response_init_stdev     = 0.0
response_max_value      = 30.0
response_min_value      = -30.0
response_mutate_power   = 0.0
response_mutate_rate    = 0.0
response_replace_rate   = 0.0
weight_init_mean        = 0.0
weight_init_stdev       = 1.0
weight_max_value        = 30
weight_min_value        = -30
weight_mutate_power     = 0.5
weight_mutate_rate      = 0.8
weight_replace_rate     = 0.1

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation       = 20
species_elitism      = 2

[DefaultReproduction]
elitism            = 2
survival_threshold = 0.2
"""


def run_labkit(seed: int) -> dict:
    start = time.perf_counter()
    neat = NEAT(NEATConfig(), seed=seed).run(tasks.xor(), max_generations=MAX_GENERATIONS)
    seconds = time.perf_counter() - start
    solved = neat.solved_generation_ is not None
    return {"solved": solved, "generations": neat.solved_generation_ or MAX_GENERATIONS,
            "evaluations": neat.evaluations_, "hidden": neat.best_genome_.num_hidden if solved else np.nan,
            "connections": neat.best_genome_.num_enabled if solved else np.nan, "seconds": seconds}


def run_neat_python(seed: int, config_path: str) -> dict:
    import neat

    config = neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet,
                         neat.DefaultStagnation, config_path)
    xor_in = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
    xor_out = [0.0, 1.0, 1.0, 0.0]
    count = {"evaluations": 0, "first": None}

    def eval_genomes(genomes, cfg):                       # the library's XOR example, plus counting
        for _, genome in genomes:
            net = neat.nn.FeedForwardNetwork.create(genome, cfg)
            genome.fitness = 4.0 - sum((net.activate(x)[0] - y) ** 2 for x, y in zip(xor_in, xor_out))
            count["evaluations"] += 1
            if count["first"] is None and genome.fitness >= cfg.fitness_threshold:
                count["first"] = count["evaluations"]

    start = time.perf_counter()
    population = neat.Population(config, seed=seed)
    try:
        winner = population.run(eval_genomes, MAX_GENERATIONS)
    except neat.CompleteExtinctionException:
        winner = None
    seconds = time.perf_counter() - start
    solved = count["first"] is not None
    hidden = connections = np.nan
    if solved and winner is not None:
        hidden = len(winner.nodes) - 1                    # neat-python's nodes are hidden + outputs
        connections = sum(c.enabled for c in winner.connections.values())
    return {"solved": solved, "generations": population.generation + 1 if solved else MAX_GENERATIONS,
            "evaluations": count["first"] or count["evaluations"], "hidden": hidden,
            "connections": connections, "seconds": seconds}


def summarize(rows: list[dict]) -> dict:
    solved = [r for r in rows if r["solved"]]
    mean = lambda key, rs: float(np.mean([r[key] for r in rs])) if rs else float("nan")
    return {"solved": len(solved), "gens": mean("generations", solved), "gens_all": mean("generations", rows),
            "evals": mean("evaluations", solved), "evals_sd": float(np.std([r["evaluations"] for r in solved])),
            "hidden": mean("hidden", solved), "conns": mean("connections", solved),
            "seconds": mean("seconds", rows), "seconds_median": float(np.median([r["seconds"] for r in rows]))}


def main() -> None:
    import argparse

    import neat

    global SEEDS, MAX_GENERATIONS
    parser = argparse.ArgumentParser(description="labkit NEAT vs neat-python on XOR")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="number of seeds (30 for the record)")
    parser.add_argument("--max-generations", type=int, default=MAX_GENERATIONS)
    args = parser.parse_args()
    SEEDS, MAX_GENERATIONS = range(args.seeds), args.max_generations

    with tempfile.NamedTemporaryFile("w", suffix="-config-feedforward", delete=False) as f:
        f.write(NEAT_PYTHON_XOR_CONFIG)
        config_path = f.name
    from importlib.metadata import version
    print(f"XOR, {len(SEEDS)} seeds, population 150, at most {MAX_GENERATIONS} generations; "
          f"neat-python {version('neat-python')}, numpy {np.__version__}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'seed':>4} | {'labkit: gens':>12} {'evals':>6} {'hidden':>6} {'s':>6} | "
          f"{'neat-python: gens':>17} {'evals':>6} {'hidden':>6} {'s':>6}")
    ours, theirs = [], []
    for seed in SEEDS:                                    # interleaved, same load for both
        ours.append(run_labkit(seed))
        theirs.append(run_neat_python(seed, config_path))
        a, b = ours[-1], theirs[-1]
        fmt = lambda r: (f"{(r['generations'] if r['solved'] else 'FAIL'):>{5}} {r['evaluations']:>6} "
                         f"{r['hidden']:>6.0f} {r['seconds']:>6.2f}")
        print(f"{seed:>4} | {'':>7}{fmt(a)} | {'':>12}{fmt(b)}", flush=True)
    os.unlink(config_path)
    a, b = summarize(ours), summarize(theirs)
    n = len(SEEDS)
    print()
    print(f"{'':28} {'labkit NEAT':>14} {'neat-python':>14} {'paper (100 runs)':>17}")
    print(f"{'solved runs':28} {a['solved']:>11}/{n} {b['solved']:>11}/{n} {PAPER['solved']:>17}")
    print(f"{'mean generations (solved)':28} {a['gens']:>14.1f} {b['gens']:>14.1f} {PAPER['generations']:>17}")
    print(f"{'mean generations (all runs)':28} {a['gens_all']:>14.1f} {b['gens_all']:>14.1f} {'':>17}")
    print(f"{'mean evaluations (solved)':28} {a['evals']:>14.0f} {b['evals']:>14.0f} {PAPER['evaluations']:>17}")
    print(f"{'sd evaluations (solved)':28} {a['evals_sd']:>14.0f} {b['evals_sd']:>14.0f} {2553:>17}")
    se = lambda r: r["evals_sd"] / np.sqrt(max(r["solved"] - 1, 1))
    print(f"{'standard error of the mean':28} {se(a):>14.0f} {se(b):>14.0f} {2553 / np.sqrt(100):>17.0f}")
    print(f"{'hidden nodes of solution':28} {a['hidden']:>14.2f} {b['hidden']:>14.2f} {PAPER['hidden']:>17}")
    print(f"{'enabled connections':28} {a['conns']:>14.2f} {b['conns']:>14.2f} {7.48:>17}")
    print(f"{'seconds per run (mean)':28} {a['seconds']:>14.2f} {b['seconds']:>14.2f} {'':>17}")
    print(f"{'seconds per run (median)':28} {a['seconds_median']:>14.2f} {b['seconds_median']:>14.2f} {'':>17}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared; seconds are noisy, the "
          f"ratio is fairer: both ran interleaved under the same load)")
    gap = a["evals"] - PAPER["evaluations"]
    both = np.hypot(se(a), 2553 / np.sqrt(100))                # the paper's mean is an estimate too
    print(f"labkit's mean evaluations minus the paper's: {gap:+.0f} = {gap / both:+.1f} standard errors of the "
          f"difference ({'within' if abs(gap) <= 2 * both else 'outside'} two standard errors)")
    ratio = a["seconds"] / b["seconds"]
    print(f"\nneat: solved={a['solved']}/{n} mean_evals={a['evals']:.0f} mean_generations={a['gens']:.1f} "
          f"seconds_ratio_vs_neat_python={ratio:.2f}")


if __name__ == "__main__":
    main()
