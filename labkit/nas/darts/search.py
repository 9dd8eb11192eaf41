"""The bilevel optimisation of DARTS: weights w on training data, architecture alpha on validation data.

DARTS (Liu, Simonyan, Yang 2019, eq. 3-4) searches

    min_alpha  L_val(w*(alpha), alpha)    subject to    w*(alpha) = argmin_w L_train(w, alpha)

and approximates w*(alpha) by one virtual gradient step (eq. 6-8, Algorithm 1):

    1: w' = w - xi * grad_w L_train(w, alpha)                                   (virtual step)
    2: grad_alpha L_val(w', alpha)  and  v = grad_w' L_val(w', alpha)
    3: eps = 0.01 / ||v||;  w+- = w +- eps * v
    4: H v ~ (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps)   (eq. 8)
    5: grad_alpha ~ grad_alpha L_val(w', alpha) - xi * H v                     (eq. 7)
    6: alpha <- alpha - lr_alpha * grad_alpha  (Adam);  then  w <- w - lr_w * grad_w L_train  (SGD)

The first-order variant sets xi = 0: steps 1 and 3-5 vanish and alpha follows grad_alpha L_val(w, alpha)
(paper: 1.5 GPU-days and 3.00 % CIFAR-10 error, second order 4 GPU-days and 2.76 %). Both splits come
from the TRAINING data (the paper halves CIFAR-10's training set); the test split is never touched.

Warm-up: the first ``warmup_epochs`` epochs train w alone (P-DARTS, Chen et al. 2019; PC-DARTS, Xu et
al. 2020). In an untrained supernet the operations without weights (skip, pooling) lower L_val first,
so alpha would rank them first and a fast alpha optimiser locks that lead in (Wang et al. 2021). On
MNIST-1D, 4 warm-up epochs with alpha at 10x the paper's rate derived pooling-heavy cells that lost to
random cells (0.950-0.960 validation accuracy against 0.969); half the search as warm-up and the
paper's rate gave 0.969-0.974 on the three seeds the defaults were chosen on (``benchmarks/darts.py``
measures fresh ones).
Used by notebook 07 and ``benchmarks/darts.py``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from labkit.errors import check_choice, check_int, check_positive, check_range, check_type
from labkit.data import as_split
from labkit.nas.darts.cell import NetworkConfig, SearchNetwork
from labkit.nas.darts.genotype import derive
from labkit.nas.darts.perturb import PerturbationSelection


@dataclass
class SearchConfig:
    """Hyper-parameters of the search; paper values in comments, changed ones say why."""

    order: str = "first"          # "first" (xi = 0) or "second" (unrolled, xi = w_lr)
    epochs: int = 20              # paper 50; 20 fit in 3 CPU-minutes (1600 + 1600 samples, one thread)
    warmup_epochs: int = 10       # w only, alpha frozen (P-DARTS: 10 of 25, PC-DARTS: 15 of 50), so
                                  # that pooling/skip do not win because convolutions start untrained
    batch_size: int = 64          # paper 64
    w_lr: float = 0.025           # paper 0.025, SGD momentum 0.9, cosine annealed to w_lr_min
    w_lr_min: float = 0.001       # paper 0.001
    w_momentum: float = 0.9       # paper 0.9
    w_weight_decay: float = 3e-4  # paper 3e-4
    grad_clip: float = 5.0        # paper 5
    alpha_lr: float = 3e-4        # paper 3e-4 (Adam). 10x more moved alpha in ~250 steps, but towards
                                  # pooling: alpha then follows the earliest gain, not the best cell
    alpha_weight_decay: float = 1e-3  # paper 1e-3, Adam betas (0.5, 0.999)
    eps_scale: float = 0.01       # paper: eps = 0.01 / ||grad_w' L_val||
    max_skips: int | None = None  # collapse guard: stop when the derived cell has more skips
    selection: str = "argmax"     # "argmax": the paper's derivation from alpha's magnitude;
                                  # "perturbation": DARTS-PT (Wang et al. 2021), what the supernet needs
    pt_samples: int | None = None  # validation samples DARTS-PT measures on (None: the whole alpha split)
    pt_tune_steps: int = 0        # DARTS-PT: w steps after each decision (paper: a few epochs)
    seed: int = 0
    threads: int = 1

    def __post_init__(self):
        owner = "SearchConfig"
        check_choice(self.order, ("first", "second"), "order", owner)
        check_int(self.epochs, "epochs", owner, low=1)
        check_int(self.warmup_epochs, "warmup_epochs", owner, low=0, high=self.epochs - 1)
        check_int(self.batch_size, "batch_size", owner, low=2)
        for name in ("w_lr", "alpha_lr", "eps_scale", "grad_clip"):
            check_positive(getattr(self, name), name, owner)
        check_range(self.w_lr_min, "w_lr_min", owner, 0.0, None)
        check_range(self.w_momentum, "w_momentum", owner, 0.0, 1.0, high_inclusive=False)
        check_range(self.w_weight_decay, "w_weight_decay", owner, 0.0, None)
        check_range(self.alpha_weight_decay, "alpha_weight_decay", owner, 0.0, None)
        if self.max_skips is not None:
            check_int(self.max_skips, "max_skips", owner, low=0)
        check_int(self.threads, "threads", owner, low=1)
        check_choice(self.selection, ("argmax", "perturbation"), "selection", owner)
        if self.pt_samples is not None:
            check_int(self.pt_samples, "pt_samples", owner, low=1)
        check_int(self.pt_tune_steps, "pt_tune_steps", owner, low=0)


def _loss(net, params, x, y):
    return F.cross_entropy(functional_call(net, params, (x,)), y)


def unrolled_alpha_grad(net: SearchNetwork, train_batch, val_batch, xi: float,
                        eps_scale: float = 0.01) -> torch.Tensor:
    """The second-order architecture gradient (Algorithm 1 lines 1-5), w untouched.

    >>> net = SearchNetwork(10, NetworkConfig(channels=2, cells=1, nodes=1))
    >>> b = (torch.randn(4, 40), torch.tensor([0, 1, 2, 3]))
    >>> unrolled_alpha_grad(net, b, b, xi=0.01).shape
    torch.Size([2, 8])
    """
    (xt, yt), (xv, yv) = train_batch, val_batch
    names = [n for n, _ in net.named_weights()]
    w = [p.detach() for _, p in net.named_weights()]
    alphas = {"alphas": net.alphas}
    # 1: w' = w - xi * grad_w L_train(w, alpha)
    w_req = [t.clone().requires_grad_(True) for t in w]
    g_train = torch.autograd.grad(_loss(net, dict(zip(names, w_req)), xt, yt), w_req)
    w_prime = [(t - xi * g).requires_grad_(True) for t, g in zip(w, g_train)]
    # 2: grad_alpha L_val(w', alpha) and v = grad_w' L_val(w', alpha)
    grads = torch.autograd.grad(_loss(net, {**dict(zip(names, w_prime)), **alphas}, xv, yv),
                                [net.alphas, *w_prime])
    d_alpha, v = grads[0], grads[1:]
    # 3: eps = 0.01 / ||v||
    eps = eps_scale / torch.sqrt(sum((g * g).sum() for g in v))
    # 4: Hessian-vector product by central differences of grad_alpha L_train
    g_pm = []
    for sign in (1.0, -1.0):
        shifted = {n: t + sign * eps * g for n, t, g in zip(names, w, v)}
        g_pm.append(torch.autograd.grad(_loss(net, {**shifted, **alphas}, xt, yt), net.alphas)[0])
    hessian_v = (g_pm[0] - g_pm[1]) / (2 * eps)
    # 5: grad_alpha ~ grad_alpha L_val(w', alpha) - xi * H v
    return d_alpha - xi * hessian_v


class DartsSearch:
    """Differentiable architecture search on a train/validation split of the training data.

    ``fit(train, val)`` runs ``config.epochs`` epochs of :meth:`step`; afterwards ``genotype_``,
    ``alpha_history_`` (epochs + 1, edges, ops) of softmax weights, ``history_`` (losses, accuracies,
    skip counts, seconds per epoch) and ``net_`` hold the result. With
    ``SearchConfig(selection="perturbation")`` the cell comes from DARTS-PT (``selector_``) and
    ``argmax_genotype_`` keeps the paper's derivation for comparison. For a loop of your own, call
    :meth:`setup` once and then :meth:`step` on (train batch, validation batch) pairs.

    >>> import torch
    >>> from labkit.nas.darts import NetworkConfig, SearchConfig, DartsSearch
    >>> x, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    >>> s = DartsSearch(NetworkConfig(channels=2, cells=1, nodes=2), SearchConfig(epochs=1, warmup_epochs=0, batch_size=32))
    >>> s.fit((x, y), (x, y), num_classes=10).alpha_history_.shape
    (2, 5, 8)
    """

    def __init__(self, network: NetworkConfig | None = None, config: SearchConfig | None = None):
        self.network = network
        self.config = config

    def setup(self, num_classes: int, steps_per_epoch: int):
        """Build the search network and both optimisers (lines 0 of Algorithm 1)."""
        cfg = self.config or SearchConfig()
        check_type(cfg, SearchConfig, "config", "DartsSearch", "a SearchConfig")
        torch.manual_seed(cfg.seed)
        self.cfg_ = cfg
        self.net_ = SearchNetwork(num_classes, self.network or NetworkConfig())
        self.w_opt_ = torch.optim.SGD(self.net_.weights(), lr=cfg.w_lr, momentum=cfg.w_momentum,
                                      weight_decay=cfg.w_weight_decay)
        self.w_sched_ = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_opt_, T_max=cfg.epochs * steps_per_epoch, eta_min=cfg.w_lr_min)
        self.alpha_opt_ = torch.optim.Adam([self.net_.alphas], lr=cfg.alpha_lr, betas=(0.5, 0.999),
                                           weight_decay=cfg.alpha_weight_decay)
        return self

    def step(self, train_batch, val_batch=None) -> float:
        """One bilevel step: alpha on the validation batch, then w on the training batch.

        Without ``val_batch`` only w moves (the warm-up epochs).
        """
        net, cfg = self.net_, self.cfg_
        net.train()
        if val_batch is not None:
            self.alpha_opt_.zero_grad()
            if cfg.order == "first":  # xi = 0: grad_alpha L_val(w, alpha)
                F.cross_entropy(net(val_batch[0]), val_batch[1]).backward()
            else:
                xi = self.w_sched_.get_last_lr()[0]  # paper: xi = current learning rate of w
                net.alphas.grad = unrolled_alpha_grad(net, train_batch, val_batch, xi, cfg.eps_scale)
            self.alpha_opt_.step()  # 6: alpha step
        self.w_opt_.zero_grad()
        loss = F.cross_entropy(net(train_batch[0]), train_batch[1])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.weights(), cfg.grad_clip)
        self.w_opt_.step()  # 6: w step
        self.w_sched_.step()
        net.alphas.grad = None  # the w step must not leave a stale alpha gradient behind
        return float(loss.detach())

    def fit(self, train, val, num_classes: int | None = None, progress=None):
        """Search: ``train`` and ``val`` are Splits (or (X, y) pairs), both carved from training data.

        ``progress`` is an optional callable ``(epoch, history) -> None`` (a tqdm bar, a plot).
        """
        train = as_split(train, "train", "DartsSearch.fit")
        xt, yt = train.X, train.y
        val = as_split(val, "val", "DartsSearch.fit")
        xv, yv = val.X, val.y
        cfg = self.config or SearchConfig()
        if num_classes is None:
            num_classes = int(max(yt.max(), yv.max())) + 1
        steps = max(1, len(xt) // cfg.batch_size)
        self.setup(num_classes, steps)
        torch.set_num_threads(cfg.threads)
        gen = torch.Generator().manual_seed(cfg.seed)
        self.history_ = {"train_loss": [], "val_loss": [], "val_acc": [], "skips": [], "seconds": [],
                         "genotypes": []}
        self.alpha_history_ = [self._weights()]
        self.stopped_epoch_ = None
        self.genotype_ = derive(self.net_.alphas, self.net_.primitives)
        for epoch in range(cfg.epochs):
            start = time.perf_counter()
            order_t = torch.randperm(len(xt), generator=gen)
            order_v = torch.randint(len(xv), (steps * cfg.batch_size,), generator=gen)
            losses = []
            for s in range(steps):
                it = order_t[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                iv = order_v[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                val_batch = (xv[iv], yv[iv]) if epoch >= cfg.warmup_epochs else None
                losses.append(self.step((xt[it], yt[it]), val_batch))
            seconds = time.perf_counter() - start
            val_loss, val_acc = self._evaluate(xv, yv)
            genotype = derive(self.net_.alphas, self.net_.primitives)
            h = self.history_
            h["train_loss"].append(float(np.mean(losses)))
            h["val_loss"].append(val_loss)
            h["val_acc"].append(val_acc)
            h["skips"].append(genotype.count("skip_connect"))
            h["seconds"].append(seconds)
            h["genotypes"].append(genotype.to_list())
            self.alpha_history_.append(self._weights())
            if progress is not None:
                progress(epoch, h)
            guarded = cfg.max_skips is not None and epoch >= cfg.warmup_epochs
            if guarded and genotype.count("skip_connect") > cfg.max_skips:
                # collapse guard (DARTS+): stop, and keep the cell of the epoch before, capped
                # (P-DARTS) in case that one already had too many skips
                self.stopped_epoch_ = epoch
                self.genotype_ = derive(np.log(self.alpha_history_[-2]), self.net_.primitives,
                                        max_skips=cfg.max_skips)
                break
            self.genotype_ = genotype
        self.alpha_history_ = np.stack(self.alpha_history_)
        self.argmax_genotype_ = self.genotype_
        if cfg.selection == "perturbation":
            n = len(xv) if cfg.pt_samples is None else min(cfg.pt_samples, len(xv))
            self.selector_ = PerturbationSelection(tune_steps=cfg.pt_tune_steps, tune_lr=cfg.w_lr_min,
                                                   batch_size=cfg.batch_size, seed=cfg.seed)
            self.selector_.fit(self.net_, (xv[:n], yv[:n]), (xt, yt))
            self.genotype_ = self.selector_.genotype_
        return self

    def _weights(self) -> np.ndarray:
        return F.softmax(self.net_.alphas.detach(), dim=-1).numpy().copy()

    @torch.no_grad()
    def _evaluate(self, x, y, batch: int = 500):
        self.net_.eval()
        logits = torch.cat([self.net_(x[i:i + batch]) for i in range(0, len(x), batch)])
        self.net_.train()
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


