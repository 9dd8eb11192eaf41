"""Checks for notebook 06 (NEAT): the compatibility distance and crossover by innovation number.

Each check runs the student's function on small genomes whose answer is known (the paper's figure 4
pair, and random evolved pairs compared with labkit's reference) and raises with a hint on failure.
"""
from __future__ import annotations

import random

from labkit.checks import call, expect, expect_close, expect_equal, passed
from labkit.nas.neat import ConnectionGene, Genome, InnovationTracker, NEATConfig, initial_genome
from labkit.nas.neat import distance as reference_distance
from labkit.nas.neat.genome import mutate_add_connection, mutate_add_node, mutate_weights

_NODES = {0: "input", 1: "input", 2: "bias", 3: "output", 4: "hidden", 5: "hidden"}
_P1 = {1: (0, 3, 1.0, True), 2: (1, 3, 2.0, False), 3: (2, 3, 3.0, True), 4: (1, 4, 4.0, True),
       5: (4, 3, 5.0, True), 8: (0, 4, 8.0, True)}
_P2 = {1: (0, 3, -1.0, True), 2: (1, 3, -2.0, False), 3: (2, 3, -3.0, True), 4: (1, 4, -4.0, True),
       5: (4, 3, -5.0, False), 6: (4, 5, -6.0, True), 7: (5, 3, -7.0, True), 9: (2, 5, -9.0, True),
       10: (0, 5, -10.0, True)}


def paper_pair() -> tuple[Genome, Genome]:
    """Two genomes shaped like the paper's figure 4: matching 1-5, disjoint 6-8, excess 9-10."""
    make = lambda genes, f: Genome(dict(_NODES), {i: ConnectionGene(i, *g) for i, g in genes.items()}, f)
    return make(_P1, 1.0), make(_P2, 2.0)


def random_pair(seed: int, config: NEATConfig) -> tuple[Genome, Genome]:
    """Two relatives grown from one ancestor by random structural and weight mutations."""
    rng, tracker = random.Random(seed), InnovationTracker(config)
    parent = initial_genome(config, tracker, rng)
    out = []
    for _ in range(2):
        g = parent.copy()
        for _ in range(rng.randint(2, 12)):
            rng.choice([mutate_add_node, mutate_add_connection, mutate_weights])(g, config, rng, tracker)
        g.fitness = rng.random()
        out.append(g)
        tracker.new_generation()
    return out[0], out[1]


def check_distance(fn) -> None:
    """``fn(genome1, genome2, config) -> float`` must be delta = c1*E/N + c2*D/N + c3*W."""
    cfg = NEATConfig()
    a, b = paper_pair()
    expect_close(call(fn, a, b, cfg, what="compatibility_distance"), 7.4,
                 "delta = 1*2/1 + 1*3/1 + 0.4*6 = 7.4 for the figure-4 pair (E=2, D=3, W=6, N=1)",
                 "excess genes lie beyond the *other* genome's last innovation; W averages |w1 - w2| "
                 "over matching genes only; N = 1 when both genomes have fewer than 20 genes")
    big = NEATConfig(small_genome_genes=5, excess_coefficient=2.0, weight_coefficient=1.0)
    expect_close(fn(a, b, big), reference_distance(a, b, big),
                 "delta with N = 9 genes (the larger genome) once N is not forced to 1",
                 "N is the number of genes in the larger genome")
    for seed in range(20):
        a, b = random_pair(seed, cfg)
        expect_close(fn(a, b, cfg), reference_distance(a, b, cfg), f"delta of random pair {seed}",
                     "disabled genes count too: they still carry history")
    passed("compatibility distance matches eq. 1 on the paper's pair and 20 random pairs")


def check_crossover(fn) -> None:
    """``fn(parent1, parent2, config, rng) -> Genome`` must align genes by innovation number."""
    cfg = NEATConfig(crossover_average_prob=0.0)        # the paper's crossover, without weight averaging
    weaker, fitter = paper_pair()
    fitter.connections[6].enabled = False               # a disjoint gene switched off in the fitter parent
    seen, from_on_parent = {i: set() for i in (1, 2, 3, 4, 5)}, []
    trials = 400
    for seed in range(trials):
        child = call(fn, weaker, fitter, cfg, random.Random(seed), what="crossover")
        expect(isinstance(child, Genome), "a Genome back from crossover")
        expect_equal(sorted(child.connections), sorted(fitter.connections),
                     "the child's innovation numbers (those of the fitter parent)",
                     "disjoint and excess genes come from the fitter parent only")
        for i in (6, 7, 9, 10):
            expect_equal(child.connections[i].weight, fitter.connections[i].weight,
                         f"gene {i} copied from the fitter parent")
        expect(not child.connections[6].enabled, "gene 6 (disjoint, off in the fitter parent) to stay off",
               "copy disjoint and excess genes as they are, switch included")
        for i in seen:
            seen[i].add(child.connections[i].weight)
        expect(child.connections[1].enabled, "gene 1, enabled in both parents, to stay enabled")
        expect(not child.connections[2].enabled, "gene 2, disabled in both parents, to stay disabled",
               "keep the chosen copy's switch; the 0.75 rule only ever switches genes off")
        gene5 = child.connections[5]
        if gene5.weight == fitter.connections[5].weight:
            expect(not gene5.enabled, "gene 5 copied from the parent where it is off to stay off")
        else:
            from_on_parent.append(not gene5.enabled)
        expect(child is not fitter and all(child.connections[i] is not fitter.connections[i] for i in (6, 7)),
               "new gene objects in the child", "copy the genes (gene.copy()), so mutating the child "
                                                 "does not change its parents")
    for i, weights in seen.items():
        expect(weights == {weaker.connections[i].weight, fitter.connections[i].weight},
               f"matching gene {i} inherited from either parent at random")
    share = sum(from_on_parent) / max(len(from_on_parent), 1)
    expect(abs(share - cfg.disable_inherited_prob) < 0.08,
           f"gene 5 (off in one parent), copied from the parent where it is on, switched off in about "
           f"{cfg.disable_inherited_prob:.0%} of children, got {share:.0%}", "use config.disable_inherited_prob")
    passed("crossover aligns genes by innovation number: matching at random, the rest from the fitter parent")
