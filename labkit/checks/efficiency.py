"""Checks for notebook 00 (efficiency metrics): counting MACs and parameters by hand."""
from __future__ import annotations

from torch import nn

from .. import metrics
from . import call, expect, expect_equal, passed

# (in_channels, out_channels, kernel_size, length_in, stride, padding, groups)
_CONV_CASES = [(1, 8, 5, 40, 1, 2, 1), (8, 16, 3, 20, 2, 1, 1), (16, 16, 3, 10, 1, 1, 16), (6, 12, 5, 33, 2, 0, 3)]


def check_conv1d_macs(conv1d_macs) -> None:
    """``conv1d_macs(c_in, c_out, k, length_in, stride, padding, groups)`` against the measured count."""
    for c_in, c_out, k, length, stride, padding, groups in _CONV_CASES:
        layer = nn.Conv1d(c_in, c_out, k, stride=stride, padding=padding, groups=groups)
        expected = metrics.count_macs(layer, (c_in, length))
        got = call(conv1d_macs, c_in, c_out, k, length, stride, padding, groups, what="conv1d_macs")
        expect_equal(got, expected, f"the MACs of Conv1d({c_in}, {c_out}, kernel_size={k}, stride={stride}, "
                     f"padding={padding}, groups={groups}) on a length-{length} input",
                     "MACs = output length x out_channels x (in_channels / groups) x kernel_size, with "
                     "output length = (length + 2*padding - kernel_size) // stride + 1")
    passed(f"conv1d_macs matches labkit.metrics on {len(_CONV_CASES)} layers, depthwise and grouped included")


def check_param_counter(count_parameters) -> None:
    """``count_parameters(model)`` against ``sum(p.numel())``, with a shared layer counted once."""
    shared = nn.Linear(4, 4)
    cases = {"LeNet-300-100": nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                                             nn.ReLU(), nn.Linear(100, 10)),
             "a CNN with BatchNorm": nn.Sequential(nn.Conv1d(1, 8, 5), nn.BatchNorm1d(8), nn.Flatten(), nn.Linear(8 * 36, 10)),
             "a model that uses one layer twice": nn.Sequential(shared, nn.ReLU(), shared)}
    for name, model in cases.items():
        got = call(count_parameters, model, what="count_parameters")
        expected = metrics.count_params(model)
        expect_equal(got, expected, f"the number of parameters of {name}",
                     "add p.numel() over model.parameters(); it yields a shared tensor only once, "
                     "and BatchNorm's running statistics are buffers, not parameters")
    passed("count_parameters counts weights and biases, BatchNorm's scale and shift, and a shared layer once")


def check_separable_saving(ratio_fn) -> None:
    """``ratio_fn(c_in, c_out, k)``: MACs of a depthwise-separable conv over a standard one."""
    for c_in, c_out, k in [(32, 64, 3), (64, 64, 5), (16, 128, 3)]:
        std = metrics.count_macs(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), (c_in, 8, 8))
        sep = metrics.count_macs(nn.Sequential(nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in, bias=False),
                                               nn.Conv2d(c_in, c_out, 1, bias=False)), (c_in, 8, 8))
        got = float(call(ratio_fn, c_in, c_out, k, what="separable_ratio"))
        expect(abs(got - sep / std) < 1e-9, f"separable/standard MACs for c_in={c_in}, c_out={c_out}, k={k} "
               f"to be {sep / std:.4f}, got {got:.4f}", "the ratio is 1/c_out + 1/k**2")
    passed("separable_ratio = 1/c_out + 1/k^2")
