"""The NEAT generation loop: speciation, explicit fitness sharing, stagnation, elitism, reproduction.

Concept: new structure usually costs fitness before its weights are tuned, so NEAT protects it by
letting genomes compete mostly inside their *species* (genomes within distance delta_t of a species'
representative). Explicit fitness sharing divides each fitness by the size of its species::

    f'_i = f_i / |S(i)|,        offspring of S  proportional to  sum_{i in S} f'_i

so no species can take over the population just by being large. One generation (paper, sec. 3):

    1: evaluate every genome                            (ask -> your code -> tell)
    2: place each genome in the first species whose representative is within delta_t
    3: share fitness inside species
    4: species without improvement for 15 generations stop breeding
    5: if the population's best has not improved for 20 generations, only the top 2 species breed
    6: give each species offspring in proportion to its shared fitness
    7: keep each champion of a species with more than 5 members; breed the rest from the best
       (survival_threshold) by mutation alone (25 %, or always when one parent is left) or crossover
       (75 %, 0.001 with another species), its child mutated unless left as is (20 %) [ref code]
    8: each species keeps a random member as the next generation's representative

Paper: K. O. Stanley, R. Miikkulainen, Evolutionary Computation 10(2), 2002. Notebook 06.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from labkit.errors import check_int, fail
from labkit.nas.neat.config import NEATConfig
from labkit.nas.neat.genome import Genome, InnovationTracker, crossover, distance, initial_genome, mutate
from labkit.parallel import check_jobs


@dataclass
class Species:
    """A niche: its members this generation, a representative, and its record for stagnation."""

    key: int
    representative: Genome
    members: list[Genome] = field(default_factory=list)
    best_fitness: float = -math.inf
    last_improved: int = 0


class NEAT:
    """NEAT as a searcher with scikit-learn manners and an ask/tell loop.

    >>> from labkit.nas.neat import tasks
    >>> neat = NEAT(NEATConfig(population_size=20), seed=0).run(tasks.xor(), max_generations=3)
    >>> len(neat.history_), neat.best_genome_.fitness > 0
    (3, True)

    Ask/tell keeps your own evaluation loop in view::

        neat = NEAT(cfg, seed=0)
        for _ in range(50):
            genomes = neat.ask()
            neat.tell([my_fitness(g) for g in genomes])
            # or, in worker processes: neat.tell(map_parallel(my_fitness, genomes, n_jobs=2))
    """

    def __init__(self, config: NEATConfig | None = None, seed: int = 0):
        self.config = config
        self.seed = seed

    # ------------------------------------------------------------------ ask / tell
    def _start(self) -> None:
        self.config_ = (self.config or NEATConfig()).validate()
        check_int(self.seed, "seed", "NEAT", low=0)
        self.rng_ = random.Random(self.seed)
        self.innovations_ = InnovationTracker(self.config_)
        cfg = self.config_
        hidden = self.innovations_.hidden_nodes(cfg.initial_hidden)
        self.population_ = [initial_genome(cfg, self.innovations_, self.rng_, hidden)
                            for _ in range(cfg.population_size)]
        self.species_: list[Species] = []
        self.generation_ = 0
        self.history_: list[dict] = []
        self.champions_: list[Genome] = []          # best genome of every generation
        self.best_genome_: Genome | None = None
        self._next_species = 0
        self._best_ever, self._best_improved = -math.inf, 0

    def ask(self) -> list[Genome]:
        """The genomes of the current generation, to be evaluated."""
        if not hasattr(self, "population_"):
            self._start()
        return self.population_

    def tell(self, fitness, solved=None) -> None:
        """Record the fitness (>= 0) of every genome from :meth:`ask` and breed the next generation."""
        genomes = self.ask()
        fitness = np.asarray(fitness, dtype=np.float64).ravel()
        if fitness.shape[0] != len(genomes) or not np.all(np.isfinite(fitness)) or np.any(fitness < 0):
            raise fail("fitness", "NEAT.tell", f"{len(genomes)} finite values >= 0, one per asked genome",
                       fitness.tolist()[:5])
        for g, f in zip(genomes, fitness):                  # 1: evaluated
            g.fitness = float(f)
        self._speciate(genomes)                             # 2
        self._record(genomes, solved)
        self.population_ = self._reproduce()                # 3-8
        self.generation_ += 1
        self.innovations_.new_generation()

    # ------------------------------------------------------------------ the whole run
    def run(self, task, max_generations: int = 100, *, stop_when_solved: bool = True,
            progress: bool = False, callback=None, n_jobs: int = 1) -> "NEAT":
        """Evolve on ``task`` (see :mod:`labkit.nas.neat.tasks`) until solved or out of generations.

        ``n_jobs`` > 1 evaluates each generation in that many worker processes (the same results;
        faster only when one evaluation is costly). For your own fitness function, use ask/tell with
        :func:`labkit.parallel.map_parallel`, which also takes functions defined in a notebook.

        Sets ``history_`` (one dict per generation), ``champions_``, ``best_genome_``,
        ``solved_generation_`` (1-based, or None) and ``evaluations_`` (genomes evaluated up to
        and including the first one that solved, as counted in the paper).
        """
        check_int(max_generations, "max_generations", "NEAT.run", low=1)
        check_jobs(n_jobs, "NEAT.run")
        jobs = {} if n_jobs == 1 else {"n_jobs": n_jobs}          # custom tasks need not take n_jobs
        self._start()
        self.solved_generation_, self.evaluations_ = None, 0
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=max_generations, desc="NEAT generations")
        for _ in range(max_generations):
            genomes = self.ask()
            fitness, solved = task.evaluate(genomes, self.config_, **jobs)     # 1
            self.tell(fitness, solved)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(best=f"{self.history_[-1]['best_fitness']:.3f}", species=len(self.species_))
            if callback is not None:
                callback(self)
            if solved.any():
                first = int(np.argmax(solved))
                self.solved_generation_ = self.generation_
                self.evaluations_ += first + 1
                self.best_genome_ = genomes[first]
                if stop_when_solved:
                    break
            else:
                self.evaluations_ += len(genomes)
        if bar is not None:
            bar.close()
        return self

    # ------------------------------------------------------------------ the steps
    def _speciate(self, genomes: list[Genome]) -> None:
        cfg = self.config_
        for s in self.species_:
            s.members = []
        for g in genomes:
            home = None
            for s in self.species_:
                if not cfg.speciation or distance(g, s.representative, cfg) < cfg.compatibility_threshold:
                    home = s
                    break
            if home is None:
                home = Species(self._next_species, g, last_improved=self.generation_)
                self._next_species += 1
                self.species_.append(home)
            home.members.append(g)
        self.species_ = [s for s in self.species_ if s.members]
        for s in self.species_:
            best = max(g.fitness for g in s.members)
            if best > s.best_fitness:
                s.best_fitness, s.last_improved = best, self.generation_

    def _record(self, genomes: list[Genome], solved) -> None:
        best = max(genomes, key=lambda g: g.fitness)
        if best.fitness > self._best_ever:
            self._best_ever, self._best_improved = best.fitness, self.generation_
        if self.best_genome_ is None or best.fitness > self.best_genome_.fitness:
            self.best_genome_ = best.copy()
        self.champions_.append(best.copy())
        self.history_.append({
            "generation": self.generation_ + 1,
            "best_fitness": best.fitness,
            "mean_fitness": float(np.mean([g.fitness for g in genomes])),
            "num_species": len(self.species_),
            "species_sizes": {s.key: len(s.members) for s in self.species_},
            "best_hidden": best.num_hidden,
            "best_connections": best.num_enabled,
            "solved": bool(np.any(solved)) if solved is not None else None,
        })

    def _offspring_counts(self) -> list[int]:
        cfg, gen = self.config_, self.generation_
        champion = max(self.species_, key=lambda s: s.best_fitness)
        # 4: stagnant species do not breed (the one holding the best genome is spared)
        alive = [s for s in self.species_
                 if gen - s.last_improved < cfg.stagnation_generations or s is champion]
        # 5: a stagnant population breeds only from its top two species
        if gen - self._best_improved >= cfg.population_stagnation_generations and len(alive) > 2:
            alive = sorted(alive, key=lambda s: s.best_fitness, reverse=True)[:2]
            self._best_improved = gen
        # 3: explicit fitness sharing f'_i = f_i / |S|;  6: offspring proportional to sum f'_i
        shared = [sum(g.fitness for g in s.members) / len(s.members) for s in alive]
        total = sum(shared)
        quota = [cfg.population_size * (f / total if total > 0 else 1 / len(alive)) for f in shared]
        counts = [int(q) for q in quota]
        by_remainder = sorted(range(len(alive)), key=lambda i: quota[i] - counts[i], reverse=True)
        for i in by_remainder[:cfg.population_size - sum(counts)]:
            counts[i] += 1
        return [(s, n) for s, n in zip(alive, counts) if n > 0]

    def _reproduce(self) -> list[Genome]:
        cfg, rng = self.config_, self.rng_
        plan = self._offspring_counts()
        children = []
        for s, n in plan:
            ranked = sorted(s.members, key=lambda g: g.fitness, reverse=True)
            # 7: the champion survives unchanged; parents are the best survival_threshold share
            if len(s.members) > cfg.elitism_min_species_size:
                children.append(ranked[0].copy())
                n -= 1
            parents = ranked[:int(cfg.survival_threshold * len(ranked)) + 1]
            for _ in range(n):
                mom = rng.choice(parents)
                if rng.random() < cfg.mutation_only_prob or len(parents) == 1:
                    child = mom.copy()
                    mutate(child, cfg, rng, self.innovations_)
                else:
                    if rng.random() < cfg.interspecies_mating_prob and len(plan) > 1:
                        other = rng.choice([t for t, _ in plan if t is not s])
                        dad = max(other.members, key=lambda g: g.fitness)
                    else:
                        dad = rng.choice(parents)
                    child = crossover(mom, dad, cfg, rng)
                    # identical parents give the same child back: mutate it [ref code]
                    if rng.random() >= cfg.mate_only_prob or dad is mom or distance(mom, dad, cfg) == 0:
                        mutate(child, cfg, rng, self.innovations_)
                children.append(child)
        # 8: representatives for the next generation
        self.species_ = [s for s, _ in plan]
        for s in self.species_:
            s.representative = (rng.choice(s.members) if cfg.representative == "random"
                                else max(s.members, key=lambda g: g.fitness))
        for g in children:
            g.fitness = None
        return children
