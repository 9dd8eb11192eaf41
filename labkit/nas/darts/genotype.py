"""Deriving the discrete cell from alpha, and the network built from it.

After the search, DARTS (Liu et al. 2019, section 2.4) turns the continuous cell back into a discrete
one:

    1: for every edge (i, j): strength(i, j) = max_{o != none} softmax(alpha^(i,j))_o
    2: for every node j: keep the k = 2 incoming edges of largest strength
    3: on each kept edge: o^(i,j) = argmax_{o != none} alpha_o^(i,j)

``none`` is excluded in 1 and 3 because it would otherwise win everywhere it is merely "unsure" and the
derived cell would have no edges. The result, a :class:`Genotype`, is trained from scratch as a
:class:`DerivedNetwork`. Random cells of the same space (:func:`random_genotype`) are the baseline that
Lindauer & Hutter (2020) ask every NAS method to beat. Used by notebook 07.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from labkit.errors import check_int, fail
from labkit.nas.darts.cell import NetworkConfig, ReLUConvBN, num_edges
from labkit.nas.darts.ops import PRIMITIVES, check_primitives, make_op


@dataclass(frozen=True)
class Genotype:
    """A discrete cell: per intermediate node the kept ``(operation, input state)`` pairs.

    States 0 and 1 are the cell's two inputs; state ``j + 2`` is intermediate node j.
    """

    nodes: tuple[tuple[tuple[str, int], ...], ...]

    def __str__(self):
        return " | ".join(f"n{j + 2}: " + ", ".join(f"{op}<-{i}" for op, i in node)
                          for j, node in enumerate(self.nodes))

    def count(self, op: str) -> int:
        """How many kept edges use ``op`` (``count('skip_connect')`` watches the collapse)."""
        return sum(name == op for node in self.nodes for name, _ in node)

    def to_list(self) -> list:
        """Plain lists for JSON caches."""
        return [[[op, i] for op, i in node] for node in self.nodes]

    @classmethod
    def from_list(cls, nodes) -> Genotype:
        """Inverse of :meth:`to_list`."""
        return cls(tuple(tuple((str(op), int(i)) for op, i in node) for node in nodes))


def _nodes_of(alphas, owner: str) -> int:
    edges = alphas.shape[0]
    nodes = 0
    while num_edges(nodes) < edges:
        nodes += 1
    if alphas.ndim != 2 or num_edges(nodes) != edges:
        raise fail("alphas", owner, "a 2-D array (edges, ops) with edges = 2 + 3 + ... + (nodes + 1)",
                   tuple(alphas.shape))
    return nodes


PARAMETER_FREE = ("skip_connect", "max_pool_3", "avg_pool_3")
"""Operations without weights: the ones a short or overfitted search favours."""


def derive(alphas, primitives: Sequence[str] = PRIMITIVES, k: int = 2,
           max_skips: int | None = None, capped: Sequence[str] = ("skip_connect",)) -> Genotype:
    """The discrete cell of ``alphas`` (edges, ops): top-k edges per node, argmax op per edge.

    ``max_skips`` caps the ``skip_connect`` edges (the collapse guard of P-DARTS, Chen et al. 2019):
    beyond the cap, the weakest are replaced by their edge's best operation outside ``capped``.
    ``capped=PARAMETER_FREE`` applies the same cap to skips and pooling together.

    >>> a = np.zeros((5, 3)); a[0, 2] = a[1, 1] = a[3, 2] = a[4, 1] = 1.0  # ops: none, skip, conv
    >>> str(derive(a, ["none", "skip_connect", "sep_conv_3"]))
    'n2: sep_conv_3<-0, skip_connect<-1 | n3: sep_conv_3<-1, skip_connect<-2'
    """
    primitives = check_primitives(primitives, "derive")
    alphas = alphas.detach().cpu().numpy() if isinstance(alphas, torch.Tensor) else np.asarray(alphas)
    nodes = _nodes_of(alphas, "derive")
    if alphas.shape[1] != len(primitives):
        raise fail("alphas", "derive", f"an array with one column per primitive ({len(primitives)})",
                   tuple(alphas.shape))
    # every node has at least the two cell inputs as incoming edges, so k can be 1 or 2
    k = check_int(k, "k", "derive", low=1, high=2)
    if max_skips is not None:
        max_skips = check_int(max_skips, "max_skips", "derive", low=0)
    if isinstance(capped, str) or any(op not in primitives or op == "none" for op in capped):
        raise fail("capped", "derive", "a list of operation names from primitives, without 'none'", capped)
    weights = np.exp(alphas - alphas.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)  # softmax per edge
    usable = np.array([p != "none" for p in primitives])
    masked = np.where(usable, weights, -np.inf)
    chosen, offset = [], 0  # chosen: (strength, node, input, op index)
    for j in range(nodes):
        rows = masked[offset:offset + j + 2]  # incoming edges of node j: from states 0 .. j+1
        strength = rows.max(axis=1)  # 1: strongest non-none weight per edge
        for i in sorted(np.argsort(-strength, kind="stable")[:k]):  # 2: top-k edges
            chosen.append([strength[i], j, int(i), int(rows[i].argmax())])  # 3: argmax op
        offset += j + 2
    if max_skips is not None:
        _cap(chosen, masked, [primitives.index(op) for op in capped], max_skips)
    out = [tuple((primitives[op], i) for _, node, i, op in chosen if node == j) for j in range(nodes)]
    return Genotype(tuple(out))


def _cap(chosen, masked, capped, limit):
    """Replace the weakest edges using a ``capped`` op beyond ``limit`` by the edge's best other op."""
    hits = sorted((c for c in chosen if c[3] in capped), key=lambda c: c[0])
    for c in hits[:max(0, len(hits) - limit)]:
        edge = sum(n + 2 for n in range(c[1])) + c[2]
        row = masked[edge].copy()
        row[capped] = -np.inf
        if np.isfinite(row).any():
            c[3] = int(row.argmax())


def random_genotype(nodes: int = 4, primitives: Sequence[str] = PRIMITIVES, k: int = 2,
                    seed: int | None = None) -> Genotype:
    """A cell drawn uniformly from the derived space: k distinct inputs per node, any non-none op.

    >>> random_genotype(nodes=2, seed=0).count("none")
    0
    """
    primitives = check_primitives(primitives, "random_genotype")
    nodes = check_int(nodes, "nodes", "random_genotype", low=1)
    k = check_int(k, "k", "random_genotype", low=1, high=2)
    rng = np.random.default_rng(seed)
    ops = [p for p in primitives if p != "none"]
    return Genotype(tuple(
        tuple((ops[rng.integers(len(ops))], int(i)) for i in sorted(rng.choice(j + 2, k, replace=False)))
        for j in range(nodes)))


class DerivedCell(nn.Module):
    """The discrete cell: node j sums its kept operations on its kept inputs; output = concat."""

    def __init__(self, genotype: Genotype, c_prev_prev: int, c_prev: int, channels: int):
        super().__init__()
        self.genotype = genotype
        self.pre0 = ReLUConvBN(c_prev_prev, channels, affine=True)
        self.pre1 = ReLUConvBN(c_prev, channels, affine=True)
        self.ops = nn.ModuleList(make_op(op, channels, affine=True)
                                 for node in genotype.nodes for op, _ in node)
        self.inputs = [i for node in genotype.nodes for _, i in node]
        self.sizes = [len(node) for node in genotype.nodes]

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        e = 0
        for size in self.sizes:
            states.append(sum(self.ops[e + m](states[self.inputs[e + m]]) for m in range(size)))
            e += size
        return torch.cat(states[2:], dim=1)  # (batch, nodes * C, L)


class DerivedNetwork(nn.Module):
    """The search network's skeleton with every cell replaced by the derived one.

    >>> g = random_genotype(nodes=2, seed=0)
    >>> DerivedNetwork(g, num_classes=10, config=NetworkConfig(channels=4, nodes=2))(torch.randn(3, 40)).shape
    torch.Size([3, 10])
    """

    def __init__(self, genotype: Genotype, num_classes: int, config: NetworkConfig | None = None,
                 in_channels: int = 1):
        super().__init__()
        if not isinstance(genotype, Genotype):
            raise fail("genotype", "DerivedNetwork", "a Genotype (from derive or random_genotype)",
                       genotype)
        config = config or NetworkConfig(nodes=len(genotype.nodes))
        num_classes = check_int(num_classes, "num_classes", "DerivedNetwork", low=2)
        c, nodes = config.channels, len(genotype.nodes)
        c_stem = config.stem_multiplier * c
        self.stem = nn.Sequential(nn.Conv1d(in_channels, c_stem, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(c_stem))
        cells, c_pp, c_p = [], c_stem, c_stem
        for _ in range(config.cells):
            cells.append(DerivedCell(genotype, c_pp, c_p, c))
            c_pp, c_p = c_p, nodes * c
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x):  # x: (batch, L) or (batch, in_channels, L)
        if x.dim() == 2:
            x = x.unsqueeze(1)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(s1.mean(dim=-1))  # (batch, classes)
