"""The NEAT genome: node and connection genes with historical markings, mutation, crossover, distance.

Concept (lecture slide "NEAT - Neuroevolution of Augmenting Topologies"): a network's architecture
is written as a list of genes, so a genetic algorithm can grow it. Each connection gene carries an
*innovation number*, the generation-wide id of the structural mutation that created it; the same
mutation in one generation gets the same number, so two genomes can be aligned gene by gene without
analysing their topologies.

Key equation, the compatibility distance between two genomes (paper, eq. 1)::

    delta = c1 * E / N + c2 * D / N + c3 * W

E = excess genes (beyond the other genome's last innovation), D = disjoint genes (missing in the
other one inside its range), W = mean weight difference of the matching genes, N = genes in the
larger genome (N = 1 when both have fewer than 20 genes).

Paper: K. O. Stanley, R. Miikkulainen, "Evolving Neural Networks through Augmenting Topologies",
Evolutionary Computation 10(2), 2002. Used by notebook 06 (exercises: distance and crossover).

Node ids: inputs ``0 .. num_inputs-1``, then the bias input (always 1.0), then the outputs, then
hidden nodes in order of creation. A student adding a mutation writes one function
``f(genome, config, rng, innovations) -> None`` and lists it in :func:`mutate`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from labkit.nas.neat.config import NEATConfig


@dataclass(slots=True)
class ConnectionGene:
    """One link ``src -> dst`` with its weight, its on/off switch and its historical marking."""

    innovation: int
    src: int
    dst: int
    weight: float
    enabled: bool = True

    def copy(self) -> "ConnectionGene":
        return ConnectionGene(self.innovation, self.src, self.dst, self.weight, self.enabled)


@dataclass
class Genome:
    """Node genes (id -> kind) and connection genes (innovation -> gene), plus fitness once evaluated.

    >>> cfg = NEATConfig()
    >>> g = initial_genome(cfg, InnovationTracker(cfg), random.Random(0))
    >>> sorted(g.nodes.items()), [(c.src, c.dst) for c in g.connections.values()]
    ([(0, 'input'), (1, 'input'), (2, 'bias'), (3, 'output')], [(0, 3), (1, 3), (2, 3)])
    """

    nodes: dict[int, str]
    connections: dict[int, ConnectionGene]
    fitness: float | None = None
    key: int = field(default=-1, compare=False)

    def copy(self) -> "Genome":
        return Genome(dict(self.nodes), {i: c.copy() for i, c in self.connections.items()}, self.fitness)

    def to_dict(self) -> dict:
        """A JSON-ready record: nodes, connections as [innovation, src, dst, weight, enabled], fitness."""
        return {"nodes": [[n, k] for n, k in self.nodes.items()], "fitness": self.fitness,
                "connections": [[c.innovation, c.src, c.dst, c.weight, c.enabled]
                                for c in self.connections.values()]}

    @classmethod
    def from_dict(cls, record: dict) -> "Genome":
        """The genome that :meth:`to_dict` wrote."""
        return cls({int(n): k for n, k in record["nodes"]},
                   {int(c[0]): ConnectionGene(int(c[0]), int(c[1]), int(c[2]), float(c[3]), bool(c[4]))
                    for c in record["connections"]}, record.get("fitness"))

    @property
    def num_hidden(self) -> int:
        return sum(kind == "hidden" for kind in self.nodes.values())

    @property
    def num_enabled(self) -> int:
        return sum(c.enabled for c in self.connections.values())


class InnovationTracker:
    """Hands out innovation numbers and node ids; one structural mutation, one number per generation.

    >>> t = InnovationTracker(NEATConfig())
    >>> t.connection(0, 3) == t.connection(0, 3)    # same mutation, same generation: same number
    True
    """

    def __init__(self, config: NEATConfig):
        self.next_node = config.num_inputs + 1 + config.num_outputs
        self.next_innovation = 0
        self._this_generation: dict[tuple, object] = {}

    def new_generation(self) -> None:
        """Forget this generation's mutations: the same link found later is a new innovation."""
        self._this_generation.clear()

    def connection(self, src: int, dst: int) -> int:
        key = ("link", src, dst)
        if key not in self._this_generation:
            self._this_generation[key] = self.next_innovation
            self.next_innovation += 1
        return self._this_generation[key]

    def split(self, innovation: int, taken: dict) -> tuple[int, int, int]:
        """(new node id, innovation of in-link, innovation of out-link) for splitting a connection."""
        key = ("split", innovation)
        if key not in self._this_generation or self._this_generation[key][0] in taken:
            self._this_generation[key] = (self.next_node, self.next_innovation, self.next_innovation + 1)
            self.next_node += 1
            self.next_innovation += 2
        return self._this_generation[key]

    def hidden_nodes(self, count: int) -> list[int]:
        ids = list(range(self.next_node, self.next_node + count))
        self.next_node += count
        return ids


def initial_genome(config: NEATConfig, innovations: InnovationTracker, rng: random.Random,
                   hidden_ids: list[int] | None = None) -> Genome:
    """A first-generation genome: minimal (every input and the bias wired to every output, no hidden
    node, the paper's start) or, for the ablation, a dense layer of ``config.initial_hidden`` nodes."""
    n_in, n_out = config.num_inputs, config.num_outputs
    inputs = list(range(n_in + 1))                          # inputs and the bias
    outputs = list(range(n_in + 1, n_in + 1 + n_out))
    nodes = {i: "input" for i in range(n_in)} | {n_in: "bias"} | {o: "output" for o in outputs}
    hidden = hidden_ids or []
    nodes |= {h: "hidden" for h in hidden}
    links = [(i, o) for i in inputs for o in outputs]
    if config.initial_connection == "full":
        links += [(i, h) for i in inputs for h in hidden] + [(h, o) for h in hidden for o in outputs]
    r = config.weight_init_range
    conns = {}
    for src, dst in links:
        inn = innovations.connection(src, dst)
        conns[inn] = ConnectionGene(inn, src, dst, rng.uniform(-r, r))
    return Genome(nodes, conns)


# ---------------------------------------------------------------- mutations (one function each)

def mutate_weights(genome: Genome, config: NEATConfig, rng: random.Random, innovations=None) -> None:
    """Each weight: 90 % perturbed by U(-power, power), 10 % replaced by U(-power, power); clipped."""
    power, cap = config.weight_mutation_power, config.weight_max
    for c in genome.connections.values():
        step = rng.uniform(-power, power)
        w = c.weight + step if rng.random() < config.weight_perturb_prob else step
        c.weight = min(cap, max(-cap, w))


def _reaches(targets: dict[int, list[int]], start: int, goal: int) -> bool:
    """Is there a path start -> ... -> goal along ``targets`` (node -> nodes it feeds)?"""
    stack, seen = [start], {start}
    while stack:
        n = stack.pop()
        if n == goal:
            return True
        for m in targets.get(n, ()):
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return False


def mutate_add_connection(genome: Genome, config: NEATConfig, rng: random.Random,
                          innovations: InnovationTracker) -> None:
    """Link two unconnected nodes with a random weight, keeping the network feed-forward."""
    sources = [n for n, kind in genome.nodes.items() if kind != "output"]
    targets = [n for n, kind in genome.nodes.items() if kind in ("hidden", "output")]
    existing = {(c.src, c.dst) for c in genome.connections.values()}
    feeds: dict[int, list[int]] = {}            # all links, disabled too, so re-enabling stays safe
    for src, dst in existing:
        feeds.setdefault(src, []).append(dst)
    for _ in range(config.add_connection_tries):
        src, dst = rng.choice(sources), rng.choice(targets)
        if src == dst or (src, dst) in existing or _reaches(feeds, dst, src):
            continue
        inn = innovations.connection(src, dst)
        r = config.weight_init_range
        genome.connections[inn] = ConnectionGene(inn, src, dst, rng.uniform(-r, r))
        return


def mutate_add_node(genome: Genome, config: NEATConfig, rng: random.Random,
                    innovations: InnovationTracker) -> None:
    """Split an enabled link a->b into a->new (weight 1) and new->b (the old weight); disable a->b.

    Which link: in a genome of fewer than ``config.old_link_split_genes`` genes, the reference code's
    walk from the oldest enabled link, moving on to the next gene with probability 0.3 (bias links
    always passed), so tiny genomes split their old links instead of splitting the newest link again
    and again (a "chaining" effect); like the reference code, a walk that ends on a disabled gene or
    past the last one adds no node. In larger genomes: a uniform choice among enabled non-bias links.
    """
    genes = sorted(genome.connections.values(), key=lambda c: c.innovation)
    is_bias = lambda c: genome.nodes[c.src] == "bias"        # a split bias link is a constant [ref code]
    if len(genes) < config.old_link_split_genes:
        i = 0
        while i < len(genes) and (not genes[i].enabled or is_bias(genes[i])):
            i += 1
        while i < len(genes) and (rng.random() < 0.3 or is_bias(genes[i])):
            i += 1
        if i == len(genes) or not genes[i].enabled:
            return
        old = genes[i]
    else:
        enabled = [c for c in genes if c.enabled]
        if not enabled:
            return
        old = rng.choice([c for c in enabled if not is_bias(c)] or enabled)
    old.enabled = False
    node, inn_in, inn_out = innovations.split(old.innovation, genome.nodes)
    genome.nodes[node] = "hidden"
    genome.connections[inn_in] = ConnectionGene(inn_in, old.src, node, 1.0)
    genome.connections[inn_out] = ConnectionGene(inn_out, node, old.dst, old.weight)


def mutate_toggle_enable(genome: Genome, config: NEATConfig, rng: random.Random, innovations=None) -> None:
    """Flip one connection on or off."""
    c = rng.choice(list(genome.connections.values()))
    c.enabled = not c.enabled


def mutate(genome: Genome, config: NEATConfig, rng: random.Random, innovations: InnovationTracker) -> None:
    """One round of mutation: a structural change, or else weight perturbation (as the paper's code)."""
    if rng.random() < config.add_node_prob:
        mutate_add_node(genome, config, rng, innovations)
    elif rng.random() < config.add_connection_prob:
        mutate_add_connection(genome, config, rng, innovations)
    else:
        if rng.random() < config.weight_mutation_prob:
            mutate_weights(genome, config, rng)
        if rng.random() < config.toggle_enable_prob:
            mutate_toggle_enable(genome, config, rng)


# ---------------------------------------------------------------- alignment, crossover, distance

def align(genome1: Genome, genome2: Genome) -> tuple[list[int], list[int], list[int]]:
    """Split the innovation numbers of two genomes into (matching, disjoint, excess), each sorted.

    >>> a = Genome({}, {i: ConnectionGene(i, 0, 1, 0.0) for i in (1, 2, 3, 5)})
    >>> b = Genome({}, {i: ConnectionGene(i, 0, 1, 0.0) for i in (1, 2, 4, 6, 7)})
    >>> align(a, b)
    ([1, 2], [3, 4, 5], [6, 7])
    """
    inn1, inn2 = set(genome1.connections), set(genome2.connections)
    matching = sorted(inn1 & inn2)
    cutoff = min(max(inn1, default=-1), max(inn2, default=-1))   # the shorter genome's last gene
    unmatched = sorted(inn1 ^ inn2)
    disjoint = [i for i in unmatched if i <= cutoff]
    excess = [i for i in unmatched if i > cutoff]
    return matching, disjoint, excess


def distance(genome1: Genome, genome2: Genome, config: NEATConfig) -> float:
    """Compatibility distance delta = c1*E/N + c2*D/N + c3*W (paper, eq. 1).

    >>> cfg = NEATConfig()
    >>> a = Genome({}, {1: ConnectionGene(1, 0, 2, 0.5), 2: ConnectionGene(2, 1, 2, 1.0)})
    >>> b = Genome({}, {1: ConnectionGene(1, 0, 2, 1.5), 3: ConnectionGene(3, 1, 2, 1.0)})
    >>> round(distance(a, b, cfg), 6)    # E=1 (gene 3), D=1 (gene 2), W=|0.5-1.5|, N=1
    2.4
    """
    genes1, genes2 = genome1.connections, genome2.connections
    matching = genes1.keys() & genes2.keys()                            # the counts of align(), unsorted
    cutoff = min(max(genes1, default=-1), max(genes2, default=-1))
    unmatched = genes1.keys() ^ genes2.keys()
    excess = len([i for i in unmatched if i > cutoff])                  # E
    disjoint = len(unmatched) - excess                                  # D
    n_genes = max(len(genes1), len(genes2))
    n = 1 if n_genes < config.small_genome_genes else n_genes          # N
    w = (sum([abs(genes1[i].weight - genes2[i].weight) for i in matching]) / len(matching)
         if matching else 0.0)                                          # W (list: speciation's hot loop)
    return (config.excess_coefficient * excess / n                      # c1 * E / N
            + config.disjoint_coefficient * disjoint / n                # c2 * D / N
            + config.weight_coefficient * w)                            # c3 * W


def crossover(parent1: Genome, parent2: Genome, config: NEATConfig, rng: random.Random) -> Genome:
    """Child of two evaluated genomes aligned by innovation number.

    Disjoint and excess genes are copied from the fitter parent (the smaller one on a tie) as they
    are, switched off or on. A matching gene is copied from a random parent (or, with probability
    ``config.crossover_average_prob``, gets the mean of both weights and starts switched on); if it is
    disabled in either parent, the copy is switched off with probability 0.75 (paper). So a link
    disabled in both parents stays off unless the weights were averaged: as in the reference code's
    ``mate_multipoint`` and ``mate_multipoint_avg``, a crossover does not re-enable the links that
    add-node mutations have split. The child has the fitter parent's structure, so it stays feed-forward.
    """
    if (parent2.fitness, -len(parent2.connections)) > (parent1.fitness, -len(parent1.connections)):
        parent1, parent2 = parent2, parent1                     # parent1 is the fitter one
    average = rng.random() < config.crossover_average_prob
    child = {}
    for inn, gene in parent1.connections.items():
        other = parent2.connections.get(inn)
        if other is None:                                       # disjoint or excess: as it is
            child[inn] = gene.copy()
            continue
        chosen = (gene if rng.random() < 0.5 else other).copy()  # matching: either parent
        if average:
            chosen.weight, chosen.enabled = (gene.weight + other.weight) / 2, True
        if not (gene.enabled and other.enabled) and rng.random() < config.disable_inherited_prob:
            chosen.enabled = False
        child[inn] = chosen
    return Genome(dict(parent1.nodes), child)
