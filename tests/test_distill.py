"""Claims of the lecture's distillation slides, checked against torch's own KL and cross-entropy."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit import distill, models, train
from labkit.data import Split
from labkit.distill import DistillConfig, Teacher, distillation_loss, softmax_t
from labkit.errors import ParameterError

GEN = torch.Generator().manual_seed(0)
S = torch.randn(16, 10, generator=GEN, dtype=torch.float64)   # student logits (batch, classes)
T_ = torch.randn(16, 10, generator=GEN, dtype=torch.float64) * 3  # teacher logits
Y = torch.randint(0, 10, (16,), generator=GEN)


# --- softmax with temperature -----------------------------------------------------------------------

def test_softmax_t_at_one_is_softmax_and_rows_sum_to_one():
    for T in (0.5, 1.0, 4.0):
        p = softmax_t(T_, T)
        assert torch.allclose(p.sum(1), torch.ones(16, dtype=p.dtype))
    assert torch.allclose(softmax_t(T_, 1.0), F.softmax(T_, dim=1))


def test_large_temperature_gives_near_uniform_targets():
    p = softmax_t(T_, 1e4)
    assert torch.allclose(p, torch.full_like(p, 0.1), atol=1e-4)
    assert torch.allclose(distill.entropy(p), torch.full((16,), math.log(10), dtype=p.dtype), atol=1e-6)


def test_small_temperature_gives_the_argmax_one_hot():
    p = softmax_t(T_, 1e-3)
    assert torch.equal(p.argmax(1), T_.argmax(1))
    assert torch.allclose(p.max(1).values, torch.ones(16, dtype=p.dtype))


def test_entropy_grows_with_temperature_and_order_is_kept():
    ents = [distill.entropy(softmax_t(T_, T)).mean().item() for T in (0.5, 1, 2, 4, 8, 16)]
    assert all(a < b for a, b in zip(ents, ents[1:]))
    assert torch.equal(softmax_t(T_, 8.0).argsort(1), T_.argsort(1))


# --- the two-term loss --------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 20.0])
@pytest.mark.parametrize("l1,l2", [(0.1, 0.9), (0.5, 0.5), (1.0, 0.0), (0.0, 1.0)])
def test_kl_form_matches_torch_kl_div_times_t2_plus_hard_term(T, l1, l2):
    oracle = (l1 * F.cross_entropy(S, Y)
              + l2 * F.kl_div(F.log_softmax(S / T, 1), F.softmax(T_ / T, 1), reduction="batchmean") * T ** 2)
    ours = distillation_loss(S, T_, Y, temperature=T, hard_weight=l1, soft_weight=l2)
    assert torch.allclose(ours, oracle, rtol=1e-10)


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_ce_form_is_kl_form_plus_the_teacher_entropy(T):
    """CE(Y_t, Y_s) = KL(Y_t || Y_s) + H(Y_t): the lecture's formula differs by a constant."""
    cfg = dict(temperature=T, hard_weight=0.3, soft_weight=0.7)
    ce = distillation_loss(S, T_, Y, soft_form="ce", **cfg)
    kl = distillation_loss(S, T_, Y, soft_form="kl", **cfg)
    teacher_entropy = distill.entropy(F.softmax(T_ / T, 1)).mean()
    assert torch.allclose(ce, kl + 0.7 * T ** 2 * teacher_entropy, rtol=1e-10)
    # the lecture's CE written out with torch: -sum Y_t log Y_s(T), batch mean
    literal = 0.3 * F.cross_entropy(S, Y) + 0.7 * T ** 2 * F.cross_entropy(S / T, F.softmax(T_ / T, 1))
    assert torch.allclose(ce, literal, rtol=1e-10)


def test_ce_and_kl_forms_give_the_same_student_gradient():
    grads = []
    for form in ("kl", "ce"):
        s = S.clone().requires_grad_(True)
        distillation_loss(s, T_, Y, temperature=3.0, soft_form=form).backward()
        grads.append(s.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-10)


def test_t2_factor_is_on_by_default_and_switchable():
    on = distillation_loss(S, T_, None, temperature=5.0)
    off = distillation_loss(S, T_, None, temperature=5.0, scale_by_t2=False)
    assert torch.allclose(on, off * 25, rtol=1e-10)


def test_t2_keeps_the_soft_gradient_scale_hinton_high_t_limit():
    """Hinton et al. eq. 2-4: at high T, d(T^2 KL)/dz_s -> (z_s - z_t) / N for zero-mean logits."""
    s0, t0 = S - S.mean(1, keepdim=True), T_ - T_.mean(1, keepdim=True)
    s = s0.clone().requires_grad_(True)
    distillation_loss(s, t0, None, temperature=1000.0, hard_weight=0.0, soft_weight=1.0).backward()
    expected = (s0 - t0) / 10 / len(s0)  # batch mean
    assert (s.grad - expected).norm() / expected.norm() < 1e-2  # corrections are O(1/T)
    norms = []
    for T in (10.0, 100.0, 1000.0):
        s = s0.clone().requires_grad_(True)
        distillation_loss(s, t0, None, temperature=T, hard_weight=0.0).backward()
        norms.append(s.grad.norm().item())
    assert max(norms) / min(norms) < 1.1  # without T^2 they would span a factor of 10^4


def test_soft_term_is_zero_when_student_equals_teacher():
    loss = distillation_loss(T_.clone(), T_, None, temperature=4.0, hard_weight=0.0)
    assert abs(loss.item()) < 1e-12


def test_unlabelled_rows_see_only_the_soft_term():
    labels = Y.clone()
    labels[8:] = distill.UNLABELLED
    ours = distillation_loss(S, T_, labels, temperature=2.0, hard_weight=0.4, soft_weight=0.6)
    soft = F.kl_div(F.log_softmax(S / 2, 1), F.softmax(T_ / 2, 1), reduction="batchmean") * 4
    assert torch.allclose(ours, 0.4 * F.cross_entropy(S[:8], Y[:8]) + 0.6 * soft, rtol=1e-10)
    none_labelled = torch.full_like(Y, distill.UNLABELLED)
    assert torch.allclose(distillation_loss(S, T_, none_labelled, temperature=2.0, soft_weight=0.6), 0.6 * soft)


def test_no_gradient_reaches_the_teacher():
    torch.manual_seed(0)
    teacher, student = nn.Linear(6, 4), nn.Linear(6, 4)
    x, y = torch.randn(8, 6), torch.randint(0, 4, (8,))
    distillation_loss(student(x), teacher(x), y).backward()  # teacher logits still carry a graph
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in student.parameters())


# --- ensemble teacher and labels from the teacher -----------------------------------------------------

def test_ensemble_averages_soft_targets_not_logits():
    torch.manual_seed(1)
    members = [nn.Linear(5, 3) for _ in range(3)]
    x = torch.randn(7, 5)
    ours = Teacher(members).soft_targets(x, temperature=2.0)
    with torch.no_grad():
        expected = torch.stack([F.softmax(m(x) / 2, 1) for m in members]).mean(0)
    assert torch.allclose(ours, expected, atol=1e-6)
    assert all(not p.requires_grad for m in members for p in m.parameters())


def test_transfer_set_holds_the_teachers_logits_and_unlabelled_marks():
    torch.manual_seed(2)
    net = nn.Linear(4, 3)
    labelled = Split(torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]))
    extra = torch.randn(6, 4)
    ts = distill.label_transfer_set(net, labelled, extra)
    with torch.no_grad():
        assert torch.allclose(ts.teacher_logits[0], net(torch.cat([labelled.X, extra])), atol=1e-6)
    assert ts.labels.tolist() == [0, 1, 2, 0, 1] + [-1] * 6


def _tiny_task():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(64, 8, generator=gen)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    return Split(X[:48], y[:48]), Split(X[48:], y[48:])


def test_distill_never_updates_the_teacher_and_does_update_the_student():
    tr, va = _tiny_task()
    torch.manual_seed(0)
    teacher, student = models.mlp((8,), (16,), 3), models.mlp((8,), (4,), 3)
    before_t, before_s = copy.deepcopy(teacher.state_dict()), copy.deepcopy(student.state_dict())
    distill.distill(student, teacher, tr, va, unlabelled=torch.randn(32, 8), epochs=2, progress=False)
    assert all(torch.equal(before_t[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    assert not all(torch.equal(before_s[k], v) for k, v in student.state_dict().items())


def test_only_hard_term_is_plain_training_from_the_same_weights():
    """l1 = 1, l2 = 0 reduces the loop to train.fit with cross-entropy: identical weights after."""
    tr, va = _tiny_task()
    torch.manual_seed(0)
    teacher, a = models.mlp((8,), (16,), 3), models.mlp((8,), (4,), 3)
    b = copy.deepcopy(a)
    train.fit(a, tr, va, epochs=2, progress=False, seed=5)
    distill.distill(b, teacher, tr, va, DistillConfig(hard_weight=1.0, soft_weight=0.0), epochs=2, progress=False, seed=5)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))


def test_alone_vs_distilled_start_from_the_same_weights():
    tr, va = _tiny_task()
    ts = distill.label_transfer_set(models.mlp((8,), (16,), 3), tr)
    inits = []
    make = lambda: inits.append(models.mlp((8,), (4,), 3)) or inits[-1]  # noqa: E731
    cfg = train.TrainConfig(epochs=1, progress=False)
    out = distill.alone_vs_distilled(make, ts, tr, va, seed=0, alone=cfg, distilled=cfg)
    assert out["alone"] is inits[0] and out["distilled"] is inits[1]
    torch.manual_seed(0)
    fresh = models.mlp((8,), (4,), 3)
    same = distill.alone_vs_distilled(lambda: copy.deepcopy(fresh), ts, tr, va, seed=0,
                                      alone=train.TrainConfig(epochs=1, lr=1e-6, progress=False),
                                      distilled=train.TrainConfig(epochs=1, lr=1e-6, progress=False))
    assert all(torch.allclose(p, q, atol=1e-4) for p, q in zip(same["alone"].parameters(), same["distilled"].parameters()))


# --- bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [0.0, -1.0, float("nan")])
def test_temperature_must_be_positive(T):
    with pytest.raises(ParameterError, match="The 'temperature' parameter of DistillConfig must be a float > 0"):
        distillation_loss(S, T_, Y, temperature=T)
    with pytest.raises(ParameterError, match="The 'temperature' parameter of softmax_t must be a float > 0"):
        softmax_t(T_, T)


@pytest.mark.parametrize("name", ["hard_weight", "soft_weight"])
def test_weights_must_not_be_negative(name):
    with pytest.raises(ParameterError, match=f"The '{name}' parameter of DistillConfig must be a float >= 0"):
        distillation_loss(S, T_, Y, **{name: -0.1})


def test_soft_form_and_t2_switch_are_checked():
    with pytest.raises(ParameterError, match="The 'soft_form' parameter of DistillConfig must be one of 'kl', 'ce'"):
        DistillConfig(soft_form="mse").validate()
    with pytest.raises(ParameterError, match="The 'scale_by_t2' parameter of DistillConfig must be a bool"):
        DistillConfig(scale_by_t2="yes").validate()


def test_teacher_and_student_must_have_the_same_classes():
    with pytest.raises(ParameterError, match="The 'teacher' parameter of distillation_loss must be logits shaped"):
        distillation_loss(S, T_[:, :5], Y)
    tr, va = _tiny_task()
    with pytest.raises(ParameterError, match="The 'student' parameter of distill must be a network with the teacher's 3 classes"):
        distill.distill(models.mlp((8,), (4,), 5), models.mlp((8,), (4,), 3), tr, va, epochs=1, progress=False)
    with pytest.raises(ParameterError, match="The 'networks' parameter of Teacher must be members with the same"):
        Teacher([nn.Linear(8, 3), nn.Linear(8, 4)]).member_logits(tr.X)


def test_teacher_transfer_inputs_and_table_are_checked():
    tr, va = _tiny_task()
    with pytest.raises(ParameterError, match="The 'networks' parameter of Teacher must be an nn.Module or a non-empty list"):
        Teacher([])
    with pytest.raises(ParameterError, match="The 'unlabelled' parameter of label_transfer_set must be inputs shaped"):
        distill.label_transfer_set(nn.Linear(8, 3), tr, torch.zeros(4, 7))
    ts = distill.label_transfer_set(nn.Linear(8, 3), tr)
    with pytest.raises(ParameterError, match="The 'unlabelled' parameter of distill must be None when the teacher is a TransferSet"):
        distill.distill(nn.Linear(8, 3), ts, tr, va, unlabelled=torch.zeros(2, 8), epochs=1, progress=False)


def test_a_transfer_set_must_come_from_the_labelled_split():
    tr, va = _tiny_task()
    ts = distill.label_transfer_set(nn.Linear(8, 3), tr)
    with pytest.raises(ParameterError, match="The 'labelled' parameter of distill must be the split the TransferSet"):
        distill.distill(nn.Linear(8, 3), ts, va, va, epochs=1, progress=False)
