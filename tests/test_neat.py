"""Claims of the NEAT slide, as tests: genes align by innovation number, delta is eq. 1, species share
fitness, a seed replays a run, and the exported PyTorch module is the same function as the phenotype."""
import random

import numpy as np
import pytest
import torch

from labkit.data import make_toy
from labkit.errors import ParameterError
from labkit.nas.neat import (NEAT, ConnectionGene, FeedForwardNetwork, Genome, InnovationTracker, NEATConfig,
                             align, crossover, distance, fine_tune, initial_genome, mutate_add_connection,
                             mutate_add_node, mutate_weights, tasks, to_torch)
from labkit.nas.neat.phenotype import _depths

NODES = {0: "input", 1: "input", 2: "bias", 3: "output", 4: "hidden", 5: "hidden"}


def genome(genes, fitness=None, nodes=NODES):
    """genes: {innovation: (src, dst, weight, enabled)}"""
    return Genome(dict(nodes), {i: ConnectionGene(i, s, d, w, e) for i, (s, d, w, e) in genes.items()}, fitness)


# The paper's figure 4: parent 1 has genes 1-5 and 8, parent 2 has 1-7 and 9-10 (5 disabled in both,
# 4 disabled in parent 2 only)... with our node ids.
P1 = {1: (0, 3, 1.0, True), 2: (1, 3, 2.0, False), 3: (2, 3, 3.0, True), 4: (1, 4, 4.0, True),
      5: (4, 3, 5.0, True), 8: (0, 4, 8.0, True)}
P2 = {1: (0, 3, -1.0, True), 2: (1, 3, -2.0, False), 3: (2, 3, -3.0, True), 4: (1, 4, -4.0, True),
      5: (4, 3, -5.0, False), 6: (4, 5, -6.0, True), 7: (5, 3, -7.0, True), 9: (2, 5, -9.0, True),
      10: (0, 5, -10.0, True)}


def test_align_splits_matching_disjoint_and_excess_genes_as_in_the_papers_figure():
    matching, disjoint, excess = align(genome(P1), genome(P2))
    assert matching == [1, 2, 3, 4, 5]
    assert disjoint == [6, 7, 8]          # inside the other genome's range
    assert excess == [9, 10]              # beyond parent 1's last innovation (8)


def test_crossover_takes_matching_genes_from_either_parent_and_the_rest_from_the_fitter():
    cfg = NEATConfig(crossover_average_prob=0.0)
    fitter, weaker = genome(P2, fitness=2.0), genome(P1, fitness=1.0)
    seen = {i: set() for i in P1}
    for seed in range(60):
        child = crossover(weaker, fitter, cfg, random.Random(seed))
        assert sorted(child.connections) == sorted(P2)            # the fitter parent's genes, no more
        for i in (6, 7, 9, 10):                                    # disjoint and excess: fitter parent only
            assert child.connections[i].weight == P2[i][2]
        for i in (1, 2, 3, 4, 5):
            seen[i].add(child.connections[i].weight)
    for i in (1, 2, 3, 4, 5):                                      # matching: both parents occur
        assert seen[i] == {P1[i][2], P2[i][2]}


def test_averaging_crossover_gives_matching_genes_the_parents_mean_weight():
    cfg = NEATConfig(crossover_average_prob=1.0)
    child = crossover(genome(P1, 1.0), genome(P2, 2.0), cfg, random.Random(0))
    assert [child.connections[i].weight for i in (1, 2, 3, 4, 5)] == [0.0] * 5
    assert child.connections[9].weight == P2[9][2]


def test_crossover_switches_off_three_in_four_genes_disabled_in_either_parent_and_keeps_off_genes_off():
    cfg = NEATConfig(crossover_average_prob=0.0)       # the reference code's mate_multipoint
    p2 = dict(P2) | {6: (4, 5, -6.0, False)}           # a disjoint gene switched off in the fitter parent
    children = [crossover(genome(P1, 1.0), genome(p2, 2.0), cfg, random.Random(s)) for s in range(2000)]
    from_on_parent = [not c.connections[5].enabled for c in children if c.connections[5].weight == P1[5][2]]
    from_off_parent = [not c.connections[5].enabled for c in children if c.connections[5].weight == P2[5][2]]
    assert abs(np.mean(from_on_parent) - cfg.disable_inherited_prob) < 0.04     # off in one parent: 75 %
    assert all(from_off_parent) and len(from_off_parent) > 900                   # the off copy stays off
    assert not any(c.connections[2].enabled for c in children)                   # off in both: stays off
    assert not any(c.connections[6].enabled for c in children)                   # disjoint: as it is
    assert all(c.connections[1].enabled for c in children)                      # on in both: stays on


def test_averaged_genes_start_switched_on_then_follow_the_three_in_four_rule():
    cfg = NEATConfig(crossover_average_prob=1.0)       # the reference code's mate_multipoint_avg
    children = [crossover(genome(P1, 1.0), genome(P2, 2.0), cfg, random.Random(s)) for s in range(2000)]
    for i in (2, 5):                                    # off in both parents (2) or in one (5)
        assert abs(np.mean([not c.connections[i].enabled for c in children]) - 0.75) < 0.04
    assert all(c.connections[1].enabled for c in children)


def test_distance_matches_a_hand_computed_pair():
    cfg = NEATConfig()
    # E = 2 (9, 10), D = 3 (6, 7, 8), matching 1-5 with |w1 - w2| = 2, 4, 6, 8, 10 -> W = 6
    # 9 genes < 20, so N = 1:  delta = 1*2 + 1*3 + 0.4*6 = 7.4
    assert distance(genome(P1), genome(P2), cfg) == pytest.approx(7.4)
    assert distance(genome(P2), genome(P1), cfg) == pytest.approx(7.4)        # symmetric
    assert distance(genome(P1), genome(P1), cfg) == 0.0
    # with N = 9 (threshold lowered): delta = 2/9 + 3/9 + 0.4*6
    cfg = NEATConfig(small_genome_genes=5, excess_coefficient=2.0)
    assert distance(genome(P1), genome(P2), cfg) == pytest.approx(2 * 2 / 9 + 3 / 9 + 2.4)


def test_the_same_mutation_in_one_generation_gets_the_same_innovation_number():
    cfg = NEATConfig()
    tracker = InnovationTracker(cfg)
    a, b, c = (initial_genome(cfg, tracker, random.Random(s)) for s in (0, 1, 2))
    assert sorted(a.connections) == sorted(b.connections) == [0, 1, 2]
    rng_a, rng_b = random.Random(5), random.Random(5)            # both split the same link
    mutate_add_node(a, cfg, rng_a, tracker)
    mutate_add_node(b, cfg, rng_b, tracker)
    assert sorted(a.connections) == sorted(b.connections) == [0, 1, 2, 3, 4]
    assert set(a.nodes) == set(b.nodes)
    tracker.new_generation()                                     # next generation: a new number
    mutate_add_node(c, cfg, random.Random(5), tracker)
    assert sorted(c.connections) == [0, 1, 2, 5, 6]


def test_add_node_splits_a_link_without_changing_what_the_network_computes_much():
    cfg = NEATConfig()
    tracker = InnovationTracker(cfg)
    g = initial_genome(cfg, tracker, random.Random(0))
    before = len(g.connections)
    mutate_add_node(g, cfg, random.Random(1), tracker)
    assert len(g.connections) == before + 2 and g.num_hidden == 1 and g.num_enabled == before + 1
    split = [c for c in g.connections.values() if not c.enabled][0]
    into = [c for c in g.connections.values() if c.dst == 4][0]
    out = [c for c in g.connections.values() if c.src == 4][0]
    assert (into.src, into.weight, out.dst, out.weight) == (split.src, 1.0, split.dst, split.weight)


def test_weight_mutation_stays_within_the_cap():
    cfg = NEATConfig(weight_mutation_power=5.0, weight_max=3.0)
    g = genome(P2)
    rng = random.Random(0)
    for _ in range(50):
        mutate_weights(g, cfg, rng)
    assert max(abs(c.weight) for c in g.connections.values()) <= 3.0


@pytest.mark.parametrize("old_link_split_genes", [15, 0])
def test_add_node_never_splits_a_bias_link_when_another_is_enabled(old_link_split_genes):
    cfg = NEATConfig(old_link_split_genes=old_link_split_genes)
    tracker = InnovationTracker(cfg)
    splits = 0
    for seed in range(30):
        g = initial_genome(cfg, tracker, random.Random(seed))
        mutate_add_node(g, cfg, random.Random(seed), tracker)
        for split in [c for c in g.connections.values() if not c.enabled]:
            splits += 1
            assert g.nodes[split.src] != "bias"
    assert splits >= 20


def test_a_tiny_genome_splits_its_oldest_link_most_often_as_in_the_reference_code():
    # inputs 0, 1, bias 2 -> output 3: links 0 (0->3), 1 (1->3), 2 (bias). The walk stops at link 0
    # w.p. 0.7, at link 1 w.p. 0.3 * 0.7, and runs past the end (no new node) w.p. 0.09.
    picks = {0: 0, 1: 0, None: 0}
    for seed in range(2000):
        cfg = NEATConfig()
        tracker = InnovationTracker(cfg)
        g = initial_genome(cfg, tracker, random.Random(0))
        mutate_add_node(g, cfg, random.Random(seed), tracker)
        split = [c.innovation for c in g.connections.values() if not c.enabled]
        picks[split[0] if split else None] += 1
    assert picks[0] / 2000 == pytest.approx(0.7, abs=0.03)
    assert picks[1] / 2000 == pytest.approx(0.21, abs=0.03)
    assert picks[None] / 2000 == pytest.approx(0.09, abs=0.02)
    uniform = NEATConfig(old_link_split_genes=0)                 # larger genomes: a uniform choice
    counts = {0: 0, 1: 0}
    for seed in range(1000):
        tracker = InnovationTracker(uniform)
        g = initial_genome(uniform, tracker, random.Random(0))
        mutate_add_node(g, uniform, random.Random(seed), tracker)
        counts[[c.innovation for c in g.connections.values() if not c.enabled][0]] += 1
    assert counts[0] / 1000 == pytest.approx(0.5, abs=0.05)


def test_add_connection_keeps_the_network_feed_forward():
    cfg = NEATConfig()
    tracker = InnovationTracker(cfg)
    rng = random.Random(0)
    g = initial_genome(cfg, tracker, rng)
    for _ in range(30):
        mutate_add_node(g, cfg, rng, tracker)
        mutate_add_connection(g, cfg, rng, tracker)
    depth = _depths(g, list(g.connections.values()))             # a cycle would break depth order
    assert all(depth[c.src] < depth[c.dst] for c in g.connections.values())
    assert len({(c.src, c.dst) for c in g.connections.values()}) == len(g.connections)


def test_phenotype_computes_the_papers_steepened_sigmoid_by_hand():
    g = genome({1: (0, 4, 0.5, True), 2: (4, 3, -1.0, True), 3: (2, 3, 0.3, True), 4: (1, 3, 2.0, False)},
               nodes={0: "input", 1: "input", 2: "bias", 3: "output", 4: "hidden"})
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.7, 1.0]])
    sig = lambda z: 1 / (1 + np.exp(-4.9 * z))
    expected = sig(-1.0 * sig(0.5 * X[:, 0]) + 0.3)
    assert np.allclose(FeedForwardNetwork(g, NEATConfig())(X)[:, 0], expected, rtol=1e-12)


def evolved_genome(seed=0, steps=25):
    cfg = NEATConfig(num_inputs=3, num_outputs=2, activation="tanh")
    tracker, rng = InnovationTracker(cfg), random.Random(seed)
    g = initial_genome(cfg, tracker, rng)
    for _ in range(steps):
        (mutate_add_node if rng.random() < 0.4 else mutate_add_connection)(g, cfg, rng, tracker)
    return g, cfg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exported_torch_module_gives_the_same_outputs_as_the_phenotype(seed):
    g, cfg = evolved_genome(seed)
    X = np.random.default_rng(seed).uniform(-1, 1, (64, 3))
    numpy_out = FeedForwardNetwork(g, cfg)(X)
    module = to_torch(g, cfg)
    assert np.allclose(module(torch.tensor(X, dtype=torch.float32)).detach().numpy(), numpy_out, atol=1e-5)
    module64 = to_torch(g, cfg, dtype=torch.float64)
    assert np.allclose(module64(torch.tensor(X)).detach().numpy(), numpy_out, rtol=1e-12, atol=1e-12)


def test_fine_tuned_module_writes_its_weights_back_into_the_genome():
    g, cfg = evolved_genome(3)
    module = to_torch(g, cfg)
    X = torch.rand(32, 3)
    with torch.no_grad():
        for w in module.weights:
            w.add_(0.1)                                           # any change, masked entries included
    back = module.to_genome(g)
    assert np.allclose(FeedForwardNetwork(back, cfg)(X.numpy()), module(X).detach().numpy(), atol=1e-5)
    assert sorted(back.connections) == sorted(g.connections)      # topology untouched


def test_backprop_only_moves_weights_that_are_genes():
    g, cfg = evolved_genome(4)
    module = to_torch(g, cfg)
    loss = module(torch.rand(16, 3)).pow(2).sum()
    loss.backward()
    for i, w in enumerate(module.weights):
        assert torch.all(w.grad[getattr(module, f"mask{i}") == 0] == 0)


def test_a_seed_reproduces_a_run_exactly():
    cfg = NEATConfig(population_size=50)
    runs = [NEAT(cfg, seed=7).run(tasks.xor(), max_generations=8) for _ in range(2)]
    assert runs[0].history_ == runs[1].history_
    assert runs[0].best_genome_ == runs[1].best_genome_
    other = NEAT(cfg, seed=8).run(tasks.xor(), max_generations=8)
    assert other.history_ != runs[0].history_


def test_species_partition_the_population_and_offspring_fill_it():
    neat = NEAT(NEATConfig(population_size=60), seed=3).run(tasks.xor(), max_generations=6)
    for h in neat.history_:
        assert sum(h["species_sizes"].values()) == 60
    assert len(neat.ask()) == 60
    assert neat.history_[-1]["num_species"] >= 1


def test_without_speciation_there_is_one_species():
    neat = NEAT(NEATConfig(population_size=40, speciation=False), seed=0).run(tasks.xor(), max_generations=4)
    assert all(h["num_species"] == 1 for h in neat.history_)


def test_fitness_sharing_gives_offspring_in_proportion_to_mean_fitness():
    cfg = NEATConfig(population_size=40, compatibility_threshold=0.5)
    neat = NEAT(cfg, seed=0)
    genomes = neat.ask()
    for g in genomes[:30]:                     # two clearly different species: 30 members, 10 members
        g.connections[0].weight = 0.0
    for g in genomes[30:]:
        g.connections[0].weight = 5.0
    fitness = [1.0] * 30 + [3.0] * 10          # means 1 and 3: shares 1/4 and 3/4 of 40 offspring
    for g, f in zip(genomes, fitness):
        g.fitness = f
    neat._speciate(genomes)
    counts = [n for _, n in neat._offspring_counts()]
    assert counts == [10, 30]


def test_children_of_identical_parents_are_always_mutated():
    # crossover only, its children left as they are: only identical parents force a mutation (here of
    # the weights alone, which always changes a genome)
    cfg = NEATConfig(population_size=30, mutation_only_prob=0.0, mate_only_prob=1.0, weight_mutation_prob=1.0,
                     add_node_prob=0.0, add_connection_prob=0.0)
    neat = NEAT(cfg, seed=0)
    first = neat.ask()[0]
    clones = [first.copy() for _ in range(30)]         # different objects, the same genome
    neat.population_ = clones
    neat.tell([1.0] * 30)
    same = [g for g in neat.ask() if g.to_dict()["connections"] == first.to_dict()["connections"]]
    assert len(same) == 1                               # the species champion, kept unchanged


def test_ask_tell_loop_matches_run():
    cfg = NEATConfig(population_size=30)
    task = tasks.xor()
    neat = NEAT(cfg, seed=2)
    for _ in range(5):
        genomes = neat.ask()
        neat.tell(task.evaluate(genomes, neat.config_)[0])
    ran = NEAT(cfg, seed=2).run(task, max_generations=5, stop_when_solved=False)
    assert [h["best_fitness"] for h in neat.history_] == [h["best_fitness"] for h in ran.history_]


def test_xor_is_solved_with_the_papers_settings():
    neat = NEAT(NEATConfig(), seed=1001).run(tasks.xor(), max_generations=100)
    assert neat.solved_generation_ is not None
    out = FeedForwardNetwork(neat.best_genome_, neat.config_)(tasks.xor().X)[:, 0]
    assert np.array_equal(out > 0.5, [False, True, True, False])
    assert neat.evaluations_ <= neat.solved_generation_ * 150


def test_fully_connected_start_has_hidden_nodes_from_the_first_generation():
    cfg = NEATConfig(initial_hidden=3, initial_connection="full", population_size=10)
    g = NEAT(cfg, seed=0).ask()[0]
    assert g.num_hidden == 3 and len(g.connections) == 3 + 9 + 3


def test_tasks_give_binary_targets_and_the_papers_xor_fitness():
    t = tasks.xor()
    assert t.fitness(np.array([[0.5]] * 4)) == pytest.approx((4 - 2.0) ** 2)
    for name in ("circles", "moons", "spirals"):
        task = tasks.make(name, n=50, noise=0.1, seed=3)
        assert task.X.shape == (50, 2) and set(np.unique(task.y)) == {0.0, 1.0}
        X, y = make_toy(name, n=50, noise=0.1, seed=3)       # the course's toy sets, not a copy
        assert np.array_equal(task.X, X) and np.array_equal(task.y, y)


@pytest.mark.parametrize("field, value, match", [
    ("add_node_prob", -0.1, r"'add_node_prob' parameter of NEATConfig must be a float in \[0.0, 1.0\]"),
    ("weight_mutation_prob", 1.5, r"'weight_mutation_prob' parameter of NEATConfig"),
    ("activation", "softsign", r"'activation' parameter of NEATConfig must be one of 'sigmoid'"),
    ("output_activation", "swish", r"'output_activation' parameter of NEATConfig"),
    ("population_size", 0, r"'population_size' parameter of NEATConfig must be an int >= 2"),
    ("compatibility_threshold", 0.0, r"'compatibility_threshold' parameter of NEATConfig must be a float > 0"),
    ("initial_connection", "dense", r"'initial_connection' parameter of NEATConfig"),
    ("speciation", "yes", r"'speciation' parameter of NEATConfig"),
    ("old_link_split_genes", -1, r"'old_link_split_genes' parameter of NEATConfig must be an int >= 0"),
])
def test_bad_configuration_names_the_field(field, value, match):
    with pytest.raises(ParameterError, match=match):
        NEATConfig(**{field: value})


def test_bad_run_arguments_are_rejected():
    with pytest.raises(ParameterError, match=r"'max_generations' parameter of NEAT.run"):
        NEAT(NEATConfig(population_size=10)).run(tasks.xor(), max_generations=0)
    with pytest.raises(ParameterError, match=r"'seed' parameter of NEAT"):
        NEAT(NEATConfig(population_size=10), seed=-1).ask()
    neat = NEAT(NEATConfig(population_size=10))
    neat.ask()
    with pytest.raises(ParameterError, match=r"'fitness' parameter of NEAT.tell must be 10 finite values"):
        neat.tell([1.0] * 9)
    with pytest.raises(ParameterError, match=r"'fitness' parameter of NEAT.tell"):
        neat.tell([-1.0] * 10)
    with pytest.raises(ParameterError, match=r"'name' parameter of tasks.make"):
        tasks.make("rings")
    with pytest.raises(ParameterError, match=r"'n' parameter of make_toy"):
        tasks.spirals(n=1)


def test_fine_tuning_lowers_the_loss_and_keeps_the_topology():
    cfg = NEATConfig()
    task = tasks.circles(n=60)
    tracker = InnovationTracker(cfg)
    g2 = initial_genome(cfg, tracker, random.Random(0))
    mutate_add_node(g2, cfg, random.Random(1), tracker)
    tuned, losses = fine_tune(g2, cfg, task.X, task.y, steps=60, lr=0.05)
    assert losses[-1] < losses[0]
    assert sorted(tuned.connections) == sorted(g2.connections)
    with pytest.raises(ParameterError, match=r"'steps' parameter of fine_tune"):
        fine_tune(g2, cfg, task.X, task.y, steps=0)


def test_genome_survives_a_json_round_trip():
    g, cfg = evolved_genome(6)
    g.fitness = 3.5
    assert Genome.from_dict(g.to_dict()) == g
