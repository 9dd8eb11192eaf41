"""Claims of the DARTS slide, executed: the relaxation, the unrolled gradient, the derivation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from labkit.errors import ParameterError
from labkit.nas.darts import (OPS, PRIMITIVES, DartsSearch, DerivedNetwork, Genotype, MixedOp,
                              NetworkConfig, SearchConfig, SearchNetwork, derive, make_op, mixed_op,
                              num_edges, random_genotype, unrolled_alpha_grad)
from labkit.nas.darts import diagnostics
from labkit.nas.darts.genotype import PARAMETER_FREE

torch.set_num_threads(1)


# --- the operation set -------------------------------------------------------------------------

@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_operation_keeps_the_shape(name):
    x = torch.randn(3, 4, 40)
    assert make_op(name, 4, affine=False)(x).shape == x.shape


def test_none_is_zero_and_skip_is_identity():
    x = torch.randn(2, 3, 10)
    assert torch.equal(make_op("none", 3)(x), torch.zeros_like(x))
    assert torch.equal(make_op("skip_connect", 3)(x), x)


def test_unknown_operation_is_refused():
    with pytest.raises(ParameterError, match="'name' parameter of make_op must be one of"):
        make_op("conv_7", 4)
    with pytest.raises(ParameterError, match="'primitives' parameter of NetworkConfig"):
        NetworkConfig(primitives=["none", "conv_7"])
    with pytest.raises(ParameterError, match="at least one besides 'none'"):
        NetworkConfig(primitives=["none"])
    with pytest.raises(ParameterError, match="'primitives' parameter of NetworkConfig"):
        NetworkConfig(primitives="skip_connect")


# --- the continuous relaxation -----------------------------------------------------------------

def test_mixed_op_is_the_softmax_weighted_sum():
    torch.manual_seed(0)
    edge = MixedOp(4, PRIMITIVES)
    x, alpha = torch.randn(2, 4, 16), torch.randn(len(PRIMITIVES))
    w = F.softmax(alpha, dim=0)
    expected = sum(w[o] * edge.ops[o](x) for o in range(len(PRIMITIVES)))
    assert torch.allclose(edge(x, w), expected, atol=1e-6)


def test_one_hot_alpha_recovers_a_single_operation():
    torch.manual_seed(0)
    edge = MixedOp(4, PRIMITIVES)
    x = torch.randn(2, 4, 16)
    o = PRIMITIVES.index("sep_conv_3")
    w = F.softmax(torch.eye(len(PRIMITIVES))[o] * 100.0, dim=0)  # softmax -> one-hot
    assert torch.allclose(mixed_op(x, w, edge.ops), edge.ops[o](x), atol=1e-5)


def test_cell_has_the_papers_fourteen_edges():
    assert num_edges(4) == 14 and num_edges(1) == 2
    net = SearchNetwork(10, NetworkConfig(channels=4, cells=2, nodes=4))
    assert tuple(net.alphas.shape) == (14, 8)
    assert all(p is not net.alphas for p in net.weights())
    assert len(net.weights()) == len(list(net.parameters())) - 1
    assert net(torch.randn(5, 40)).shape == (5, 10)


# --- the second-order gradient -----------------------------------------------------------------

def _smooth(net):
    """Swap every ReLU for a softplus: eq. 8 is a Taylor expansion and needs a twice-differentiable
    L_train; a ReLU or max-pool kink inside the eps-ball makes the central difference measure the
    kink instead of the curvature (tested separately below with a tiny eps)."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.Softplus())
    return net


def _tiny_problem(smooth=True, n=32):
    torch.manual_seed(0)
    ops = [p for p in PRIMITIVES if p != "max_pool_3"] if smooth else PRIMITIVES
    net = SearchNetwork(3, NetworkConfig(channels=2, cells=1, nodes=2, stem_multiplier=1, primitives=ops))
    net = net.double()
    if smooth:
        _smooth(net)
    with torch.no_grad():
        net.alphas.normal_(0, 0.5)
    train = (torch.randn(n, 12, dtype=torch.float64), torch.randint(0, 3, (n,)))
    val = (torch.randn(n, 12, dtype=torch.float64), torch.randint(0, 3, (n,)))
    return net, train, val


def _unrolled_objective(net, alphas, train, val, xi, create_graph):
    """f(alpha) = L_val(w - xi * grad_w L_train(w, alpha), alpha): what eq. 7 differentiates."""
    names = [n for n, _ in net.named_weights()]
    w = [p.detach().clone().requires_grad_(True) for _, p in net.named_weights()]
    params = {**dict(zip(names, w)), "alphas": alphas}
    g = torch.autograd.grad(F.cross_entropy(functional_call(net, params, (train[0],)), train[1]), w,
                            create_graph=create_graph)
    w_prime = {n: t - xi * gi for n, t, gi in zip(names, w, g)}
    return F.cross_entropy(functional_call(net, {**w_prime, "alphas": alphas}, (val[0],)), val[1])


def test_second_order_gradient_matches_finite_differences_of_the_unrolled_objective():
    net, train, val = _tiny_problem()
    xi = 0.5  # large, so the second-order term is far from negligible
    ours = unrolled_alpha_grad(net, train, val, xi=xi)
    # oracle 1: central differences of f(alpha), entry by entry
    base, h = net.alphas.detach().clone(), 1e-5
    numeric = torch.zeros_like(base)
    for idx in np.ndindex(*base.shape):
        plus, minus = base.clone(), base.clone()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (_unrolled_objective(net, plus, train, val, xi, False)
                        - _unrolled_objective(net, minus, train, val, xi, False)) / (2 * h)
    # oracle 2: exact autograd through the virtual step (double backprop)
    a = base.clone().requires_grad_(True)
    exact = torch.autograd.grad(_unrolled_objective(net, a, train, val, xi, True), a)[0]
    assert torch.linalg.norm(exact - numeric) / torch.linalg.norm(numeric) < 1e-6
    assert torch.linalg.norm(ours - numeric) / torch.linalg.norm(numeric) < 1e-3
    # and the claim is not vacuous: the first-order gradient (xi = 0) is measurably different
    first = unrolled_alpha_grad(net, train, val, xi=0.0)
    assert torch.linalg.norm(first - numeric) / torch.linalg.norm(numeric) > 0.1


def test_second_order_gradient_is_exact_for_relu_networks_at_small_eps():
    net, train, val = _tiny_problem(smooth=False, n=8)
    xi = 0.5
    a = net.alphas.detach().clone().requires_grad_(True)
    exact = torch.autograd.grad(_unrolled_objective(net, a, train, val, xi, True), a)[0]
    ours = unrolled_alpha_grad(net, train, val, xi=xi, eps_scale=1e-5)
    assert torch.linalg.norm(ours - exact) / torch.linalg.norm(exact) < 1e-6


def test_unrolled_gradient_leaves_the_weights_alone():
    net, train, val = _tiny_problem()
    before = [p.detach().clone() for p in net.parameters()]
    unrolled_alpha_grad(net, train, val, xi=0.1)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


# --- derivation ------------------------------------------------------------------------------

def test_derivation_on_hand_written_alphas():
    ops = ["none", "skip_connect", "max_pool_3", "sep_conv_3"]
    a = np.zeros((num_edges(3), 4))  # node 0: rows 0-1, node 1: rows 2-4, node 2: rows 5-8
    a[0, 3] = 2.0                    # 0 -> n2 sep_conv
    a[1, 1] = 1.0                    # 1 -> n2 skip
    a[2, 0] = 9.0                    # 0 -> n3 dominated by none: must not be kept
    a[3, 2] = 1.5                    # 1 -> n3 max_pool
    a[4, 3] = 1.0                    # n2 -> n3 sep_conv
    a[5, 1] = 0.5
    a[7, 3] = 3.0                    # n3 -> n4 sep_conv (row 7 = input state 2)
    a[8, 1] = 2.5                    # n4 <- state 3 skip
    g = derive(a, ops)
    assert g == Genotype(((("sep_conv_3", 0), ("skip_connect", 1)),
                          (("max_pool_3", 1), ("sep_conv_3", 2)),
                          (("sep_conv_3", 2), ("skip_connect", 3))))
    assert g.count("skip_connect") == 2 and g.count("none") == 0
    assert derive(a, ops, k=1).nodes[1] == (("max_pool_3", 1),)
    capped = derive(a, ops, max_skips=1)  # the weaker skip (row 1, weight e/(e+3)) is replaced
    assert capped.count("skip_connect") == 1 and capped.nodes[0][1] == ("max_pool_3", 1)
    assert Genotype.from_list(g.to_list()) == g


def test_derive_refuses_bad_input():
    with pytest.raises(ParameterError, match="'k' parameter of derive must be an int in \\[1, 2\\]"):
        derive(np.zeros((14, 8)), k=3)
    with pytest.raises(ParameterError, match="'k' parameter of derive"):
        derive(np.zeros((14, 8)), k=0)
    with pytest.raises(ParameterError, match="'alphas' parameter of derive"):
        derive(np.zeros((13, 8)))
    with pytest.raises(ParameterError, match="one column per primitive"):
        derive(np.zeros((14, 7)))
    with pytest.raises(ParameterError, match="'primitives' parameter of derive"):
        derive(np.zeros((14, 8)), primitives=list(PRIMITIVES[:7]) + ["conv_9"])


def test_random_cells_come_from_the_same_space():
    for seed in range(20):
        g = random_genotype(nodes=4, seed=seed)
        for j, node in enumerate(g.nodes):
            inputs = [i for _, i in node]
            assert len(set(inputs)) == 2 and all(0 <= i < j + 2 for i in inputs)
            assert all(op in OPS and op != "none" for op, _ in node)
    assert random_genotype(seed=3) == random_genotype(seed=3)


def test_derived_network_builds_trains_and_runs():
    torch.manual_seed(0)
    net = SearchNetwork(10, NetworkConfig(channels=4, cells=1, nodes=3))
    g = derive(net.alphas, net.primitives)
    derived = DerivedNetwork(g, 10, NetworkConfig(channels=6, cells=2, nodes=3))
    x, y = torch.randn(16, 40), torch.randint(0, 10, (16,))
    loss = F.cross_entropy(derived(x), y)
    loss.backward()
    assert derived(x).shape == (16, 10) and torch.isfinite(loss)
    assert all(p.grad is not None for p in derived.parameters())
    with pytest.raises(ParameterError, match="'genotype' parameter of DerivedNetwork"):
        DerivedNetwork([("sep_conv_3", 0)], 10)


# --- the search --------------------------------------------------------------------------------

def _blobs(n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.randn(n, 16, generator=gen) * 0.3 + y[:, None].float()
    return x, y


@pytest.mark.parametrize("order", ["first", "second"])
def test_search_moves_alpha_and_records_its_trajectory(order):
    train, val = _blobs(seed=0), _blobs(seed=1)
    s = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2),
                    SearchConfig(order=order, epochs=2, warmup_epochs=0, batch_size=32, seed=0))
    s.fit(train, val)
    assert s.alpha_history_.shape == (3, num_edges(2), len(PRIMITIVES))
    assert np.allclose(s.alpha_history_.sum(axis=2), 1.0, atol=1e-5)  # softmax rows
    assert not np.allclose(s.alpha_history_[0], s.alpha_history_[-1])
    assert isinstance(s.genotype_, Genotype) and len(s.history_["val_acc"]) == 2


def test_warm_up_trains_the_weights_and_freezes_alpha():
    train, val = _blobs(seed=0), _blobs(seed=1)
    s = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2),
                    SearchConfig(epochs=2, warmup_epochs=1, batch_size=32, seed=0))
    w0 = [p.detach().clone() for p in s.setup(3, 3).net_.weights()]
    s.fit(train, val)
    assert np.array_equal(s.alpha_history_[0], s.alpha_history_[1])  # epoch 1: w alone
    assert not np.array_equal(s.alpha_history_[1], s.alpha_history_[2])  # epoch 2: alpha moves too
    assert any(not torch.equal(a, b) for a, b in zip(w0, s.net_.weights()))
    assert SearchConfig().alpha_lr == 3e-4  # the paper's architecture learning rate


def test_search_is_reproducible_with_a_seed():
    train, val = _blobs(seed=0), _blobs(seed=1)
    cfg = dict(epochs=1, warmup_epochs=0, batch_size=32, seed=4)
    a = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2), SearchConfig(**cfg)).fit(train, val)
    b = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2), SearchConfig(**cfg)).fit(train, val)
    assert np.array_equal(a.alpha_history_, b.alpha_history_)


def test_search_config_refuses_bad_input():
    with pytest.raises(ParameterError, match="'order' parameter of SearchConfig must be one of"):
        SearchConfig(order="third")
    with pytest.raises(ParameterError, match="'epochs' parameter of SearchConfig"):
        SearchConfig(epochs=0)
    with pytest.raises(ParameterError, match="'alpha_lr' parameter of SearchConfig"):
        SearchConfig(alpha_lr=-1.0)
    with pytest.raises(ParameterError, match="'warmup_epochs' parameter of SearchConfig"):
        SearchConfig(epochs=5, warmup_epochs=5)
    with pytest.raises(ParameterError, match="'max_skips' parameter of SearchConfig"):
        SearchConfig(max_skips=-1)
    with pytest.raises(ParameterError, match="'train' parameter of DartsSearch.fit"):
        DartsSearch().fit("data", _blobs())


# --- the collapse and its guard ----------------------------------------------------------------

def test_skip_counts_and_the_collapse_epoch():
    h = np.full((3, num_edges(4), 8), 1 / 8)
    skip = PRIMITIVES.index("skip_connect")
    h[1, :4, skip] = 0.5   # skips win the 2 edges of node 0 and 2 of the 3 edges of node 1
    h[2, :, skip] = 0.5    # skips win everywhere
    counts = diagnostics.skip_counts(h)
    assert counts.tolist() == [0, 4, 8]
    assert diagnostics.collapse_epoch(counts, max_skips=2) == 1
    assert diagnostics.collapse_epoch(counts, max_skips=8) is None
    assert diagnostics.op_weight(h, "skip_connect")[2] == pytest.approx(0.5)
    assert diagnostics.dominant_ops(h)[2, skip] == num_edges(4)


def test_cap_keeps_at_most_max_skips():
    a = np.zeros((num_edges(4), 8))
    a[:, PRIMITIVES.index("skip_connect")] = 3.0
    a[:, PRIMITIVES.index("sep_conv_5")] = 1.0
    assert derive(a).count("skip_connect") == 8
    capped = derive(a, max_skips=2)
    assert capped.count("skip_connect") == 2 and capped.count("sep_conv_5") == 6
    a[:, PRIMITIVES.index("max_pool_3")] = 2.5  # pooling next best: a skip-only cap swaps skips for pools
    assert derive(a, max_skips=2).count("max_pool_3") == 6
    free = derive(a, max_skips=2, capped=PARAMETER_FREE)
    assert sum(free.count(op) for op in PARAMETER_FREE) == 2 and free.count("sep_conv_5") == 6
    with pytest.raises(ParameterError, match="'capped' parameter of derive"):
        derive(a, max_skips=2, capped=["none"])


def test_guard_keeps_the_cell_within_the_cap():
    train, val = _blobs(seed=0), _blobs(seed=1)
    ops = ["none", "skip_connect", "sep_conv_3"]
    s = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2, primitives=ops),
                    SearchConfig(epochs=3, warmup_epochs=0, batch_size=32, max_skips=0, seed=1))
    s.fit(train, val)
    assert s.genotype_.count("skip_connect") == 0
    if s.stopped_epoch_ is None:
        assert max(s.history_["skips"]) == 0
    else:
        assert len(s.history_["skips"]) == s.stopped_epoch_ + 1 and s.history_["skips"][-1] > 0


def test_diagnostics_refuse_bad_input():
    with pytest.raises(ParameterError, match="'alpha_history' parameter of skip_counts"):
        diagnostics.skip_counts(np.zeros((14, 8)))
    with pytest.raises(ParameterError, match="'op' parameter of op_weight"):
        diagnostics.op_weight(np.zeros((1, 14, 8)), "conv_7")
    with pytest.raises(ParameterError, match="'max_skips' parameter of collapse_epoch"):
        diagnostics.collapse_epoch([1, 2], max_skips=-1)


# --- perturbation-based selection (DARTS-PT) ---------------------------------------------------

def test_perturbation_selection_scores_an_edge_by_what_its_removal_costs():
    from labkit.nas.darts.perturb import PerturbationSelection, _evaluate
    torch.manual_seed(0)
    net = SearchNetwork(3, NetworkConfig(channels=3, cells=1, nodes=2))
    with torch.no_grad():
        net.alphas.normal_(0, 1.0)
    x, y = _blobs(n=64, seed=2)
    x = x.repeat(1, 3)[:, :40]  # (64, 40) signals whose level says the class
    pt = PerturbationSelection(seed=3).fit(net, (x, y))
    first = np.random.default_rng(3).permutation(num_edges(2))[0]  # the first edge decided
    weights = F.softmax(net.alphas.detach(), dim=-1)
    base = _evaluate(net, x, y, weights)[0]
    for o in range(1, len(PRIMITIVES)):  # oracle: mask the operation by hand, measure the supernet
        masked = weights.clone()
        masked[first, o] = 0.0
        assert pt.op_drop_[first, o] == pytest.approx(base - _evaluate(net, x, y, masked)[0])
    assert np.isnan(pt.op_drop_[:, 0]).all()  # 'none' is never a candidate
    for j, node in enumerate(pt.genotype_.nodes):
        inputs = [i for _, i in node]
        assert len(set(inputs)) == 2 and all(0 <= i < j + 2 for i in inputs)
        assert all(op != "none" for op, _ in node)


def test_perturbation_selection_leaves_the_supernet_alone_and_can_fine_tune():
    from labkit.nas.darts.perturb import PerturbationSelection
    torch.manual_seed(0)
    net = SearchNetwork(3, NetworkConfig(channels=2, cells=1, nodes=2))
    before = [p.detach().clone() for p in net.parameters()]
    x, y = _blobs(n=32, seed=0)
    x = x.repeat(1, 3)[:, :40]
    pt = PerturbationSelection(tune_steps=2, batch_size=8).fit(net, (x, y), (x, y))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert 0.0 <= pt.supernet_acc_ <= 1.0 and pt.edge_drop_.shape == (num_edges(2),)


def test_search_with_perturbation_selection_keeps_both_cells():
    train, val = _blobs(seed=0), _blobs(seed=1)
    train, val = (train[0].repeat(1, 3)[:, :40], train[1]), (val[0].repeat(1, 3)[:, :40], val[1])
    s = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2),
                    SearchConfig(epochs=1, warmup_epochs=0, batch_size=32, selection="perturbation",
                                 pt_samples=32))
    s.fit(train, val)
    assert isinstance(s.argmax_genotype_, Genotype) and s.genotype_ == s.selector_.genotype_


def test_perturbation_selection_refuses_bad_input():
    from labkit.nas.darts.perturb import PerturbationSelection
    net = SearchNetwork(3, NetworkConfig(channels=2, cells=1, nodes=2))
    xy = (torch.randn(8, 40), torch.randint(0, 3, (8,)))
    with pytest.raises(ParameterError, match="'net' parameter of PerturbationSelection"):
        PerturbationSelection().fit("supernet", xy)
    with pytest.raises(ParameterError, match="'k' parameter of PerturbationSelection"):
        PerturbationSelection(k=3).fit(net, xy)
    with pytest.raises(ParameterError, match="'train' parameter of PerturbationSelection"):
        PerturbationSelection(tune_steps=1).fit(net, xy)
    with pytest.raises(ParameterError, match="'val' parameter of PerturbationSelection.fit"):
        PerturbationSelection().fit(net, "data")
    with pytest.raises(ParameterError, match="'selection' parameter of SearchConfig must be one of"):
        SearchConfig(selection="magnitude")
    with pytest.raises(ParameterError, match="'pt_samples' parameter of SearchConfig"):
        SearchConfig(pt_samples=0)
