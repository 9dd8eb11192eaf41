"""Knowledge distillation: a small student learns from the soft outputs of a large teacher.

Lecture 6, "Дистилляция НС": the student (the network that must meet the size and latency budget) is
trained on the outputs of a teacher (a large network or an ensemble). The teacher's logits ``z_t``
become soft targets with a temperature ``T``::

    Y_t = softmax(z_t / T)                      Y_t_i = exp(z_t_i / T) / sum_j exp(z_t_j / T)
    L   = l1 * CE(Y, Y_s)  +  l2 * T^2 * CE(Y_t, Y_s(T))         Y_s(T) = softmax(z_s / T)

* ``CE(Y, Y_s)`` is the usual loss on the true labels (at T = 1); ``CE(Y_t, Y_s(T))`` compares the
  student's softened outputs with the teacher's. Large ``T`` lifts the small probabilities that say
  which wrong classes look alike ("dark knowledge").
* ``T^2`` (Hinton, Vinyals, Dean 2015, "Distilling the Knowledge in a Neural Network", sec. 2): the
  gradient of the soft term shrinks as ``1/T^2``; multiplying by ``T^2`` keeps the two terms on the
  same scale when ``T`` changes. On by default, switchable (``scale_by_t2``).
* ``CE(Y_t, Y_s) = KL(Y_t || Y_s) + H(Y_t)``: the teacher's entropy does not depend on the student, so
  both forms give the same gradients. The KL form (default, ``soft_form="kl"``) is zero when the
  student equals the teacher; the CE form (``"ce"``) is the lecture's formula literally.
* Labels from the teacher: the teacher labels extra *unlabelled* inputs (a transfer set), which
  carry only the soft term. On MNIST-1D this is what makes distillation work (notebook 03).

The teacher is never trained here: its logits are computed once under ``torch.no_grad`` and its
parameters never reach the optimizer. Used by notebook 03 and ``benchmarks/distill.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import train
from .data import Split
from .errors import check_choice, check_positive, check_range, check_type, fail

UNLABELLED = -1  # label of a transfer-set sample: only the soft term sees it


@dataclass
class DistillConfig:
    """Weights and temperature of the distillation loss."""

    temperature: float = 4.0      # T: Hinton et al. used 2..20 (20 on MNIST); the PyTorch KD tutorial 2
    hard_weight: float = 0.1      # l1, on CE(Y, Y_s) with the true labels
    soft_weight: float = 0.9      # l2, on CE(Y_t, Y_s); Hinton: "a considerably lower weight on the hard term"
    scale_by_t2: bool = True      # multiply the soft term by T^2 (Hinton et al. 2015, sec. 2)
    soft_form: str = "kl"         # "kl": KL(Y_t || Y_s), zero at student == teacher; "ce": the lecture's CE

    def validate(self) -> "DistillConfig":
        owner = "DistillConfig"
        check_positive(self.temperature, "temperature", owner)
        check_range(self.hard_weight, "hard_weight", owner, 0.0)
        check_range(self.soft_weight, "soft_weight", owner, 0.0)
        check_type(self.scale_by_t2, bool, "scale_by_t2", owner, "a bool")
        check_choice(self.soft_form, SOFT_LOSSES, "soft_form", owner)
        return self


# --- soft targets and the two-term loss -----------------------------------------------------------

def softmax_t(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Soft targets ``softmax(z / T)`` over the last dimension; T = 1 is the ordinary softmax.

    >>> softmax_t(torch.tensor([2.0, 0.0]), temperature=1e6).round(decimals=4).tolist()  # T -> inf: uniform
    [0.5, 0.5]
    """
    check_positive(temperature, "temperature", "softmax_t")
    return F.softmax(logits / temperature, dim=-1)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy ``-sum p log p`` in nats over the last dimension (``log 10`` = uniform on 10).

    >>> round(entropy(torch.full((4,), 0.25)).item(), 4)  # log 4
    1.3863
    """
    return -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)


def soft_kl(student_logits, teacher_probs, temperature: float) -> torch.Tensor:
    """``KL(Y_t || Y_s(T))`` averaged over the batch: zero when the student matches the teacher."""
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=-1), teacher_probs, reduction="batchmean")


def soft_ce(student_logits, teacher_probs, temperature: float) -> torch.Tensor:
    """``CE(Y_t, Y_s(T)) = -sum Y_t log Y_s(T)`` averaged over the batch: KL plus the teacher's entropy."""
    return -(teacher_probs * F.log_softmax(student_logits / temperature, dim=-1)).sum(-1).mean()


# The extension point: a new soft loss is one function (student_logits, teacher_probs, T) -> scalar.
SOFT_LOSSES: dict[str, Callable] = {"kl": soft_kl, "ce": soft_ce}


def distillation_loss(student_logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor | None = None,
                      config: DistillConfig | None = None, *, teacher_probs: bool = False, **overrides) -> torch.Tensor:
    """The lecture's ``l1 * CE(Y, Y_s) + l2 * T^2 * CE(Y_t, Y_s)`` for one batch.

    ``teacher`` holds the teacher's logits ``(batch, classes)``, or its soft targets at ``T`` already
    when ``teacher_probs=True`` (an ensemble averages probabilities, not logits). It is detached: no
    gradient ever reaches the teacher. Labels equal to ``UNLABELLED`` (-1) mark transfer-set samples,
    which only the soft term sees; ``labels=None`` means none is labelled.

    >>> s, t = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[2.0, 0.0, -1.0]])
    >>> distillation_loss(s, t, None, temperature=4.0).item()  # student == teacher, no labels
    0.0
    """
    config = replace(config or DistillConfig(), **overrides).validate()
    check_type(student_logits, torch.Tensor, "student_logits", "distillation_loss", "a tensor (batch, classes)")
    check_type(teacher, torch.Tensor, "teacher", "distillation_loss", "a tensor (batch, classes)")
    if student_logits.ndim != 2 or teacher.shape != student_logits.shape:
        raise fail("teacher", "distillation_loss",
                   f"logits shaped like the student's {tuple(student_logits.shape)} (same batch, same classes)",
                   tuple(teacher.shape))
    T = config.temperature
    target = teacher.detach() if teacher_probs else softmax_t(teacher.detach(), T)  # Y_t, (batch, classes)
    soft = SOFT_LOSSES[config.soft_form](student_logits, target, T)
    if config.scale_by_t2:
        soft = soft * T ** 2
    hard = student_logits.new_zeros(())
    if labels is not None:
        labelled = labels != UNLABELLED
        if labelled.any():
            hard = F.cross_entropy(student_logits[labelled], labels[labelled])  # CE(Y, Y_s) at T = 1
    return config.hard_weight * hard + config.soft_weight * soft


# --- the teacher: one network or an ensemble ------------------------------------------------------

class Teacher:
    """A frozen teacher: one network or an ensemble whose soft targets are averaged.

    An ensemble's soft targets at ``T`` are the mean of its members' ``softmax(z_k / T)`` (Hinton et
    al. 2015, sec. 1), so they are computed from the members' logits for every ``T``.

    >>> t = Teacher([nn.Linear(4, 3), nn.Linear(4, 3)])
    >>> t.soft_targets(torch.zeros(5, 4), temperature=2.0).shape
    torch.Size([5, 3])
    """

    def __init__(self, networks: nn.Module | Sequence[nn.Module]):
        members = [networks] if isinstance(networks, nn.Module) else list(networks)
        if not members or not all(isinstance(m, nn.Module) for m in members):
            raise fail("networks", "Teacher", "an nn.Module or a non-empty list of them", networks)
        self.members = members
        for m in members:
            m.eval()
            m.requires_grad_(False)  # frozen: a teacher has no gradient to give

    def member_logits(self, X: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
        """Logits of every member, ``(members, n, classes)``, in eval mode without gradients."""
        logits = [train.predict_logits(m, X, batch_size) for m in self.members]
        if len({tuple(z.shape) for z in logits}) != 1:
            raise fail("networks", "Teacher", "members with the same number of classes",
                       [tuple(z.shape[1:]) for z in logits])
        return torch.stack(logits)

    def soft_targets(self, X: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """``mean_k softmax(z_k / T)``, ``(n, classes)``."""
        return ensemble_soft_targets(self.member_logits(X), temperature)

    def accuracy(self, split: Split) -> float:
        """Accuracy of the (averaged) teacher on ``split``."""
        return (self.soft_targets(split.X).argmax(1) == split.y).float().mean().item()


def ensemble_soft_targets(member_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Average of the members' soft targets: ``(members, n, classes) -> (n, classes)``."""
    return softmax_t(member_logits, temperature).mean(0)


# --- labels from the teacher ----------------------------------------------------------------------

@dataclass
class TransferSet:
    """Inputs with the teacher's logits: the labelled samples first, then the unlabelled ones."""

    X: torch.Tensor               # (n, *input_shape)
    labels: torch.Tensor          # (n,) true labels, UNLABELLED (-1) for transfer samples
    teacher_logits: torch.Tensor  # (members, n, classes), computed once

    def __len__(self) -> int:
        return len(self.labels)

    def soft_targets(self, temperature: float) -> torch.Tensor:
        """The teacher's soft targets at ``T`` for every sample, ``(n, classes)``."""
        return ensemble_soft_targets(self.teacher_logits, temperature)


def label_transfer_set(teacher: Teacher | nn.Module, labelled: Split, unlabelled: torch.Tensor | None = None) -> TransferSet:
    """Let the teacher label ``labelled.X`` and the extra inputs ``unlabelled`` (lecture: "labels from the teacher").

    >>> ts = label_transfer_set(nn.Linear(4, 3), Split(torch.zeros(2, 4), torch.tensor([0, 2])), torch.zeros(5, 4))
    >>> len(ts), ts.labels.tolist()
    (7, [0, 2, -1, -1, -1, -1, -1])
    """
    teacher = teacher if isinstance(teacher, Teacher) else Teacher(teacher)
    check_type(labelled, Split, "labelled", "label_transfer_set", "a labkit.data.Split")
    X, labels = labelled.X, labelled.y
    if unlabelled is not None:
        check_type(unlabelled, torch.Tensor, "unlabelled", "label_transfer_set", "a tensor of inputs or None")
        if unlabelled.shape[1:] != labelled.X.shape[1:]:
            raise fail("unlabelled", "label_transfer_set", f"inputs shaped (n, {tuple(labelled.X.shape[1:])})",
                       tuple(unlabelled.shape))
        X = torch.cat([X, unlabelled.to(X.dtype)])
        labels = torch.cat([labels, torch.full((len(unlabelled),), UNLABELLED, dtype=labels.dtype)])
    return TransferSet(X, labels, teacher.member_logits(X))


# --- the distillation loop ------------------------------------------------------------------------

def distill(student: nn.Module, teacher: Teacher | nn.Module | TransferSet, labelled: Split, val: Split | None = None,
            config: DistillConfig | None = None, train_config: train.TrainConfig | None = None, *,
            unlabelled: torch.Tensor | None = None, **overrides) -> train.History:
    """Train ``student`` with the distillation loss; the teacher is never updated.

    1. The teacher labels the labelled inputs and the extra ``unlabelled`` ones, once (no gradients).
    2. Each batch: student logits -> ``distillation_loss`` against the stored soft targets
       (hard term only where a true label exists).
    3. ``train.fit`` steps the student's optimizer; the teacher's parameters are not in it.

    Pass a :class:`TransferSet` as ``teacher`` to reuse labels across runs (sweeps over T and l2).
    ``overrides`` replace fields of ``train_config`` (``epochs=5``).

    >>> from labkit import data, models
    >>> ds = data.load("xor")
    >>> teacher = models.mlp(ds.input_shape, hidden=(16,), num_classes=2)
    >>> student = models.mlp(ds.input_shape, hidden=(4,), num_classes=2)
    >>> hist = distill(student, teacher, ds.train, ds.val, epochs=1, progress=False)
    >>> len(hist.val_acc)
    1
    """
    config = (config or DistillConfig()).validate()
    check_type(student, nn.Module, "student", "distill", "a torch.nn.Module")
    if isinstance(teacher, TransferSet):
        if unlabelled is not None:
            raise fail("unlabelled", "distill", "None when the teacher is a TransferSet (it holds its inputs)", "a tensor")
        table = teacher
        check_type(labelled, Split, "labelled", "distill", "a labkit.data.Split")
        if len(labelled) > len(table) or not torch.equal(table.X[:len(labelled)], labelled.X):
            raise fail("labelled", "distill", "the split the TransferSet was labelled from (its first rows)",
                       f"a split of {len(labelled)} other samples")
    else:
        table = label_transfer_set(teacher, labelled, unlabelled)  # 1: labels from the teacher
    with torch.no_grad():
        student_classes = train.predict_logits(student, table.X[:2]).shape[-1]
    if student_classes != table.teacher_logits.shape[-1]:
        raise fail("student", "distill", f"a network with the teacher's {table.teacher_logits.shape[-1]} classes",
                   f"a network with {student_classes} outputs")
    targets = table.soft_targets(config.temperature)  # Y_t, (n, classes), fixed for the whole run

    def loss_fn(model, xb, index):  # the "label" of a row is its index into the table
        return distillation_loss(model(xb), targets[index], table.labels[index], config, teacher_probs=True)  # 2

    rows = Split(table.X, torch.arange(len(table)))
    return train.fit(student, rows, val, train_config, loss_fn=loss_fn, **overrides)  # 3


# --- the lecture's claim, as one experiment -------------------------------------------------------

def alone_vs_distilled(make_student: Callable[[], nn.Module], transfer: TransferSet, labelled: Split, val: Split,
                       config: DistillConfig | None = None, *, seed: int = 0,
                       alone: train.TrainConfig | None = None, distilled: train.TrainConfig | None = None) -> dict:
    """Train one student alone on ``labelled`` and one distilled from ``transfer``, both from the same
    initial weights (``torch.manual_seed(seed)`` before ``make_student()``); return both networks.

    >>> from labkit import data, models
    >>> ds = data.load("xor")
    >>> ts = label_transfer_set(models.mlp((2,), hidden=(8,), num_classes=2), ds.train)
    >>> out = alone_vs_distilled(lambda: models.mlp((2,), hidden=(4,), num_classes=2), ts, ds.train, ds.val,
    ...                          alone=train.TrainConfig(epochs=1, progress=False),
    ...                          distilled=train.TrainConfig(epochs=1, progress=False))
    >>> sorted(out)
    ['alone', 'distilled', 'history_alone', 'history_distilled']
    """
    torch.manual_seed(seed)
    first = make_student()
    second = make_student()
    second.load_state_dict(first.state_dict())  # same initial weights: the only difference is the loss
    alone = replace(alone or train.TrainConfig(), seed=seed)
    distilled = replace(distilled or train.TrainConfig(), seed=seed)
    h_alone = train.fit(first, labelled, val, alone)
    h_kd = distill(second, transfer, labelled, val, config, distilled)
    return {"alone": first, "distilled": second, "history_alone": h_alone, "history_distilled": h_kd}
