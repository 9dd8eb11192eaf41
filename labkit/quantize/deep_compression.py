"""Deep Compression: prune, share weights, Huffman-code, and count every stored bit (Han et al. 2016).

Han, Mao, Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained
Quantization and Huffman Coding" (ICLR 2016) chain three of the lecture's compression techniques:

    1  W <- prune(W)          remove the smallest weights of each layer, retrain, repeat (Han et al. 2015)
    2  W <- codebook[I]       k-means weight sharing per layer, retrain the codebook (labkit.quantize.kmeans)
    3  bits <- Huffman(I), Huffman(gaps)    variable-length codes for indices and positions
    return the compressed model and the size of each stage

Each layer gets its own share of survivors and its own widths, as in the paper: convolutions are
sensitive and small, fully connected layers large and redundant. AlexNet (paper, Table 4) keeps 84 %
of conv1, 35-38 % of conv2-5, 9 % of fc6 and fc7, 25 % of fc8; LeNet-300-100 keeps 8 % / 9 % / 26 %.
Shared weights take 8 bits in a conv layer and 5 in a fully connected one; gaps 8 and 5 bits (section 2).
While pruning, the dropout before a layer shrinks with its connections, D_r = D_o sqrt(C_r / C_o)
(Han et al. 2015, equation 2), since a sparse layer has less capacity to regularise.

A pruned layer is stored sparse, the paper's way: for each surviving weight its value and the gap to
the previous survivor in ``index_bits`` bits; a gap too long for that many bits gets a filler zero
entry. So each stage's size is a sum of parts that a reader can check:

    fp32      weights 32 n                   + biases 32 n_b
    pruned    values 32 e  + positions p e    + biases          (e entries incl. fillers, p = index_bits)
    shared    values b e   + positions p e    + codebook 32 k + biases
    huffman   values H(I)  + positions H(gaps) + their code tables + codebook + biases

The paper reaches 35x on AlexNet, 49x on VGG-16 and 40x on LeNet-300-100 with no accuracy loss, almost
all of it from the fully connected layers (96 % of AlexNet's weights). A small all-conv network has no
such layers: the same plan stores the lab's CNN 64-64-64 only about 7x smaller. :func:`cnn_fc` is
AlexNet's shape in miniature (a conv trunk, two wide fully connected layers with dropout), the regime
the paper describes: on MNIST-1D it compresses 25x with no loss.
``teacher_weight`` > 0 also fine-tunes towards the dense network's soft outputs (the lecture's
distillation loss, T = 2, Hinton et al. 2015); it is not in the paper and off by default.
The fp32 baseline is the deployable fp32 network, BatchNorm folded into its Conv (the smallest fp32
form). The compressed stages keep BatchNorm as it is, counted as "other" (a scale and a shift per
channel): folding it would give every channel its own scale and spoil the layer's shared codebook.
Used by notebook 08 and ``benchmarks/quantize.py``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import models
from .. import train as training
from ..errors import check_int, check_range, check_type, fail
from ..pruning.masks import apply_masks, keep_masks, prunable_weights, select_min_k
from .calibrate import quantized_layers
from .fake import fold_batchnorm
from .huffman import coded_bits
from .kmeans import bake, share_weights, shared_layers

FLOAT_BITS = 32
CONV = (nn.Conv1d, nn.Conv2d)


@dataclass
class DeepCompressionConfig:
    """Knobs of the pipeline; defaults are the paper's per-layer choices (AlexNet, Table 4)."""

    sparsity: float = 0.91        # fully connected layers (paper: fc6, fc7 keep 9 %; LeNet-300-100 ip1 8 %)
    conv_sparsity: float = 0.62   # conv layers (paper: AlexNet conv2-5 keep 35-38 %)
    first_layer_sparsity: float | None = 0.16   # the input layer (paper: conv1 keeps 84 %); None: its kind's
    last_layer_sparsity: float | None = 0.75    # the classifier (paper: fc8 keeps 25 %); None: its kind's
    prune_rounds: int = 5         # iterative pruning with retraining (Han et al. 2015)
    prune_epochs: int = 4         # retraining epochs per pruning round
    bits: int = 5                 # shared-weight index width of a fully connected layer (paper: 5)
    conv_bits: int = 8            # ... of a conv layer (paper: 8)
    share_epochs: int = 6         # codebook fine-tuning epochs
    share_lr: float = 3e-4        # codebook learning rate: a centroid moves every weight of its cluster
    index_bits: int = 5           # gap width p of a fully connected layer's sparse format (paper: 5)
    conv_index_bits: int = 8      # ... of a conv layer (paper: 8)
    lr: float = 1e-3              # retraining learning rate (Adam)
    length_bits: int = 5          # width of one code length in a Huffman table
    teacher_weight: float = 0.0   # > 0: fine-tune towards the dense model's soft outputs too (T = 2)

    def validate(self) -> "DeepCompressionConfig":
        owner = "DeepCompressionConfig"
        for name in ("sparsity", "conv_sparsity", "first_layer_sparsity", "last_layer_sparsity"):
            optional = name in ("first_layer_sparsity", "last_layer_sparsity")
            if not (optional and getattr(self, name) is None):
                check_range(getattr(self, name), name, owner, 0.0, 1.0, high_inclusive=False)
        check_int(self.prune_rounds, "prune_rounds", owner, low=1)
        check_int(self.prune_epochs, "prune_epochs", owner, low=0)
        for name in ("bits", "conv_bits", "index_bits", "conv_index_bits"):
            check_int(getattr(self, name), name, owner, low=1, high=16)
        check_int(self.share_epochs, "share_epochs", owner, low=0)
        check_range(self.lr, "lr", owner, 0.0, None, low_inclusive=False)
        check_range(self.share_lr, "share_lr", owner, 0.0, None, low_inclusive=False)
        check_range(self.teacher_weight, "teacher_weight", owner, 0.0, 1.0, high_inclusive=False)
        return self

    def layer_plan(self, model: nn.Module) -> dict[str, dict]:
        """Per prunable layer (module name): its kind, final sparsity, shared-weight bits and gap bits."""
        layers = quantized_layers(model)
        plan = {}
        for i, (name, layer) in enumerate(layers.items()):
            conv = isinstance(layer, CONV)
            sparsity = self.conv_sparsity if conv else self.sparsity
            if i == 0 and self.first_layer_sparsity is not None:
                sparsity = self.first_layer_sparsity
            if i == len(layers) - 1 and self.last_layer_sparsity is not None:
                sparsity = self.last_layer_sparsity
            plan[name] = {"kind": "conv" if conv else "fc", "sparsity": sparsity,
                          "bits": self.conv_bits if conv else self.bits,
                          "index_bits": self.conv_index_bits if conv else self.index_bits}
        return plan


def cnn_fc(input_shape=(40,), channels=(64, 64, 64), hidden=(512, 512), num_classes: int = 10,
           dropout: float = 0.5) -> nn.Sequential:
    """AlexNet's shape in miniature: labkit's 1-D conv trunk, then wide fully connected layers with dropout.

    As in AlexNet (and VGG), the fully connected layers hold most of the weights: the regime in which
    Deep Compression reaches 35-49x.

    >>> net = cnn_fc((40,), channels=(8, 8), hidden=(32,))
    >>> net(torch.zeros(2, 40)).shape, type(net[-1]).__name__
    (torch.Size([2, 10]), 'Linear')
    """
    check_range(dropout, "dropout", "cnn_fc", 0.0, 1.0, high_inclusive=False)
    trunk = models.cnn1d(input_shape, channels=channels, num_classes=num_classes)
    layers, width = list(trunk)[:-1], trunk[-1].in_features       # drop the trunk's classifier
    for h in hidden:
        check_int(h, "hidden", "cnn_fc", low=1)
        layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        width = h
    layers.append(nn.Linear(width, num_classes))                   # (batch, width) -> (batch, classes)
    return nn.Sequential(*layers)


@dataclass
class StageSize:
    """Stored bits of one stage, per layer and per part; ``bits`` is the sum of all parts."""

    stage: str
    layers: dict[str, dict[str, int]] = field(default_factory=dict)   # layer -> part -> bits

    @property
    def parts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for parts in self.layers.values():
            for part, bits in parts.items():
                out[part] = out.get(part, 0) + bits
        return out

    @property
    def bits(self) -> int:
        return sum(self.parts.values())

    @property
    def bytes(self) -> float:
        return self.bits / 8


def sparse_entries(weight: torch.Tensor, index_bits: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions and gaps of the sparse format, filler zeros included: ``(positions, gaps)``.

    The gap is the number of zeros skipped since the previous entry, at most 2^index_bits - 1.

    >>> sparse_entries(torch.tensor([0., 5., 0., 0., 0., 0., 7.]), index_bits=2)
    (tensor([1, 5, 6]), tensor([1, 3, 0]))
    """
    max_gap = 2 ** index_bits - 1
    alive = (weight.reshape(-1) != 0).nonzero().view(-1).tolist()
    positions, gaps, prev = [], [], -1
    for pos in alive:
        while pos - prev - 1 > max_gap:            # too far: a filler zero entry max_gap + 1 ahead
            prev += max_gap + 1
            positions.append(prev)
            gaps.append(max_gap)
        positions.append(pos)
        gaps.append(pos - prev - 1)
        prev = pos
    return torch.tensor(positions, dtype=torch.long), torch.tensor(gaps, dtype=torch.long)


def _plain_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {**quantized_layers(model), **shared_layers(model)}


def _other_bits(model: nn.Module) -> int:
    """fp32 parameters outside Linear / Conv weights and biases (e.g. an unfolded BatchNorm)."""
    counted = set()
    for layer in _plain_layers(model).values():
        inner = getattr(layer, "layer", layer)
        counted |= {id(inner.weight), id(inner.bias) if inner.bias is not None else None}
        counted |= {id(p) for p in layer.parameters(recurse=False)}
    return sum(p.numel() * FLOAT_BITS for p in model.parameters() if id(p) not in counted)


def stage_size(model: nn.Module, stage: str, index_bits: int = 4, length_bits: int = 5,
               conv_index_bits: int | None = None) -> StageSize:
    """The stored size of ``model`` in the format of ``stage`` ("fp32", "pruned", "shared", "huffman").

    Gaps take ``index_bits`` in a Linear layer and ``conv_index_bits`` (default: the same) in a Conv.

    >>> net = nn.Sequential(nn.Linear(4, 2))
    >>> s = stage_size(net, "fp32"); s.parts, s.bits
    ({'weights': 256, 'biases': 64}, 320)
    """
    check_int(index_bits, "index_bits", "stage_size", low=1, high=16)
    conv_index_bits = index_bits if conv_index_bits is None else conv_index_bits
    check_int(conv_index_bits, "conv_index_bits", "stage_size", low=1, high=16)
    stages = ("fp32", "pruned", "shared", "huffman")
    if stage not in stages:
        raise fail("stage", "stage_size", f"one of {', '.join(map(repr, stages))}", stage)
    size = StageSize(stage)
    layers = {n: m for n, m in _plain_layers(model).items()
              if not any(n.startswith(s + ".") for s in shared_layers(model))}   # not the inner copy
    for name, layer in layers.items():
        shared = hasattr(layer, "codebook")
        inner = layer.layer if shared else layer
        weight = layer.shared_weight().detach() if shared else inner.weight.detach()
        width = conv_index_bits if isinstance(inner, CONV) else index_bits
        parts: dict[str, int] = {}
        if stage == "fp32":
            parts["weights"] = weight.numel() * FLOAT_BITS
        else:
            positions, gaps = sparse_entries(weight, width)
            entries = positions.numel()
            if stage == "pruned":
                parts["values"] = entries * FLOAT_BITS
                parts["positions"] = entries * width
            else:
                if not shared:
                    raise fail("model", "stage_size", f"a model with shared weights (share_weights) for {stage!r}",
                               type(layer).__name__)
                symbols = _value_symbols(layer, positions)
                parts["codebook"] = layer.codebook.numel() * FLOAT_BITS
                if stage == "shared":
                    parts["values"] = entries * layer.bits
                    parts["positions"] = entries * width
                else:
                    values, gap_code = coded_bits(symbols.tolist(), length_bits), coded_bits(gaps.tolist(), length_bits)
                    parts["values"], parts["value_table"] = values["data"], values["table"]
                    parts["positions"], parts["position_table"] = gap_code["data"], gap_code["table"]
        parts["biases"] = inner.bias.numel() * FLOAT_BITS if inner.bias is not None else 0
        size.layers[name] = parts
    other = _other_bits(model)
    if other:
        size.layers["(other parameters)"] = {"other": other}
    return size


def _value_symbols(layer, positions: torch.Tensor) -> torch.Tensor:
    """Symbol per sparse entry: 0 for an exact zero (fillers), cluster index + 1 otherwise."""
    index = layer.index.reshape(-1)[positions]
    alive = layer.mask.reshape(-1)[positions]
    offset = 1 if layer.codebook.numel() < 2 ** layer.bits else 0   # pruned layers reserve symbol 0
    return torch.where(alive, index + offset, torch.zeros_like(index))


def _dropouts_before(model: nn.Module) -> dict[str, tuple[nn.Dropout, float]]:
    """Each Dropout and its original rate, keyed by the prunable layer it feeds (the next one)."""
    found, pending = {}, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout):
            pending = module
        elif isinstance(module, (nn.Linear, *CONV)) and pending is not None:
            found[name], pending = (pending, pending.p), None
    return found


def _soft_target_loss(teacher: nn.Module, weight: float, temperature: float = 2.0):
    """(1 - a) CE(y, student) + a T^2 KL(teacher_T || student_T): the dense model guides the compressed one."""
    import torch.nn.functional as F

    teacher = copy.deepcopy(teacher).eval()

    def loss_fn(model, xb, yb):
        logits = model(xb)
        with torch.no_grad():
            soft = F.softmax(teacher(xb) / temperature, dim=1)
        kd = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft, reduction="batchmean") * temperature ** 2
        return (1 - weight) * F.cross_entropy(logits, yb) + weight * kd

    return loss_fn


class DeepCompression:
    """Prune -> share -> Huffman on a trained model; sizes in ``stages_``, accuracies in ``accuracy_``.

    ``plan_`` holds each layer's sparsity and widths, ``masks_`` the survivors, ``models_`` the model
    after each stage and ``model_`` the final one as plain layers.

    >>> from labkit import data, models
    >>> ds = data.load("xor"); net = models.mlp(ds.input_shape, hidden=(16,), num_classes=2)
    >>> cfg = DeepCompressionConfig(prune_rounds=1, prune_epochs=1, share_epochs=1)
    >>> dc = DeepCompression(cfg).fit(net, ds.train, ds.val)
    >>> [s.stage for s in dc.stages_]
    ['fp32', 'pruned', 'shared', 'huffman']
    """

    def __init__(self, config: DeepCompressionConfig | None = None, seed: int = 0, progress: bool = False):
        self.config = config
        self.seed = seed
        self.progress = progress

    def fit(self, model: nn.Module, train, val) -> "DeepCompression":
        cfg = (self.config or DeepCompressionConfig()).validate()
        check_type(model, nn.Module, "model", "DeepCompression.fit", "a torch.nn.Module")
        tcfg = training.TrainConfig(lr=cfg.lr, seed=self.seed, progress=self.progress)
        loss_fn = _soft_target_loss(model, cfg.teacher_weight) if cfg.teacher_weight > 0 else None
        self.plan_ = cfg.layer_plan(model)
        sizes = lambda m, stage: stage_size(m, stage, cfg.index_bits, cfg.length_bits, cfg.conv_index_bits)  # noqa: E731
        dense = fold_batchnorm(model)
        self.models_ = {"fp32": dense}
        self.stages_ = [sizes(dense, "fp32")]
        self.accuracy_ = {"fp32": training.accuracy(dense, val)}

        # 1: prune each layer to its own sparsity in rounds, retraining after each (Han et al. 2015);
        #    a layer keeps (1 - s_f)^(r / R) of its weights after round r: the same share of the
        #    survivors goes each round. BatchNorm stays during retraining: it steadies it.
        pruned = copy.deepcopy(model)
        weights = prunable_weights(pruned)
        masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in weights.items()}
        final = {f"{n}.weight": plan["sparsity"] for n, plan in self.plan_.items()}
        dropouts = _dropouts_before(pruned)
        for r in range(1, cfg.prune_rounds + 1):
            keep = {n: (1 - s_f) ** (r / cfg.prune_rounds) for n, s_f in final.items()}
            alive = {n: m.float().mean().item() for n, m in masks.items()}
            share = {n: min(0.999, max(0.0, 1 - keep[n] / alive[n])) for n in masks}   # of the survivors
            scores = {n: p.detach().abs() for n, p in weights.items()}
            masks = select_min_k(scores, masks, 0.0, scope=share)
            apply_masks(pruned, masks)
            for layer, (dropout, rate) in dropouts.items():      # D_r = D_o sqrt(C_r / C_o)
                dropout.p = rate * math.sqrt(masks[f"{layer}.weight"].float().mean().item())
            if cfg.prune_epochs:
                training.fit(pruned, train, val, tcfg, epochs=cfg.prune_epochs, after_step=keep_masks(masks),
                             loss_fn=loss_fn)
        self.masks_ = masks
        pruned.eval()
        self.models_["pruned"] = pruned
        self.stages_.append(sizes(pruned, "pruned"))
        self.accuracy_["pruned"] = training.accuracy(pruned, val)

        # 2: share weights by k-means, b bits per layer (8 conv, 5 fc), retrain the centroids with the
        #    grouped gradients dL/dc_k = sum over cluster k (pruned weights stay 0 through the mask);
        #    biases and BatchNorm's scale and shift train along
        bits = {n: plan["bits"] for n, plan in self.plan_.items()}
        shared = share_weights(pruned, cfg.bits, seed=self.seed, bits_per_layer=bits)
        if cfg.share_epochs:
            training.fit(shared, train, val, tcfg, epochs=cfg.share_epochs, lr=cfg.share_lr, loss_fn=loss_fn)
        shared.eval()
        self.models_["shared"] = shared
        self.stages_.append(sizes(shared, "shared"))
        self.accuracy_["shared"] = training.accuracy(shared, val)

        # 3: Huffman-code indices and gaps: same weights, fewer bits
        self.stages_.append(sizes(shared, "huffman"))
        self.accuracy_["huffman"] = self.accuracy_["shared"]
        self.model_ = bake(shared)
        return self

    @property
    def ratio_(self) -> float:
        """fp32 size / final size."""
        return self.stages_[0].bits / self.stages_[-1].bits

    def layer_table(self) -> list[dict]:
        """Per layer, the paper's Table 4: weights, share kept, bits per stored entry before and after Huffman."""
        _, pruned, shared, huffman = self.stages_
        rows = []
        for name, layer in shared_layers(self.models_["shared"]).items():
            entries = pruned.layers[name]["values"] // FLOAT_BITS             # survivors + filler zeros
            dense_bits = layer.mask.numel() * FLOAT_BITS
            rows.append({"layer": name, "kind": self.plan_[name]["kind"], "weights": layer.mask.numel(),
                         "kept %": 100 * layer.mask.float().mean().item(),
                         "weight bits": layer.bits, "weight bits (Huffman)": huffman.layers[name]["values"] / entries,
                         "index bits": shared.layers[name]["positions"] / entries,
                         "index bits (Huffman)": huffman.layers[name]["positions"] / entries,
                         "stored % of fp32 weights": 100 * (sum(huffman.layers[name].values())
                                                            - huffman.layers[name]["biases"]) / dense_bits})
        return rows

    def summary(self) -> list[dict]:
        """One row per stage: stage, kbytes, ratio to fp32, validation accuracy."""
        base = self.stages_[0].bits
        return [{"stage": s.stage, "kB": s.bytes / 1000, "ratio": base / s.bits, "val_acc": self.accuracy_[s.stage]}
                for s in self.stages_]
