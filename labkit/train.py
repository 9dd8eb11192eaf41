"""Training and evaluation: the loop every topic of the lab builds on.

``fit`` is the plain mini-batch loop (forward, loss, backward, step) with what a course lab needs
around it: a seed that makes runs repeatable, a deliberate torch thread count, a ``tqdm.auto``
progress bar, early stopping on the validation loss (or accuracy) with the best weights restored, a
per-epoch history with wall and CPU seconds, and two alarms:

* a :class:`LearningWarning` when the training loss has not fallen by the end of training (unless
  it started under ``CONVERGED_LOSS``, a fine-tuning run of a model that has already learned);
* a :class:`LearningError` when no weight changed during the first epoch, the usual symptom of a
  forgotten ``optimizer.step()`` or of parameters that were never given to the optimizer.

Topics hook in without forking the loop: ``loss_fn(model, xb, yb)`` replaces the loss (distillation's
two-term loss), ``after_step(model)`` runs after each optimizer step (pruning re-applies its masks),
``on_epoch_end(model, history)`` runs after each epoch's evaluation and stops training by returning
True (a performance estimator's own stopping rule, a plot that grows as training runs).

Threads: tiny models on a busy 2-core machine train ~15x faster with one torch thread than with two,
so ``threads=1`` is the default. Used by every notebook.
"""
from __future__ import annotations

import random
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Split
from .errors import check_choice, check_int, check_range, check_type, fail


class LearningError(RuntimeError):
    """Training did not change the model at all."""


class LearningWarning(UserWarning):
    """Training ran, but the loss did not fall."""


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`; the defaults suit the lab's small models on MNIST-1D."""

    epochs: int = 20            # passes over the training split
    lr: float = 1e-3            # Adam's default step size (Kingma & Ba 2015)
    batch_size: int = 128
    optimizer: str = "adam"     # "adam" | "adamw" | "sgd"
    momentum: float = 0.9       # SGD only
    weight_decay: float = 0.0   # L2 penalty (decoupled for "adamw")
    patience: int | None = None  # early stopping: epochs without a better monitored value; None = off
    monitor: str = "val_loss"   # what early stopping watches: "val_loss" (lower) | "val_acc" (higher)
    seed: int = 0               # model init is the caller's; this fixes shuffling and dropout
    threads: int | None = 1     # torch intra-op threads; None leaves torch's setting alone
    progress: bool = True       # tqdm.auto bar over epochs

    def validate(self) -> "TrainConfig":
        owner = "TrainConfig"
        check_int(self.epochs, "epochs", owner, low=1)
        check_range(self.lr, "lr", owner, 0.0, None, low_inclusive=False)
        check_int(self.batch_size, "batch_size", owner, low=1)
        check_choice(self.optimizer, OPTIMIZERS, "optimizer", owner)
        check_range(self.momentum, "momentum", owner, 0.0, 1.0, high_inclusive=False)
        check_range(self.weight_decay, "weight_decay", owner, 0.0)
        if self.patience is not None:
            check_int(self.patience, "patience", owner, low=1)
        check_choice(self.monitor, MONITORS, "monitor", owner)
        check_int(self.seed, "seed", owner, low=0)
        if self.threads is not None:
            check_int(self.threads, "threads", owner, low=1)
        return self


OPTIMIZERS = ("adam", "adamw", "sgd")
MONITORS = ("val_loss", "val_acc")
# A training loss under 0.05 nats (on average >= 95 % probability on the right class) is a model that
# has learned: a fine-tuning run that starts there and wobbles gets no LearningWarning.
CONVERGED_LOSS = 0.05


@dataclass
class History:
    """Per-epoch record of a :func:`fit` run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)      # wall clock
    epoch_cpu_seconds: list[float] = field(default_factory=list)  # this process's CPU time: fairer on a busy machine
    best_epoch: int | None = None     # index of the restored epoch when early stopping is on
    stopped_early: bool = False

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    @property
    def cpu_seconds(self) -> float:
        return float(sum(self.epoch_cpu_seconds))

    def as_dict(self) -> dict:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch in one call."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(n: int | None) -> None:
    """Set torch's intra-op thread count (``None`` leaves it alone)."""
    if n is not None:
        check_int(n, "threads", "set_threads", low=1)
        torch.set_num_threads(n)


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``config.optimizer``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def cross_entropy_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """The default ``loss_fn``: cross-entropy of the model's logits against the labels."""
    return F.cross_entropy(model(xb), yb)


def fit(model: nn.Module, train: Split, val: Split | None = None, config: TrainConfig | None = None, *,
        loss_fn: Callable | None = None, after_step: Callable | None = None,
        on_epoch_end: Callable | None = None, torch_optimizer: torch.optim.Optimizer | None = None, **overrides) -> History:
    """Train ``model`` on ``train``; evaluate on ``val`` after every epoch.

    Keyword ``overrides`` replace fields of ``config`` (``fit(net, tr, va, epochs=5)``). Pass a
    ``torch_optimizer`` to train only some parameters or to keep optimizer state between calls.

    >>> from labkit import data, models
    >>> ds = data.load("xor")
    >>> net = models.mlp(ds.input_shape, hidden=(8,), num_classes=2)
    >>> hist = fit(net, ds.train, ds.val, epochs=2, progress=False)
    >>> len(hist.val_acc)
    2
    """
    config = replace(config or TrainConfig(), **overrides).validate()
    check_type(model, nn.Module, "model", "fit", "a torch.nn.Module")
    check_type(train, Split, "train", "fit", "a labkit.data.Split")
    if val is not None:
        check_type(val, Split, "val", "fit", "a labkit.data.Split or None")
    if config.patience is not None and val is None:
        raise fail("patience", "fit", "None when no validation split is given", config.patience)
    set_threads(config.threads)
    seed_everything(config.seed)
    loss_fn = loss_fn or cross_entropy_loss
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch_optimizer or make_optimizer(params, config)
    loader = train.loader(config.batch_size, shuffle=True, seed=config.seed)
    hist = History()
    sign = 1.0 if config.monitor == "val_loss" else -1.0   # compare "lower is better" either way
    best_state, best_score, bad_epochs = None, float("inf"), 0
    start_weights = [p.detach().clone() for p in params]
    epochs = _progress(range(config.epochs), config.progress, desc="epochs")
    for epoch in epochs:
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, xb, yb)
            if not torch.isfinite(loss):
                raise LearningError(f"The loss became {loss.item()} in epoch {epoch}: lower the learning rate.")
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(model)
            total += loss.item() * len(yb)
            seen += len(yb)
        hist.train_loss.append(total / seen)
        if epoch == 0 and params and all(torch.equal(p, w) for p, w in zip(params, start_weights)):
            raise LearningError("No weight changed during the first epoch: is optimizer.step() called, "
                                "and were the model's parameters given to the optimizer?")
        if val is not None:
            ev = evaluate(model, val)
            hist.val_loss.append(ev["loss"])
            hist.val_acc.append(ev["accuracy"])
        hist.epoch_seconds.append(time.perf_counter() - t0)
        hist.epoch_cpu_seconds.append(time.process_time() - c0)
        if config.progress and val is not None and hasattr(epochs, "set_postfix"):
            epochs.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", val_acc=f"{hist.val_acc[-1]:.3f}")
        if config.patience is not None:
            score = sign * getattr(hist, config.monitor)[-1]
            if score < best_score - 1e-6:
                best_score, bad_epochs, hist.best_epoch = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= config.patience:
                    hist.stopped_early = True
                    break
        if on_epoch_end is not None and on_epoch_end(model, hist):
            hist.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    if (len(hist.train_loss) >= 2 and not hist.train_loss[-1] < hist.train_loss[0]
            and hist.train_loss[0] > CONVERGED_LOSS):      # a fine-tuning run near zero may wobble
        warnings.warn(f"The training loss did not fall ({hist.train_loss[0]:.4f} -> {hist.train_loss[-1]:.4f}): "
                      "check the learning rate and the loss.", LearningWarning, stacklevel=2)
    return hist


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Logits ``(n, classes)`` of ``model`` on ``X`` in eval mode, in batches."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, split: Split) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split``."""
    logits = predict_logits(model, split.X)
    return {"loss": F.cross_entropy(logits, split.y).item(),
            "accuracy": (logits.argmax(1) == split.y).float().mean().item()}


def accuracy(model: nn.Module, split: Split) -> float:
    """Share of ``split`` that ``model`` classifies correctly."""
    return evaluate(model, split)["accuracy"]


def _progress(iterable, enabled: bool, **kwargs):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, leave=False, **kwargs)
