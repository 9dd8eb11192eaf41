"""Checks for notebook 07 (DARTS): the mixed operation and the derivation of the discrete cell."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from . import call, expect, expect_close, expect_equal, passed
from ..nas.darts import PRIMITIVES, derive, make_op, mixed_op, num_edges


def check_mixed_op(student_fn) -> None:
    """``student_fn(x, alpha, ops)`` must return sum_o softmax(alpha)_o * ops[o](x)."""
    torch.manual_seed(0)
    ops = [make_op(p, 3, affine=False) for p in PRIMITIVES]
    x = torch.randn(2, 3, 20)
    for alpha in (torch.zeros(len(ops)), torch.randn(len(ops)), torch.tensor([0, 0, 0, 9.0, 0, 0, 0, 0])):
        got = call(student_fn, x, alpha, ops, what="mixed_op")
        expect(isinstance(got, torch.Tensor) and got.shape == x.shape,
               f"a tensor of the input's shape {tuple(x.shape)}",
               "every operation keeps the shape; add the weighted outputs, do not stack them")
        expected = mixed_op(x, F.softmax(alpha, dim=0), ops)
        expect_close(got, expected, f"the mixed output for alpha={alpha.tolist()}",
                     "weights = softmax(alpha) over the operations (they sum to 1), "
                     "then sum weights[o] * ops[o](x)", rtol=1e-4, atol=1e-5)
    passed("mixed_op: the softmax(alpha)-weighted sum of every operation (DARTS eq. 2).")


def _cases():
    ops = ["none", "skip_connect", "max_pool_3", "sep_conv_3"]
    a = np.zeros((num_edges(3), 4))
    a[0, 3], a[1, 1], a[2, 0], a[3, 2], a[4, 3], a[5, 1], a[7, 3], a[8, 1] = 2, 1, 9, 1.5, 1, 0.5, 3, 2.5
    yield a, ops, "a hand-written cell in which 'none' is strongest on edge 0->3"
    rng = np.random.default_rng(0)
    for nodes in (2, 4):
        yield rng.normal(size=(num_edges(nodes), len(PRIMITIVES))), list(PRIMITIVES), f"random alphas, {nodes} nodes"


def check_derive(student_fn) -> None:
    """``student_fn(alphas, primitives)`` must return, per node, the two kept (op, input) pairs."""
    for alphas, ops, label in _cases():
        got = call(student_fn, alphas.copy(), list(ops), what="derive_cell")
        expected = [list(node) for node in derive(alphas, ops).nodes]
        try:
            got = [sorted((str(op), int(i)) for op, i in node) for node in got]
        except (TypeError, ValueError):
            expect(False, "a list with one list of (operation, input) pairs per node",
                   "for node j append [(op, i), (op, i)] for the two kept incoming edges")
        expected = [sorted(node) for node in expected]
        expect_equal(len(got), len(expected), f"one entry per intermediate node for {label}")
        for j, (g, e) in enumerate(zip(got, expected)):
            expect_equal(g, e, f"node {j} (state {j + 2}) of {label}",
                         "rank the incoming edges by their strongest NON-none softmax weight, keep the top 2, "
                         "and on each kept edge take the argmax over the non-none operations")
    passed("derive_cell: top-2 incoming edges per node by strongest non-none weight, argmax operation.")
