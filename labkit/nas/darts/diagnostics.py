"""Watching a DARTS search: alpha trajectories, skip counts, and the collapse to skip connections.

The known failure of DARTS: run the search long enough and the derived cell fills with
``skip_connect`` (and pooling), parameter-free operations, although the discrete network built from
them is shallow and weak. On NAS-Bench-201 (Dong & Yang 2020) both DARTS orders end at 54.3 % CIFAR-10
accuracy, while random search reaches 93.7 %. Why: in the supernet, a skip edge passes the signal and
the gradient through unchanged, so while the convolutions are still half-trained the validation loss
falls fastest by leaning on skips; their alpha grows, which makes the convolutions train even less
(they receive a smaller share of the gradient): a rich-get-richer loop (Zela et al. 2020 relate it to
a sharp validation loss, large dominant Hessian eigenvalue of L_val w.r.t. alpha).

Two guards, both cheap, both offered here:

    early stopping (DARTS+, Liang et al. 2019): stop the search at the first epoch at which the
        derived cell holds more than ``max_skips`` skip connections, and keep the previous cell
        (``SearchConfig(max_skips=2)``);
    a cap at derivation (P-DARTS, Chen et al. 2019): keep at most ``max_skips`` skips, replacing the
        weakest by their edge's best other operation (``derive(alphas, max_skips=2)``).

Both use the paper's own observation that good cells have about two skips. In a small supernet trained
briefly, the operations that take over are often max pooling rather than skips (they too need no
training); ``derive(alphas, max_skips=2, capped=PARAMETER_FREE)`` caps skips and pooling together.
Used by notebook 07.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labkit.errors import check_int, fail
from labkit.nas.darts.genotype import derive
from labkit.nas.darts.ops import PRIMITIVES, check_primitives


def _history(alpha_history, owner: str) -> np.ndarray:
    h = np.asarray(alpha_history, dtype=float)
    if h.ndim != 3:
        raise fail("alpha_history", owner, "an array (epochs, edges, ops) of softmax weights",
                   h.shape)
    return h


def op_weight(alpha_history, op: str, primitives: Sequence[str] = PRIMITIVES) -> np.ndarray:
    """Mean softmax weight of ``op`` over all edges, per epoch: (epochs,).

    >>> h = np.full((2, 5, 8), 1 / 8)
    >>> op_weight(h, "skip_connect").round(3).tolist()
    [0.125, 0.125]
    """
    primitives = check_primitives(primitives, "op_weight")
    if op not in primitives:
        raise fail("op", "op_weight", f"one of {list(primitives)}", op)
    return _history(alpha_history, "op_weight")[:, :, primitives.index(op)].mean(axis=1)


def skip_counts(alpha_history, primitives: Sequence[str] = PRIMITIVES, k: int = 2) -> np.ndarray:
    """Skip connections in the cell derived at every epoch: (epochs,) ints.

    Softmax weights are passed to :func:`derive` as log-weights, which keeps their ranking.

    >>> h = np.full((1, 5, 8), 1 / 8); h[0, :, 3] = 0.3  # skip strongest everywhere
    >>> skip_counts(h).tolist()
    [4]
    """
    h = _history(alpha_history, "skip_counts")
    return np.array([derive(np.log(w), primitives, k).count("skip_connect") for w in h])


def collapse_epoch(skips: Sequence[int], max_skips: int = 2) -> int | None:
    """First epoch whose derived cell has more than ``max_skips`` skips, or None (DARTS+ criterion).

    >>> collapse_epoch([1, 2, 3, 4], max_skips=2)
    2
    """
    max_skips = check_int(max_skips, "max_skips", "collapse_epoch", low=0)
    for epoch, count in enumerate(skips):
        if count > max_skips:
            return epoch
    return None


def dominant_ops(alpha_history, primitives: Sequence[str] = PRIMITIVES) -> np.ndarray:
    """Per epoch, how many edges each op wins by softmax weight: (epochs, ops) counts.

    >>> dominant_ops(np.full((1, 2, 8), 1 / 8))[0].tolist()
    [2, 0, 0, 0, 0, 0, 0, 0]
    """
    primitives = check_primitives(primitives, "dominant_ops")
    h = _history(alpha_history, "dominant_ops")
    winners = h.argmax(axis=2)  # (epochs, edges)
    return np.stack([(winners == o).sum(axis=1) for o in range(len(primitives))], axis=1)
