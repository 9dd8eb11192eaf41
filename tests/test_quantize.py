"""Claims of the quantization slide: the affine grid, calibration, the straight-through estimator."""
import pytest
import torch
from torch import nn

from labkit.errors import ParameterError
from labkit.quantize import (QuantConfig, compute_params, dequantize, fake_quantize, fold_batchnorm, grid,
                             integer_range, observe_params, prepare_qat, quantize, quantize_dequantize,
                             quantize_model)
from labkit.quantize.calibrate import MSEObserver, PercentileObserver, calibrate, mse_optimal_range

ALL = [(bits, scheme, gran) for bits in (2, 3, 4, 8) for scheme in ("symmetric", "asymmetric")
       for gran in ("per_tensor", "per_channel")]


@pytest.mark.parametrize("bits,scheme,granularity", ALL)
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(bits, scheme, granularity):
    x = torch.randn(16, 50, generator=torch.Generator().manual_seed(bits)) * torch.linspace(0.1, 3, 16)[:, None]
    config = QuantConfig(bits, scheme, granularity)
    params = observe_params(x, config)
    err = (x - dequantize(quantize(x, params), params)).abs()
    scale, _ = params.reshape_for(x)
    assert (err <= scale / 2 + 1e-6).all()
    q = quantize(x, params)
    assert q.min() >= params.q_min and q.max() <= params.q_max


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
def test_levels_count_and_zero_is_exact(bits):
    lo, hi = integer_range(bits, "asymmetric")
    assert hi - lo + 1 == 2 ** bits
    if bits >= 2:
        lo, hi = integer_range(bits, "symmetric")
        assert hi - lo + 1 == 2 ** bits - 1          # restricted range: -127..127 for int8
    params = compute_params(torch.tensor(-0.37), torch.tensor(1.91), bits, "asymmetric")
    assert dequantize(quantize(torch.zeros(3), params), params).eq(0).all()  # zero padding stays exact


def test_outside_the_range_values_clip_to_the_ends():
    params = compute_params(-1.0, 1.0, 8)
    assert quantize(torch.tensor([5.0, -5.0]), params).tolist() == [127, -127]


def test_per_channel_is_never_worse_than_per_tensor():
    w = torch.randn(8, 32, generator=torch.Generator().manual_seed(0)) * torch.logspace(-2, 0, 8)[:, None]
    err = {g: ((w - quantize_dequantize(w, QuantConfig(4, granularity=g))) ** 2).sum(1) for g in
           ("per_tensor", "per_channel")}
    assert (err["per_channel"] <= err["per_tensor"] + 1e-9).all()
    assert err["per_channel"].sum() < err["per_tensor"].sum() / 3   # small channels gain the most


def test_matches_torch_fake_quantize_oracle():
    x = torch.randn(4, 20, generator=torch.Generator().manual_seed(1))
    for config in (QuantConfig(8, "asymmetric", "per_tensor"), QuantConfig(4, "symmetric", "per_channel")):
        p = observe_params(x, config)
        if p.axis is None:
            ref = torch.fake_quantize_per_tensor_affine(x, p.scale.item(), int(p.zero_point), p.q_min, p.q_max)
        else:
            ref = torch.fake_quantize_per_channel_affine(x, p.scale, p.zero_point.int(), 0, p.q_min, p.q_max)
        assert torch.allclose(quantize_dequantize(x, config, p), ref, atol=1e-6)


def test_grid_has_two_to_the_bits_levels():
    assert grid(compute_params(-1.0, 3.0, 3, "asymmetric")).numel() == 8


def test_ste_gradient_is_one_inside_and_zero_outside_the_clipping_range():
    params = compute_params(-1.0, 2.0, 4, "asymmetric")
    lo, hi = params.scale * (params.q_min - params.zero_point), params.scale * (params.q_max - params.zero_point)
    x = torch.tensor([lo.item() - 0.5, lo.item() + 0.01, 0.0, 0.7, hi.item() - 0.01, hi.item() + 0.3],
                     requires_grad=True)
    fake_quantize(x, params).backward(torch.ones(6))
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_ste_matches_torch_fake_quantize_gradient():
    x = (torch.randn(50, generator=torch.Generator().manual_seed(2)) * 2).requires_grad_()
    params = compute_params(-1.0, 1.5, 8, "asymmetric")
    fake_quantize(x, params).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    torch.fake_quantize_per_tensor_affine(x2, params.scale.item(), int(params.zero_point), 0, 255).sum().backward()
    assert torch.equal(x.grad, x2.grad)


def test_calibration_methods_order_their_ranges():
    x = torch.cat([torch.randn(20_000, generator=torch.Generator().manual_seed(3)), torch.tensor([30.0])])
    net = nn.Sequential(nn.Identity(), nn.Linear(1, 1))
    ranges = {m: calibrate(net, x[:, None], method=m, bits=4)["1"] for m in ("minmax", "percentile", "mse")}
    assert ranges["minmax"][1] == 30.0
    assert ranges["percentile"][1] < 5 and ranges["mse"][1] < 15   # the outlier is clipped away


def test_mse_optimal_range_beats_min_max_on_heavy_tails():
    torch.manual_seed(0)
    x = torch.distributions.StudentT(2.0).sample((5_000,))
    lo, hi = mse_optimal_range(x, bits=4, scheme="symmetric")
    clipped = compute_params(lo, hi, 4, "symmetric")
    full = compute_params(x.min(), x.max(), 4, "symmetric")
    err = lambda p: ((x - dequantize(quantize(x, p), p)) ** 2).mean()  # noqa: E731
    assert err(clipped) < err(full)


def test_fold_batchnorm_keeps_outputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Unflatten(1, (1, 12)), nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(40, 3))
    net[2].running_mean.uniform_(-1, 1); net[2].running_var.uniform_(0.5, 2)
    net.eval()
    x = torch.randn(5, 12)
    assert torch.allclose(fold_batchnorm(net)(x), net(x), atol=1e-5)


def test_int8_simulated_model_stays_close_and_low_bits_drift_more():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 5))
    X = torch.randn(256, 10)
    err = {}
    for bits in (8, 4, 2):
        q = quantize_model(net, QuantConfig(bits), bits if bits > 2 else 4, X)
        err[bits] = (q(X) - net(X)).abs().mean().item()
    assert err[8] < 0.01 < err[4] < err[2]


def test_qat_trains_with_the_straight_through_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    qat = prepare_qat(net, QuantConfig(4), 8, torch.randn(64, 4))
    qat(torch.randn(8, 4)).sum().backward()
    assert qat[0].layer.weight.grad is not None and qat[0].layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("bits", [0, 17, 2.5, True])
def test_bits_outside_1_to_16_are_refused(bits):
    with pytest.raises(ParameterError, match="'bits' parameter of QuantConfig must be an int in \\[1, 16\\]"):
        QuantConfig(bits=bits)


def test_one_symmetric_bit_is_refused():
    with pytest.raises(ParameterError, match="'bits' parameter of integer_range must be an int in \\[2, 16\\]"):
        integer_range(1, "symmetric")


def test_unknown_scheme_and_granularity_are_refused():
    with pytest.raises(ParameterError, match="'scheme' parameter of QuantConfig must be one of 'symmetric'"):
        QuantConfig(scheme="log")
    with pytest.raises(ParameterError, match="'granularity' parameter of QuantConfig must be one of"):
        QuantConfig(granularity="per_row")


def test_empty_calibration_set_is_refused():
    net = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ParameterError, match="'X' parameter of calibrate must be a non-empty tensor"):
        calibrate(net, torch.empty(0, 3))
    with pytest.raises(ParameterError, match="'method' parameter of calibrate must be one of 'minmax'"):
        calibrate(net, torch.randn(4, 3), method="kl")
    with pytest.raises(ParameterError, match="'calibration data' parameter of MSEObserver"):
        MSEObserver().range()
    with pytest.raises(ParameterError, match="'percentile' parameter of PercentileObserver"):
        PercentileObserver(percentile=120)
    with pytest.raises(ParameterError, match="'calibration_X' parameter of quantize_model"):
        quantize_model(net, QuantConfig(8), 8, None)


def test_activation_bits_and_sharing_bits_are_checked():
    from labkit.quantize.kmeans import kmeans_1d, share_weights

    net = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ParameterError, match="'bits' parameter of quantize_model must be an int in \\[1, 16\\]"):
        quantize_model(net, QuantConfig(8), 0, torch.randn(4, 3))
    with pytest.raises(ParameterError, match="'bits' parameter of share_weights must be an int in \\[1, 16\\]"):
        share_weights(net, bits=20)
    with pytest.raises(ParameterError, match="'init' parameter of kmeans_1d must be one of 'linear'"):
        kmeans_1d(torch.randn(10), 2, init="kmeans++")
