"""The DARTS operation set, adapted to 1-D signals (MNIST-1D sequences of length 40).

Every edge of a DARTS cell chooses one operation from a fixed list. Liu et al. (2019, "DARTS:
Differentiable Architecture Search", ICLR) use eight on CIFAR-10 images; here each 3x3 / 5x5 becomes a
1-D kernel of 3 / 5 taps, and every operation keeps the shape (batch, C, L) -> (batch, C, L):

    none          o(x) = 0                       (lets the search say "no edge here")
    skip_connect  o(x) = x                       (identity: the operation behind the known collapse)
    max_pool_3    max over 3 neighbours, then BatchNorm
    avg_pool_3    mean over 3 neighbours, then BatchNorm
    sep_conv_3/5  (ReLU, depthwise conv k, pointwise conv, BN) twice
    dil_conv_3/5  ReLU, depthwise conv k with dilation 2, pointwise conv, BN

Following the paper's search code, BatchNorm inside the search has no affine parameters
(``affine=False``), so an operation cannot hide its weight in a BN scale; the derived network, trained
from scratch, uses affine BN. Used by :mod:`labkit.nas.darts.cell` and notebook 07.

To add an operation, add one entry to :data:`OPS` (a function ``(channels, affine) -> nn.Module``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from labkit.errors import fail

PRIMITIVES: tuple[str, ...] = (
    "none", "max_pool_3", "avg_pool_3", "skip_connect",
    "sep_conv_3", "sep_conv_5", "dil_conv_3", "dil_conv_5",
)
"""The paper's eight operations, in the paper's order, 1-D."""


class Zero(nn.Module):
    """``none``: multiplies by zero, so the edge contributes nothing but keeps its shape."""

    def forward(self, x):
        return x.mul(0.0)


class SepConv(nn.Sequential):
    """Depthwise-separable convolution applied twice (the paper's ``sep_conv``)."""

    def __init__(self, channels: int, kernel_size: int, affine: bool = True):
        pad = kernel_size // 2
        layers = []
        for _ in range(2):
            layers += [nn.ReLU(),
                       nn.Conv1d(channels, channels, kernel_size, padding=pad, groups=channels, bias=False),
                       nn.Conv1d(channels, channels, 1, bias=False),
                       nn.BatchNorm1d(channels, affine=affine)]
        super().__init__(*layers)


class DilConv(nn.Sequential):
    """Dilated depthwise-separable convolution (the paper's ``dil_conv``, dilation 2)."""

    def __init__(self, channels: int, kernel_size: int, affine: bool = True, dilation: int = 2):
        pad = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation,
                      groups=channels, bias=False),
            nn.Conv1d(channels, channels, 1, bias=False),
            nn.BatchNorm1d(channels, affine=affine),
        )


def _pool(kind: str) -> Callable[[int, bool], nn.Module]:
    def build(channels: int, affine: bool) -> nn.Module:
        pool = (nn.MaxPool1d(3, stride=1, padding=1) if kind == "max"
                else nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False))
        return nn.Sequential(pool, nn.BatchNorm1d(channels, affine=False))
    return build


OPS: dict[str, Callable[[int, bool], nn.Module]] = {
    "none": lambda c, affine: Zero(),
    "max_pool_3": _pool("max"),
    "avg_pool_3": _pool("avg"),
    "skip_connect": lambda c, affine: nn.Identity(),
    "sep_conv_3": lambda c, affine: SepConv(c, 3, affine),
    "sep_conv_5": lambda c, affine: SepConv(c, 5, affine),
    "dil_conv_3": lambda c, affine: DilConv(c, 3, affine),
    "dil_conv_5": lambda c, affine: DilConv(c, 5, affine),
}
"""Name -> builder ``(channels, affine) -> module``; every module maps (batch, C, L) to (batch, C, L)."""


def check_primitives(primitives: Sequence[str], owner: str) -> tuple[str, ...]:
    """Validate an operation list: known names, no repeats, at least one operation besides ``none``.

    >>> check_primitives(["none", "skip_connect"], "SearchNetwork")
    ('none', 'skip_connect')
    """
    accepts = f"a list of distinct names from {sorted(OPS)} with at least one besides 'none'"
    if isinstance(primitives, str) or not isinstance(primitives, Sequence):
        raise fail("primitives", owner, accepts, primitives)
    names = tuple(primitives)
    unknown = [p for p in names if p not in OPS]
    if unknown or len(set(names)) != len(names) or not [p for p in names if p != "none"]:
        raise fail("primitives", owner, accepts, list(primitives))
    return names


def make_op(name: str, channels: int, affine: bool = True) -> nn.Module:
    """Build one operation by name.

    >>> import torch
    >>> make_op("sep_conv_3", 4)(torch.randn(2, 4, 40)).shape
    torch.Size([2, 4, 40])
    """
    if name not in OPS:
        raise fail("name", "make_op", f"one of {', '.join(repr(k) for k in OPS)}", name)
    return OPS[name](channels, affine)
