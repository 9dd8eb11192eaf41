"""Claims of lecture 6's NAS slides about search spaces, strategies and performance estimation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.errors import ParameterError
from labkit.nas import estimators as E
from labkit.nas.space import CellSpace, ChainSpace
from labkit.nas.strategies import (BayesianOptimization, RandomSearch, RegularizedEvolution, Reinforce,
                                   aging_evolution_step, race, Evaluation)

SPACE = CellSpace()
CHAIN = ChainSpace()


def conv3_share(arch):
    """A toy objective with a known optimum: every edge a 3-wide convolution."""
    return arch.count("conv3") / len(arch)


# --- search spaces -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cell", "chain"])
def test_every_sampled_or_mutated_architecture_builds_and_runs(name):
    space = {"cell": SPACE, "chain": CHAIN}[name]
    rng = np.random.default_rng(0 if name == "cell" else 1)
    x = torch.randn(3, 40)
    for _ in range(3):
        arch = space.sample(rng)
        for a in (arch, space.mutate(arch, rng)):
            assert space.build(space.validate(a))(x).shape == (3, 10)


def test_cell_space_size_is_ops_to_the_number_of_edges():
    assert len(SPACE.edges()) == 6  # 4 nodes: 3 + 2 + 1 edges
    assert SPACE.size == 3 ** 6 == len(list(SPACE.all()))
    assert CHAIN.size == sum((5 * 4) ** d for d in (1, 2, 3, 4))


def test_index_and_encoding_round_trip():
    for k in (0, 1, 364, SPACE.size - 1):
        arch = SPACE.arch_at(k)
        assert SPACE.index(arch) == k
        assert SPACE.decode(SPACE.encode(arch)) == arch
        assert SPACE.encode(arch).sum() == len(SPACE.edges())  # one-hot per edge


def test_mutation_changes_exactly_one_edge_and_reaches_every_neighbour():
    rng = np.random.default_rng(0)
    arch = SPACE.sample(rng)
    children = {SPACE.mutate(arch, rng) for _ in range(400)}
    assert all(sum(a != b for a, b in zip(arch, c)) == 1 for c in children)
    assert children == set(SPACE.neighbours(arch))
    assert len(SPACE.neighbours(arch)) == 6 * 2


def test_param_count_formula_matches_the_built_model():
    for k in range(0, SPACE.size, 97):
        arch = SPACE.arch_at(k)
        assert SPACE.count_params(arch) == sum(p.numel() for p in SPACE.build(arch).parameters())


def test_cells_with_one_canonical_name_compute_the_same_function():
    # node 1 = skip(x) = x, so conv3 on edge (0,3) and conv1 on edge (1,3) may trade places
    a = ("skip", "conv1", "conv3", "conv3", "conv1", "skip")   # edges (0,1),(0,2),(1,2),(0,3),(1,3),(2,3)
    b = ("skip", "conv1", "conv3", "conv1", "conv3", "skip")
    assert SPACE.canonical(a) == SPACE.canonical(b)
    torch.manual_seed(0)
    net_a, net_b = SPACE.build(a), SPACE.build(b)
    for stage in (3, 5):
        cell_a, cell_b = net_a[stage].ops, net_b[stage].ops
        for key in ("0_1", "0_2", "1_2", "2_3"):
            cell_b[key].load_state_dict(cell_a[key].state_dict())
        cell_b["1_3"].load_state_dict(cell_a["0_3"].state_dict())
        cell_b["0_3"].load_state_dict(cell_a["1_3"].state_dict())
    for k in (1, 2, 8):  # stem conv, stem BN, linear head
        net_b[k].load_state_dict(net_a[k].state_dict())
    x = torch.randn(5, 40)
    net_a.eval(), net_b.eval()
    assert torch.allclose(net_a(x), net_b(x), atol=1e-6)
    n_distinct = len({SPACE.canonical(x) for x in SPACE.all()})
    assert n_distinct == 483


def test_draw_returns_a_graph_with_one_edge_per_operation():
    from labkit.nas import draw

    g = draw.cell_graph(SPACE, SPACE.arch_at(5))
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 6


# --- strategies ---------------------------------------------------------------------------------------

STRATEGIES = [RandomSearch, RegularizedEvolution, Reinforce, BayesianOptimization]


@pytest.mark.parametrize("cls", STRATEGIES)
def test_strategy_contract(cls):
    s = cls(SPACE, seed=3).run(conv3_share, budget=30)
    assert len(s.history_) == 30
    assert s.best_value_ == max(ev.value for ev in s.history_)
    values = [conv3_share(a) for a in s.incumbents()]
    assert values == sorted(values)  # the incumbent never gets worse
    again = cls(SPACE, seed=3).run(conv3_share, budget=30)
    assert [ev.arch for ev in again.history_] == [ev.arch for ev in s.history_]  # a seed fixes the run


@pytest.mark.parametrize("cls", STRATEGIES)
def test_strategy_rejects_a_budget_of_zero(cls):
    with pytest.raises(ParameterError, match="'budget' parameter of .* must be an int >= 1"):
        cls(SPACE, seed=0).run(conv3_share, budget=0)


def test_aging_evolution_removes_the_oldest_not_the_worst():
    rea = RegularizedEvolution(SPACE, population_size=5, sample_size=2, seed=0)
    for k in range(5):
        rea.tell(SPACE.arch_at(k), value=1.0 if k == 0 else 0.1)
    oldest_is_best = rea.population_[0]
    rea.tell(SPACE.arch_at(7), value=0.0)
    assert len(rea.population_) == 5
    assert oldest_is_best not in rea.population_  # aging: the best individual dies of old age


def test_aging_step_mutates_the_tournament_winner():
    rng = np.random.default_rng(0)
    pop = [Evaluation(SPACE.arch_at(k), v) for k, v in ((0, 0.2), (100, 0.9), (200, 0.1))]
    child = aging_evolution_step(pop, SPACE, sample_size=3, rng=rng)  # sample = everyone
    assert child in SPACE.neighbours(SPACE.arch_at(100))


def test_reinforce_moves_probability_towards_rewarded_operations():
    rl = Reinforce(SPACE, seed=0).run(conv3_share, budget=150)
    p = rl.probabilities()[:, SPACE.ops.index("conv3")]
    assert p.mean() > 0.5  # started at 1/3


def test_evolution_and_bo_beat_random_on_a_smooth_objective():
    out = race(lambda a, rng: conv3_share(a), SPACE, ("random", "evolution", "bayes"), budget=40, seeds=range(8))
    assert out.median("evolution") >= out.median("random")
    assert out.median("bayes") >= out.median("random")


def test_bad_strategy_arguments_are_rejected():
    with pytest.raises(ParameterError, match="'sample_size' parameter of RegularizedEvolution"):
        RegularizedEvolution(SPACE, population_size=4, sample_size=9).ask()
    with pytest.raises(ParameterError, match="'lr' parameter of Reinforce must be a float > 0"):
        Reinforce(SPACE, lr=-1.0).ask()
    with pytest.raises(ParameterError, match="'strategies' parameter of race"):
        race(lambda a, rng: 0.0, SPACE, ("annealing",), budget=2, seeds=[0])


# --- bad input to spaces ------------------------------------------------------------------------------

def test_invalid_encodings_and_unknown_operations_are_rejected():
    with pytest.raises(ParameterError, match="'arch' parameter of CellSpace must be a tuple of 6 operation"):
        SPACE.build(("conv3",) * 5)
    with pytest.raises(ParameterError, match="'arch' parameter of CellSpace must be operations from"):
        SPACE.build(("conv3",) * 5 + ("conv9",))
    with pytest.raises(ParameterError, match="'ops' parameter of CellSpace must be names registered"):
        CellSpace(ops=("skip", "sepconv"))
    with pytest.raises(ParameterError, match="'arch' parameter of ChainSpace must be widths from"):
        CHAIN.build((("conv3", 12),))
    with pytest.raises(ParameterError, match="'arch' parameter of ChainSpace must be a tuple of"):
        CHAIN.build(())
    with pytest.raises(ParameterError, match="'vector' parameter of CellSpace.decode"):
        SPACE.decode(np.zeros(5))
    with pytest.raises(ParameterError, match="'index' parameter of CellSpace.arch_at"):
        SPACE.arch_at(SPACE.size)


# --- performance estimation ---------------------------------------------------------------------------

def test_learning_curve_fit_recovers_a_power_law():
    t = np.arange(1, 6)
    acc = 0.9 - 0.5 * t ** -0.7
    assert abs(float(E.fit_learning_curve(t, acc)(50)) - (0.9 - 0.5 * 50 ** -0.7)) < 0.01


def test_rank_correlation_matches_scipy():
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(0)
    x, y = rng.random(20), rng.random(20)
    r = E.rank_correlation(x, y)
    assert r["spearman"] == pytest.approx(spearmanr(x, y).statistic, abs=1e-6)
    assert r["kendall"] == pytest.approx(kendalltau(x, y).statistic, abs=1e-6)
    with pytest.raises(ParameterError, match="'estimates' parameter of rank_correlation"):
        E.rank_correlation([1.0], [1.0, 2.0])


def test_supernet_path_is_the_standalone_cell_with_shared_weights():
    torch.manual_seed(0)
    net = E.SuperNet(SPACE)
    arch = ("conv3", "skip", "conv1", "conv3", "skip", "conv1")
    alone = SPACE.build(arch)
    state = {}
    for name, value in alone.state_dict().items():
        parts = name.split(".")
        if parts[0] == str(len(alone) - 1):
            state[name] = net.head[1].state_dict()[".".join(parts[1:])]
        elif parts[0] in ("1", "2"):
            state[name] = net.stem[int(parts[0])].state_dict()[".".join(parts[1:])]
        else:  # "<cell>.ops.<i_j>.<k>.<param>"
            stage = (int(parts[0]) - 3) // 2
            op = arch[[f"{i}_{j}" for i, j in SPACE.edges()].index(parts[2])]
            state[name] = net.cells[stage][parts[2]][op].state_dict()[".".join(parts[3:])]
    alone.load_state_dict(state)
    x = torch.randn(4, 40)
    net.train(), alone.train()
    assert torch.allclose(net(x, arch), alone(x), atol=1e-5)


def test_weight_inheritance_copies_the_parents_matching_tensors():
    from labkit.data import Split

    X, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    splits = (Split(X, y), Split(X, y), Split(X, y))
    est = E.WeightInheritance(SPACE, splits)
    with pytest.raises(ParameterError, match="'parents_' parameter of WeightInheritance.estimate"):
        est.estimate(SPACE.arch_at(0))
    torch.manual_seed(1)
    parent = SPACE.build(SPACE.arch_at(3))
    est.add_parent(SPACE.arch_at(3), parent)
    assert 0.0 <= est.estimate(SPACE.arch_at(4)).value <= 1.0
