"""Checks for notebook 03 (distillation): softmax with temperature and the two-term loss.

The loss check compares the student's function with ``F.kl_div(log_softmax(s/T), softmax(t/T),
reduction="batchmean") * T**2`` plus the hard cross-entropy, and recognises the classic mistakes
(no ``T^2``, teacher and student swapped, KL in the wrong direction, a teacher that receives gradients)
to say which one it found.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import ExerciseFailure, call, expect, expect_close, expect_equal, passed

_GEN = torch.Generator().manual_seed(0)
_S = torch.randn(8, 10, generator=_GEN, dtype=torch.float64)        # student logits
_T = torch.randn(8, 10, generator=_GEN, dtype=torch.float64) * 3    # teacher logits
_Y = torch.randint(0, 10, (8,), generator=_GEN)


def check_softmax_with_temperature(fn) -> None:
    """``fn(logits, temperature)`` must return softmax(logits / T) over the last dimension."""
    for T in (1.0, 0.5, 4.0):
        out = call(fn, _T.clone(), T, what="softmax_with_temperature")
        expect(isinstance(out, torch.Tensor), "a tensor of probabilities", "return a torch tensor")
        expect_equal(tuple(out.shape), tuple(_T.shape), "probabilities shaped like the logits",
                     "normalise over the classes (dim=-1), one row per sample")
        if T != 1.0 and torch.allclose(out, F.softmax(_T * T, dim=-1)):
            raise ExerciseFailure(f"Expected softmax(z / T) at T = {T}, got softmax(z * T). Hint: divide by T.")
        expect_close(out, F.softmax(_T / T, dim=-1), f"softmax(z / T) at T = {T}",
                     "exp(z_i / T) / sum_j exp(z_j / T) over the last dimension; F.softmax(z / T, dim=-1) does it")
    flat = call(fn, _T.clone(), 1e4, what="softmax_with_temperature")
    expect_close(flat, torch.full_like(_T, 0.1), "near-uniform targets (0.1 each) at T = 10^4", atol=1e-3)
    passed("softmax_with_temperature: rows sum to 1, T = 1 is the softmax, large T flattens towards uniform")


def _reference(s, t, y, T, l1, l2):
    return l1 * F.cross_entropy(s, y) + l2 * T ** 2 * F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1),
                                                              reduction="batchmean")


def _diagnose(out: float, T: float, l1: float, l2: float) -> str:
    """Name the classic mistake whose value matches ``out``."""
    hard = F.cross_entropy(_S, _Y).item()
    kl = lambda p, q: F.kl_div(F.log_softmax(q / T, -1), F.softmax(p / T, -1), reduction="batchmean").item()  # KL(p||q)
    entropy = -(F.softmax(_T / T, -1) * F.log_softmax(_T / T, -1)).sum(-1).mean().item()
    candidates = {
        "no T^2 factor on the soft term": l1 * hard + l2 * kl(_T, _S),
        "teacher and student swapped (KL(student || teacher))": l1 * hard + l2 * T ** 2 * kl(_S, _T),
        "the CE form (it adds the teacher's entropy, a constant; use the KL form so the soft term is 0 "
        "when student == teacher)": l1 * hard + l2 * T ** 2 * (kl(_T, _S) + entropy),
        "l1 and l2 swapped": l2 * hard + l1 * T ** 2 * kl(_T, _S),
        "the hard term computed at temperature T": l1 * F.cross_entropy(_S / T, _Y).item() + l2 * T ** 2 * kl(_T, _S),
        "a sum over the batch instead of a mean": (l1 * hard + l2 * T ** 2 * kl(_T, _S)) * len(_S),
    }
    for name, value in candidates.items():
        if math.isclose(out, value, rel_tol=1e-6):
            return f"your value matches {name}."
    return "L = l1 * CE(y, s) + l2 * T^2 * KL(softmax(t/T) || softmax(s/T)), batch mean (F.kl_div with batchmean)."


def check_distillation_loss(fn) -> None:
    """``fn(student_logits, teacher_logits, labels, T, l1, l2)`` must be the lecture's loss in KL form."""
    for T, l1, l2 in ((4.0, 0.1, 0.9), (2.0, 0.5, 0.5), (1.0, 0.3, 0.7)):
        out = call(fn, _S.clone(), _T.clone(), _Y.clone(), T, l1, l2, what="distillation_loss")
        expect(isinstance(out, torch.Tensor) and out.numel() == 1, "a scalar tensor",
               "return one number for the batch (a mean), as a tensor so it can be backpropagated")
        ref = _reference(_S, _T, _Y, T, l1, l2)
        if not math.isclose(out.item(), ref.item(), rel_tol=1e-6, abs_tol=1e-9):
            raise ExerciseFailure(f"Expected the distillation loss {ref.item():.6g} at T = {T}, l1 = {l1}, l2 = {l2}, "
                                  f"got {out.item():.6g}. Hint: {_diagnose(out.item(), T, l1, l2)}")
    # T^2: the soft gradient keeps its scale as T grows (Hinton et al. 2015)
    ratio = (call(fn, _S, _T, _Y, 8.0, 0.0, 1.0, what="distillation_loss") / _reference(_S, _T, _Y, 8.0, 0.0, 1.0)).item()
    expect_close(ratio, 1.0, "the soft term multiplied by T^2 (ratio to the reference 1 at T = 8)",
                 "without T^2 the soft gradients shrink as 1/T^2 and the hard term takes over")
    # student == teacher: nothing left to learn from the teacher
    zero = call(fn, _T.clone(), _T.clone(), _Y, 4.0, 0.0, 1.0, what="distillation_loss")
    expect_close(zero.item(), 0.0, "a soft term of 0 when the student's logits equal the teacher's", atol=1e-9,
                 hint="KL(p || p) = 0; cross-entropy would leave the teacher's entropy")
    # no gradient may reach the teacher
    torch.manual_seed(0)
    teacher, student = nn.Linear(6, 4), nn.Linear(6, 4)
    x, y = torch.randn(8, 6), torch.randint(0, 4, (8,))
    call(fn, student(x), teacher(x), y, 4.0, 0.1, 0.9, what="distillation_loss").backward()
    expect(all(p.grad is None for p in teacher.parameters()), "no gradient in the teacher's parameters",
           "the teacher is fixed: use teacher_logits.detach() (or compute them under torch.no_grad())")
    expect(all(p.grad is not None for p in student.parameters()), "gradients in the student's parameters",
           "do not detach the student's logits")
    passed("distillation_loss: matches F.kl_div * T^2 + CE, keeps the T^2 scale, is 0 at student == teacher, "
           "and sends no gradient to the teacher")
