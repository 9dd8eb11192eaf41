"""The continuous relaxation of DARTS: mixed operations, the search cell and the search network.

A cell is a small directed acyclic graph. Its two inputs are the outputs of the two previous cells;
each intermediate node j sums what its incoming edges bring from every earlier state:

    x_j = sum_{i < j} o^(i,j)(x_i)

DARTS (Liu, Simonyan, Yang 2019, ICLR, eq. 2) relaxes the discrete choice of o^(i,j) into a
softmax-weighted mixture over all candidate operations, with architecture weights alpha^(i,j):

    o_bar^(i,j)(x) = sum_o  exp(alpha_o^(i,j)) / sum_o' exp(alpha_o'^(i,j)) * o(x)

The cell's output is the concatenation of its intermediate nodes along channels. With 4 nodes there are
2 + 3 + 4 + 5 = 14 edges, each with one row of alpha (the paper's cell). Cells are stacked into a
:class:`SearchNetwork`; all cells share the same alpha, so the search finds one cell.

Adaptation to a CPU and MNIST-1D (stated, not hidden): the paper stacks 8 cells of 16 channels with
reduction cells at 1/3 and 2/3 depth and searches a second alpha for them; sequences of 40 samples are
short, so here every cell keeps the length (no reduction cells, one alpha) and the defaults are
2 cells of 8 channels. Used by :mod:`labkit.nas.darts.search` and notebook 07.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from labkit.errors import check_int
from labkit.nas.darts.ops import PRIMITIVES, check_primitives, make_op


@dataclass
class NetworkConfig:
    """Shape of the search network (and of the derived one, unless overridden)."""

    channels: int = 8        # C per node (paper: 16 in search, 36 in evaluation)
    cells: int = 2           # stacked cells (paper: 8 in search, 20 in evaluation)
    nodes: int = 4           # intermediate nodes per cell (paper: 4 -> 14 edges)
    stem_multiplier: int = 3  # stem outputs stem_multiplier * C channels (paper: 3)
    primitives: Sequence[str] = field(default_factory=lambda: PRIMITIVES)

    def __post_init__(self):
        check_int(self.channels, "channels", "NetworkConfig", low=1)
        check_int(self.cells, "cells", "NetworkConfig", low=1)
        check_int(self.nodes, "nodes", "NetworkConfig", low=1)
        check_int(self.stem_multiplier, "stem_multiplier", "NetworkConfig", low=1)
        self.primitives = check_primitives(self.primitives, "NetworkConfig")


def num_edges(nodes: int) -> int:
    """Edges of a cell with two inputs and ``nodes`` intermediate nodes: 2 + 3 + ... + (nodes + 1).

    >>> num_edges(4)
    14
    """
    return sum(j + 2 for j in range(nodes))


def mixed_op(x: torch.Tensor, weights: torch.Tensor, ops: Sequence[nn.Module]) -> torch.Tensor:
    """The mixed operation: ``sum_o weights[o] * ops[o](x)`` (eq. 2, weights = softmax(alpha)).

    >>> import torch
    >>> from torch import nn
    >>> mixed_op(torch.ones(1, 1, 3), torch.tensor([0.25, 0.75]), [nn.Identity(), nn.Identity()]).sum()
    tensor(3.)
    """
    return sum(w * op(x) for w, op in zip(weights, ops))


class MixedOp(nn.Module):
    """One edge of the search cell: every candidate operation, mixed by softmax(alpha)."""

    def __init__(self, channels: int, primitives: Sequence[str]):
        super().__init__()
        self.ops = nn.ModuleList(make_op(p, channels, affine=False) for p in primitives)

    def forward(self, x, weights):  # x: (batch, C, L), weights: (ops,)
        return mixed_op(x, weights, self.ops)


class ReLUConvBN(nn.Sequential):
    """1x1 preprocessing that brings a cell input to C channels."""

    def __init__(self, c_in: int, c_out: int, affine: bool):
        super().__init__(nn.ReLU(), nn.Conv1d(c_in, c_out, 1, bias=False),
                         nn.BatchNorm1d(c_out, affine=affine))


class SearchCell(nn.Module):
    """Two inputs, ``nodes`` intermediate nodes, every edge a :class:`MixedOp`; output = concat."""

    def __init__(self, c_prev_prev: int, c_prev: int, channels: int, nodes: int,
                 primitives: Sequence[str]):
        super().__init__()
        self.nodes = nodes
        self.pre0 = ReLUConvBN(c_prev_prev, channels, affine=False)
        self.pre1 = ReLUConvBN(c_prev, channels, affine=False)
        self.edges = nn.ModuleList(MixedOp(channels, primitives) for _ in range(num_edges(nodes)))

    def forward(self, s0, s1, weights):  # weights: (edges, ops) = softmax(alpha) row by row
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for _ in range(self.nodes):
            # x_j = sum_{i<j} o_bar^(i,j)(x_i): the edges of node j are the next len(states) rows
            node = sum(self.edges[offset + i](h, weights[offset + i]) for i, h in enumerate(states))
            offset += len(states)
            states.append(node)
        return torch.cat(states[2:], dim=1)  # (batch, nodes * C, L)


class SearchNetwork(nn.Module):
    """Stem, stacked search cells sharing one alpha, global average pooling and a linear classifier.

    ``alphas`` (edges, ops) is the architecture; every other parameter is a weight w
    (:meth:`weights`). The bilevel search updates them with different optimisers on different data.

    >>> net = SearchNetwork(num_classes=10, config=NetworkConfig(channels=4, cells=1, nodes=2))
    >>> net(torch.randn(3, 40)).shape, tuple(net.alphas.shape)
    (torch.Size([3, 10]), (5, 8))
    """

    def __init__(self, num_classes: int, config: NetworkConfig | None = None, in_channels: int = 1):
        super().__init__()
        self.config = config = config or NetworkConfig()
        self.num_classes = check_int(num_classes, "num_classes", "SearchNetwork", low=2)
        self.primitives = tuple(config.primitives)
        c = config.channels
        c_stem = config.stem_multiplier * c
        self.stem = nn.Sequential(nn.Conv1d(in_channels, c_stem, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(c_stem))
        cells, c_pp, c_p = [], c_stem, c_stem
        for _ in range(config.cells):
            cells.append(SearchCell(c_pp, c_p, c, config.nodes, self.primitives))
            c_pp, c_p = c_p, config.nodes * c
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, num_classes)
        # paper: alpha initialised to 1e-3 * N(0, 1), so the first mixture is almost uniform
        self.alphas = nn.Parameter(1e-3 * torch.randn(num_edges(config.nodes), len(self.primitives)))

    def weights(self):
        """The network weights w: every parameter except ``alphas``."""
        return [p for name, p in self.named_parameters() if name != "alphas"]

    def named_weights(self):
        """``(name, parameter)`` for every weight, as ``torch.func.functional_call`` wants them."""
        return [(name, p) for name, p in self.named_parameters() if name != "alphas"]

    def forward(self, x, weights=None):  # x: (batch, L) or (batch, in_channels, L)
        """``weights`` (edges, ops) replaces softmax(alpha), e.g. with an operation masked out
        (perturbation-based selection, :mod:`labkit.nas.darts.perturb`)."""
        if x.dim() == 2:
            x = x.unsqueeze(1)  # (batch, 1, L)
        if weights is None:
            weights = F.softmax(self.alphas, dim=-1)  # (edges, ops)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights)
        return self.classifier(s1.mean(dim=-1))  # global average over L -> (batch, classes)
