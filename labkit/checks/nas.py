"""Checks for notebook 05's exercises: a mutation of a cell, and one step of aging evolution."""
from __future__ import annotations

from collections import deque

import numpy as np

from . import call, expect, expect_equal, passed


def check_mutation(fn, space) -> None:
    """``fn(arch, ops, rng)`` must change exactly one edge to a different operation, every edge possible."""
    rng = np.random.default_rng(0)
    arch = ("skip", "conv1", "conv3", "conv3", "skip", "conv1")[:len(space.edges())]
    seen = set()
    for _ in range(300):
        before = tuple(arch)
        child = call(fn, arch, space.ops, rng, what="mutate")
        expect_equal(tuple(arch), before, "the parent left unchanged", "build a new tuple; do not edit the parent")
        expect(isinstance(child, tuple) and len(child) == len(arch),
               f"a tuple of {len(arch)} operations, got {child!r}", "return tuple(new_list)")
        expect(all(op in space.ops for op in child), f"operations from {space.ops}, got {child!r}")
        changed = sum(a != b for a, b in zip(arch, child))
        expect_equal(changed, 1, "number of edges changed by one mutation",
                     "pick one edge and give it an operation different from its current one")
        seen.add(child)
    missing = set(space.neighbours(arch)) - seen
    expect(not missing, f"every one-edge change to be possible; never produced {sorted(missing)[:2]}",
           "choose the edge and the new operation at random with rng")
    passed(f"mutate changes exactly one edge and reached all {len(seen)} neighbours of a cell")


def check_evolution_step(fn, space, mutate) -> None:
    """``fn(population, objective, sample_size, rng)``: tournament, mutation, child joins, oldest dies."""
    rng = np.random.default_rng(1)
    objective = lambda a: a.count("conv3") / len(a)
    members = [space.arch_at(k) for k in (600, 5, 100, 250, 400, 700)]  # the oldest is not the worst
    population = deque((a, objective(a)) for a in members)
    initial = list(population)
    child = call(fn, population, objective, 6, rng, what="evolution_step")
    expect_equal(len(population), 6, "population size after one step (one child in, the oldest out)")
    expect(list(population)[:5] == initial[1:], "the oldest member (population[0]) removed, the others kept in order",
           "aging evolution kills the oldest, not the worst: population.popleft()")
    expect_equal(population[-1], (child, objective(child)), "the child, with its value, appended at the end")
    best = max(list(members), key=objective)
    expect(child in space.neighbours(best) or any(child in space.neighbours(a) for a in members
                                                  if objective(a) == objective(best)),
           "with sample_size = population size, the child to be a mutation of the best member",
           "the parent is the member of the sample with the highest value")
    parents = set()
    for seed in range(40):
        pop = deque((a, objective(a)) for a in members)
        c = call(fn, pop, objective, 1, np.random.default_rng(seed), what="evolution_step")
        parents |= {a for a in members if c in space.neighbours(a)}
    expect(len(parents) > 2, "different parents when the sample holds one member",
           "draw the sample with rng.choice(len(population), sample_size, replace=False)")
    passed("evolution_step: tournament winner mutated, child appended with its value, oldest removed")
