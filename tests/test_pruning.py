"""Claims of the pruning slides, as tests: masks against torch.nn.utils.prune, the fraction
convention, the criteria's formulas, physical removal equal to masking, schedules, regrowth."""
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune

from labkit import models
from labkit.errors import ParameterError
from labkit.pruning import (Regrowth, RegrowthConfig, GradualConfig, GradualPruner, all_channels, apply_masks,
                            channel_masks, compute_saliency_scores, criterion, cubic_sparsity,
                            fraction_per_round, full_masks, keep_masks, magnitude_masks, masks_from_model,
                            prunable_weights, prune_and_finetune, prune_channels, remove_channels,
                            select_channels, select_min_k, sensitivity_scan, shares_from_sensitivity, sparsity,
                            sparsity_after)
from labkit.pruning.saliency import CRITERIA, hessian_diagonal

torch.set_num_threads(1)


def small_mlp(seed=0, **kw):
    torch.manual_seed(seed)
    return models.mlp((12,), hidden=(16, 8), num_classes=3, **kw)


def batch(n=32, d=12, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


def magnitude_scores(model, masks):
    return compute_saliency_scores(model, masks, "magnitude")


# --- oracle: torch.nn.utils.prune ----------------------------------------------------------------

@pytest.mark.parametrize("amount", [0.3, 0.5, 0.9])
def test_layer_scope_equals_l1_unstructured_over_two_rounds(amount):
    ours, theirs = small_mlp(), small_mlp()
    masks = full_masks(ours)
    for _ in range(2):  # the second round prunes a share of what is left, in both
        masks = select_min_k(magnitude_scores(ours, masks), masks, amount, "layer")
        apply_masks(ours, masks)
        for name, module in theirs.named_children():
            if isinstance(module, nn.Linear):
                prune.l1_unstructured(module, "weight", amount=amount)
    for name, module in theirs.named_children():
        if isinstance(module, nn.Linear):
            assert torch.equal(masks[f"{name}.weight"], module.weight_mask.bool())


@pytest.mark.parametrize("amount", [0.2, 0.6])
def test_global_scope_equals_global_unstructured_over_two_rounds(amount):
    ours, theirs = small_mlp(), small_mlp()
    masks = full_masks(ours)
    params = [(m, "weight") for m in theirs if isinstance(m, nn.Linear)]
    for _ in range(2):
        masks = select_min_k(magnitude_scores(ours, masks), masks, amount, "global")
        apply_masks(ours, masks)
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for name, module in theirs.named_children():
        if isinstance(module, nn.Linear):
            assert torch.equal(masks[f"{name}.weight"], module.weight_mask.bool())


def test_training_with_keep_masks_follows_torch_prune_trajectory():
    ours, theirs = small_mlp(), small_mlp()
    masks = magnitude_masks(ours, 0.7)
    apply_masks(ours, masks)
    for name, module in theirs.named_children():
        if f"{name}.weight" in masks:
            prune.custom_from_mask(module, "weight", masks[f"{name}.weight"].float())
    opt_a, opt_b = torch.optim.Adam(ours.parameters(), 1e-2), torch.optim.Adam(theirs.parameters(), 1e-2)
    keep = keep_masks(masks)
    for step in range(5):
        x, y = batch(seed=step)
        for net, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        keep(ours)
    for name, module in theirs.named_children():
        if f"{name}.weight" in masks:
            effective = module.weight_orig * module.weight_mask   # .weight is only refreshed by a forward
            assert torch.allclose(dict(ours.named_parameters())[f"{name}.weight"], effective, atol=1e-6)
    assert sparsity(masks_from_model(ours)) == pytest.approx(sparsity(masks))


# --- the fraction convention ----------------------------------------------------------------------

def test_n_rounds_of_p_remove_one_minus_one_minus_p_to_the_n():
    net = nn.Linear(100, 100)
    masks = full_masks(net)
    for _ in range(5):
        masks = select_min_k(magnitude_scores(net, masks), masks, 0.2, "layer")
    assert sparsity(masks) == pytest.approx(sparsity_after(0.2, 5), abs=1e-3)  # 1 - 0.8^5 = 0.672
    assert sparsity_after(fraction_per_round(0.9, 7), 7) == pytest.approx(0.9)


def test_algorithm1_records_compounding_sparsity_and_keeps_masks_through_fine_tuning():
    net = small_mlp()
    x, y = batch()

    def fine_tune(model, after_step):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            after_step(model)

    result = prune_and_finetune(net, rounds=3, fraction=0.5, fine_tune=fine_tune, evaluate=lambda m: 0.5)
    assert [round(h["sparsity"], 3) for h in result.history] == pytest.approx([0.5, 0.75, 0.875], abs=2e-3)
    assert sparsity(masks_from_model(net)) == pytest.approx(sparsity(result.masks))


def test_fine_tune_that_forgets_the_masks_is_an_error():
    net = small_mlp()
    x, y = batch()

    def careless(model, after_step):   # never calls after_step
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    with pytest.raises(ParameterError, match="'fine_tune' parameter must keep the masks"):
        prune_and_finetune(net, rounds=1, fraction=0.5, fine_tune=careless)


# --- criteria ---------------------------------------------------------------------------------------

def test_taylor_on_one_batch_is_abs_weight_times_gradient():
    net = small_mlp()
    x, y = batch()
    masks = full_masks(net)
    scores = compute_saliency_scores(net, masks, "taylor", batches=[(x, y)])
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    expected = (net[1].weight * net[1].weight.grad).abs().detach()
    assert torch.allclose(scores["1.weight"], expected)
    assert torch.allclose(compute_saliency_scores(net, masks, "snip", batches=[(x, y)])["1.weight"], expected)


def test_obd_hessian_diagonal_matches_exact_hessian():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = batch(16, 3, 2)
    ce = lambda m, a, b: F.cross_entropy(m(a), b)
    estimate = hessian_diagonal(net, {"0.weight": None}, [(x, y)], ce, samples=1200)["0.weight"]
    w0 = net[0].weight.detach().clone()

    def loss_of(w):
        return F.cross_entropy(net[2](torch.tanh(F.linear(x, w, net[0].bias))), y)

    exact = torch.autograd.functional.hessian(loss_of, w0).reshape(w0.numel(), w0.numel()).diagonal()
    assert torch.allclose(estimate.reshape(-1), exact, atol=0.1 * exact.abs().max().item())
    obd = compute_saliency_scores(net, full_masks(net), "obd", batches=[(x, y)], hutchinson_samples=4, seed=7)
    h = hessian_diagonal(net, full_masks(net), [(x, y)], ce, samples=4, seed=7)
    assert torch.allclose(obd["2.weight"], 0.5 * h["2.weight"] * net[2].weight.detach() ** 2)   # 1/2 h w^2


def test_a_new_criterion_is_one_small_function():
    @criterion("negative_magnitude")
    def neg(w, stats):
        return -w.abs()

    try:
        net = nn.Linear(10, 1)
        masks = select_min_k(compute_saliency_scores(net, full_masks(net), "negative_magnitude"),
                             full_masks(net), 0.5, "layer")
        kept = net.weight.detach().abs()[masks["weight"]]
        assert kept.max() <= net.weight.detach().abs()[~masks["weight"]].min()  # the smallest survive
    finally:
        del CRITERIA["negative_magnitude"]


def test_random_criterion_is_repeatable_by_seed():
    net = nn.Linear(10, 10)
    a = compute_saliency_scores(net, full_masks(net), "random", seed=3)["weight"]
    b = compute_saliency_scores(net, full_masks(net), "random", seed=3)["weight"]
    assert torch.equal(a, b)


# --- structured: physically removed equals masked -------------------------------------------------

@pytest.mark.parametrize("build,shape", [
    (lambda: models.mlp((12,), hidden=(16, 8), num_classes=3, batchnorm=True), (12,)),
    (lambda: models.cnn1d((40,), channels=(8, 8, 8), num_classes=10), (40,)),
    (lambda: models.cnn2d((64,), channels=(6, 8), num_classes=10), (64,)),
])
def test_physically_pruned_model_gives_the_masked_models_outputs(build, shape):
    torch.manual_seed(0)
    net = build()
    for m in net.modules():                 # non-trivial BatchNorm statistics
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    net.eval()
    alive = select_channels({n: torch.rand(len(a)) for n, a in all_channels(net).items()},
                            all_channels(net), 0.5, "layer")
    small = remove_channels(net, alive)
    masked = apply_masks(copy.deepcopy(net), channel_masks(net, alive))
    x = torch.randn(5, *shape)
    assert torch.allclose(small.eval()(x), masked(x), atol=1e-5)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in net.parameters())


def test_prune_channels_halves_every_hidden_width():
    net = models.cnn1d((40,), channels=(8, 16, 16))
    small, alive = prune_channels(net, 0.5)
    widths = [m.out_channels for m in small if isinstance(m, nn.Conv1d)]
    assert widths == [4, 8, 8]
    small(torch.randn(2, 40))


def test_structural_pruning_refuses_layers_it_cannot_remove():
    sig = nn.Sequential(nn.Linear(4, 6), nn.Sigmoid(), nn.Linear(6, 2))
    with pytest.raises(ParameterError, match="cannot be pruned structurally: it feeds Sigmoid"):
        prune_channels(sig, 0.5)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    with pytest.raises(ParameterError, match="layer '2', which cannot be pruned structurally: it is the output layer"):
        remove_channels(net, {"2": torch.tensor([True, False])})
    grouped = nn.Sequential(nn.Conv1d(4, 4, 3, groups=2), nn.ReLU(), nn.Conv1d(4, 2, 3))
    with pytest.raises(ParameterError, match="grouped convolution"):
        prune_channels(grouped, 0.5)


# --- masks as plain state dicts ----------------------------------------------------------------------

def test_pruned_model_saves_and_loads_as_a_plain_state_dict(tmp_path):
    net = small_mlp()
    masks = magnitude_masks(net, 0.8, scope="layer")
    apply_masks(net, masks)
    torch.save(net.state_dict(), tmp_path / "pruned.pt")
    fresh = small_mlp(seed=1)
    fresh.load_state_dict(torch.load(tmp_path / "pruned.pt", weights_only=True))
    assert set(fresh.state_dict()) == set(small_mlp().state_dict())     # no weight_orig / weight_mask
    recovered = masks_from_model(fresh)
    assert all(torch.equal(recovered[n], masks[n]) for n in masks)
    torch.save(masks, tmp_path / "masks.pt")                            # the masks alone: a plain dict too
    assert torch.load(tmp_path / "masks.pt", weights_only=True).keys() == masks.keys()


def test_magnitude_masks_layer_scope_gives_each_layer_the_share():
    net = small_mlp()
    masks = magnitude_masks(net, 0.5, scope="layer")
    assert all(abs(1 - m.float().mean().item() - 0.5) < 0.02 for m in masks.values())


def test_weights_outside_linear_and_conv_are_named_in_a_warning():
    net = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 2))
    with pytest.warns(UserWarning, match=r"0\.weight"):
        prunable_weights(net)


# --- allocation, schedules, regrowth ---------------------------------------------------------------

def test_sensitivity_scan_restores_weights_and_shares_follow_tolerance():
    net = small_mlp()
    before = copy.deepcopy(net.state_dict())
    x, y = batch()
    acc = lambda m: (m(x).argmax(1) == y).float().mean().item()
    scan = sensitivity_scan(net, acc, sparsities=(0.2, 0.8))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    shares = shares_from_sensitivity(scan, max_drop=1.0)
    assert shares == {"1.weight": 0.8, "3.weight": 0.8, "5.weight": 0.8}


def test_cubic_schedule_hits_its_endpoints_and_gradual_pruner_reaches_the_target():
    assert cubic_sparsity(0, 0.8, events=4, every=5) == 0.0
    assert cubic_sparsity(20, 0.8, events=4, every=5) == pytest.approx(0.8)
    assert cubic_sparsity(10, 0.8, events=4, every=5) == pytest.approx(0.8 * (1 - 0.5 ** 3))
    net = small_mlp()
    pruner = GradualPruner(net, GradualConfig(final_sparsity=0.8, events=4, every=5))
    x, y = batch()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(25):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        pruner(net)
    assert sparsity(pruner.masks_) == pytest.approx(0.8, abs=0.01)
    assert [s for _, s in pruner.history_] == sorted(s for _, s in pruner.history_)


@pytest.mark.parametrize("method", ["rigl", "set"])
def test_regrowth_moves_weights_but_keeps_each_layers_count(method):
    net = small_mlp()
    masks = magnitude_masks(net, 0.7, scope="layer")
    apply_masks(net, masks)
    rg = Regrowth(masks, RegrowthConfig(method=method, every=2, end=20))
    x, y = batch()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(10):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        rg(net)
    assert {n: int(m.sum()) for n, m in rg.masks_.items()} == {n: int(m.sum()) for n, m in masks.items()}
    assert sum(k for _, k in rg.moved_) > 0
    assert any(not torch.equal(rg.masks_[n], masks[n]) for n in masks)


def test_rigl_grows_where_the_gradient_is_largest():
    w = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        w.weight.copy_(torch.tensor([[1.0, 0.1, 0.0, 0.0]]))
    w.weight.grad = torch.tensor([[0.0, 0.0, 0.2, 5.0]])
    rg = Regrowth({"weight": torch.tensor([[True, True, False, False]])},
                  RegrowthConfig(method="rigl", alpha=1.0, every=1, end=2))
    rg(w)   # drop f(1) = 0.5 of 2 alive = 1: the smallest |w| (0.1) goes, the largest |g| (5.0) comes
    assert rg.masks_["weight"].tolist() == [[True, False, False, True]]


# --- bad input -------------------------------------------------------------------------------------

def test_bad_input_is_answered_with_one_message_shape():
    net = small_mlp()
    masks = full_masks(net)
    with pytest.raises(ParameterError, match=r"'amount' parameter of select_min_k must be a float in \[0.0, 1.0\)"):
        select_min_k(magnitude_scores(net, masks), masks, 1.0)
    with pytest.raises(ParameterError, match=r"'sparsity' parameter of magnitude_masks .* Got -0.1"):
        magnitude_masks(net, -0.1)
    with pytest.raises(ParameterError, match="'criterion' parameter of compute_saliency_scores must be one of"):
        compute_saliency_scores(net, masks, "loudest")
    with pytest.raises(ParameterError, match="'batches' parameter of compute_saliency_scores"):
        compute_saliency_scores(net, masks, "taylor")
    with pytest.raises(ParameterError, match="'scope' parameter of select_min_k must be one of"):
        select_min_k(magnitude_scores(net, masks), masks, 0.5, "row")
    with pytest.raises(ParameterError, match="'masks' parameter of apply_masks"):
        apply_masks(net, {"nope.weight": torch.ones(2)})
    with pytest.raises(ParameterError, match="'fraction' parameter of prune_and_finetune"):
        prune_and_finetune(net, rounds=2, fraction=1.2)
    with pytest.raises(ParameterError, match="'rounds' parameter of prune_and_finetune"):
        prune_and_finetune(net, rounds=0, fraction=0.2)
    with pytest.raises(ParameterError, match="'exclude' parameter of prunable_weights"):
        prunable_weights(net, exclude=["5.wieght"])
    with pytest.raises(ParameterError, match="'method' parameter of Regrowth"):
        Regrowth(masks, RegrowthConfig(method="grow"))
    with pytest.raises(ParameterError, match="'method' parameter of Regrowth must be 'set' when no gradient"):
        Regrowth(magnitude_masks(net, 0.5), RegrowthConfig(every=1))(net)
    with pytest.raises(ParameterError, match="'final' parameter of cubic_sparsity"):
        cubic_sparsity(3, 1.0)


def test_algorithm1_channel_granularity_feeds_remove_channels():
    torch.manual_seed(0)
    net = models.mlp((12,), hidden=(16, 8), num_classes=3, batchnorm=True).eval()
    result = prune_and_finetune(net, rounds=2, fraction=0.5, granularity="channel", scope="layer")
    assert [int(a.sum()) for a in result.channels.values()] == [4, 2]
    small = remove_channels(net, result.channels)
    x = torch.randn(6, 12)
    assert torch.allclose(small.eval()(x), net(x), atol=1e-5)


def test_folding_batchnorm_keeps_the_outputs():
    from labkit.pruning import fold_batchnorm
    torch.manual_seed(0)
    net = models.cnn2d((64,), channels=(4, 8)).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(3, 64)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded)
    assert torch.allclose(folded(x), net(x), atol=1e-5)
