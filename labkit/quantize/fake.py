"""Fake quantization and the straight-through estimator: training a network that will run on integers.

A fake-quantized layer computes in floats but only ever sees grid values: its weights w and its input
x pass through quantize-then-dequantize before the usual product, so the network feels the rounding
error it will meet in int8 (or int4) inference. Rounding has zero gradient almost everywhere, so the
backward pass replaces it by the identity inside the clipping range (Bengio et al. 2013; Jacob et al.
2018) and by 0 outside it, where the value was clipped:

    forward    x_hat = s (clamp(round(x / s) + z, q_min, q_max) - z)
    backward   d x_hat / d x = 1  if  s (q_min - z) <= x <= s (q_max - z)   else 0      (STE)

Post-training quantization (PTQ) wraps a trained network with frozen grids (weights min-max per
channel, activations calibrated on training inputs); quantization-aware training (QAT) fine-tunes the
same wrapped network, the activation range following an exponential moving average of min and max
(Jacob et al. 2018, decay 0.99 here for short runs).

BatchNorm is folded into the preceding Conv first (w' = w gamma / sigma, b' = (b - mu) gamma / sigma +
beta), as every integer backend does, so the quantized weights are the ones inference will use.
Used by notebook 08 and ``benchmarks/quantize.py``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import check_choice, check_range, check_type, fail
from .affine import QuantConfig, QuantParams, compute_params, observe_params, quantize, validate_bits
from .calibrate import OBSERVERS, calibrate, quantized_layers


class FakeQuantizeSTE(torch.autograd.Function):
    """x -> s (q - z) forward; gradient 1 inside [s (q_min - z), s (q_max - z)], 0 outside."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, q_min, q_max):
        q = torch.clamp(torch.round(x / scale) + zero_point, q_min, q_max)
        lo, hi = scale * (q_min - zero_point), scale * (q_max - zero_point)
        ctx.save_for_backward((x >= lo) & (x <= hi))
        return scale * (q - zero_point)

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None, None, None


def fake_quantize(x: torch.Tensor, params: QuantParams) -> torch.Tensor:
    """Quantize-dequantize ``x`` on ``params``'s grid with the straight-through gradient.

    >>> x = torch.tensor([0.3, 5.0], requires_grad=True)
    >>> fake_quantize(x, compute_params(-1.0, 1.0, bits=8)).sum().backward(); x.grad
    tensor([1., 0.])
    """
    scale, zero_point = params.reshape_for(x)
    return FakeQuantizeSTE.apply(x, scale.to(x.dtype), zero_point.to(x.dtype), params.q_min, params.q_max)


def layer_forward(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Run a Linear or Conv ``layer`` on ``x`` with ``weight`` in place of its own."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, weight, layer.bias)
    return layer._conv_forward(x, weight, layer.bias)   # Conv1d / Conv2d: stride, padding kept


class QuantizedLayer(nn.Module):
    """A Linear or Conv whose weight and input are fake-quantized.

    Activation range modes: "calibrate" (observe, no quantization), "frozen" (fixed range), "ema"
    (QAT: moving min/max, updated in training mode). ``act_bits=None`` keeps the input in float.
    """

    def __init__(self, layer: nn.Module, weight_config: QuantConfig = QuantConfig(),
                 act_bits: int | None = 8, momentum: float = 0.01):
        super().__init__()
        self.layer, self.weight_config, self.act_bits = layer, weight_config, act_bits
        self.momentum = momentum
        self.register_buffer("act_range", torch.tensor([float("nan"), float("nan")]))  # (lo, hi)
        self.mode = "ema"

    def weight_params(self) -> QuantParams:
        return observe_params(self.layer.weight.detach(), self.weight_config)

    def act_params(self) -> QuantParams:
        lo, hi = self.act_range.tolist()
        return compute_params(lo, hi, self.act_bits, "asymmetric")

    def quantized_weight(self) -> torch.Tensor:
        return fake_quantize(self.layer.weight, self.weight_params())

    def forward(self, x):
        if self.act_bits is not None:
            if self.mode == "ema" and self.training:
                lo, hi = x.detach().min(), x.detach().max()
                if torch.isnan(self.act_range).any():
                    self.act_range.copy_(torch.stack([lo, hi]))
                else:   # EMA of the batch min / max (Jacob et al. 2018)
                    self.act_range.lerp_(torch.stack([lo, hi]), self.momentum)
            if not torch.isnan(self.act_range).any():
                x = fake_quantize(x, self.act_params())
        return layer_forward(self.layer, x, self.quantized_weight())


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with each Conv -> BatchNorm pair fused into one Conv (eval statistics).

    >>> net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.ReLU()).eval()
    >>> x = torch.randn(4, 1, 8); folded = fold_batchnorm(net)
    >>> len(folded), torch.allclose(folded(x), net(x), atol=1e-5)
    (2, True)
    """
    check_type(model, nn.Module, "model", "fold_batchnorm", "a torch.nn.Module")
    model = copy.deepcopy(model).eval()
    return _fold(model)


def _fold(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.Sequential):
        layers, children = [], list(module.children())
        for child in children:
            is_bn = isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d))
            if is_bn and layers and isinstance(layers[-1], (nn.Conv1d, nn.Conv2d)):
                layers[-1] = fuse_conv_bn_eval(layers[-1], child)
            else:
                layers.append(_fold(child))
        return nn.Sequential(*layers)
    for name, child in module.named_children():
        setattr(module, name, _fold(child))
    return module


def wrap_layers(model: nn.Module, weight_config: QuantConfig = QuantConfig(), act_bits: int | None = 8,
                skip=()) -> nn.Module:
    """A BatchNorm-folded copy of ``model`` whose Linear / Conv layers are :class:`QuantizedLayer`."""
    model = fold_batchnorm(model)
    for name, layer in list(quantized_layers(model).items()):
        if name in skip:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, QuantizedLayer(layer, weight_config, act_bits))
    return model


def _check_act_bits(act_bits, owner):
    if act_bits is not None:
        validate_bits(act_bits, "asymmetric", owner)


def quantize_model(model: nn.Module, weight_config: QuantConfig = QuantConfig(), act_bits: int | None = 8,
                   calibration_X: torch.Tensor | None = None, method: str = "minmax") -> nn.Module:
    """Post-training quantization (simulated): weights on ``weight_config``'s grid, inputs calibrated.

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> q = quantize_model(net, QuantConfig(bits=8), 8, torch.randn(100, 4))
    >>> (q(torch.randn(3, 4)) - net(torch.randn(3, 4))).shape
    torch.Size([3, 2])
    """
    check_type(weight_config, QuantConfig, "weight_config", "quantize_model", "a QuantConfig")
    _check_act_bits(act_bits, "quantize_model")
    check_choice(method, OBSERVERS, "method", "quantize_model")
    if act_bits is not None and calibration_X is None:
        raise fail("calibration_X", "quantize_model", "a tensor of training inputs when act_bits is set", None)
    qmodel = wrap_layers(model, weight_config, act_bits)
    if act_bits is not None:
        float_model = fold_batchnorm(model)
        ranges = calibrate(float_model, calibration_X, method=method, bits=act_bits)
        for name, layer in quantized_layers(float_model).items():
            wrapper = qmodel.get_submodule(name)
            wrapper.act_range.copy_(torch.tensor(ranges[name]))
    for m in qmodel.modules():
        if isinstance(m, QuantizedLayer):
            m.mode = "frozen"
    return qmodel.eval()


def prepare_qat(model: nn.Module, weight_config: QuantConfig = QuantConfig(bits=4), act_bits: int | None = 8,
                calibration_X: torch.Tensor | None = None, momentum: float = 0.01) -> nn.Module:
    """A copy of ``model`` ready for quantization-aware training with ``train.fit``.

    Activation ranges start from min-max calibration (if ``calibration_X`` is given) and then follow an
    EMA of each training batch; gradients pass the rounding by the straight-through estimator.

    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> qat = prepare_qat(net, QuantConfig(bits=4)); qat(torch.randn(5, 4)).shape
    torch.Size([5, 2])
    """
    check_type(weight_config, QuantConfig, "weight_config", "prepare_qat", "a QuantConfig")
    _check_act_bits(act_bits, "prepare_qat")
    check_range(momentum, "momentum", "prepare_qat", 0.0, 1.0, low_inclusive=False)
    qmodel = quantize_model(model, weight_config, act_bits, calibration_X) if calibration_X is not None \
        else wrap_layers(model, weight_config, act_bits)
    for m in qmodel.modules():
        if isinstance(m, QuantizedLayer):
            m.mode, m.momentum = "ema", momentum
    return qmodel.train()


def weight_grids(model: nn.Module) -> dict[str, QuantParams]:
    """The weight grid of every :class:`QuantizedLayer` (what int8 inference would store)."""
    return {name: m.weight_params() for name, m in model.named_modules() if isinstance(m, QuantizedLayer)}


def integer_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The integer weights q of every :class:`QuantizedLayer`."""
    return {name: quantize(m.layer.weight.detach(), m.weight_params())
            for name, m in model.named_modules() if isinstance(m, QuantizedLayer)}
