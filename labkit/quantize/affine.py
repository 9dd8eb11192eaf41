"""Uniform affine quantization: a real number becomes a small integer and a shared scale.

The lecture's third compression technique, "уменьшение разрядности представления НС" (fewer bits per
number). A float tensor x is mapped onto a grid of 2^b integer levels and back:

    q = clamp(round(x / s) + z, q_min, q_max)          quantize   (integers, b bits)
    x ~ x_hat = s * (q - z)                             dequantize (the grid point nearest to x)

The scale s is the step between neighbouring grid points and the zero point z is the integer that
stands for the real 0 (so zero padding and ReLU zeros are exact). For a range [lo, hi]:

    symmetric   q in [-(2^(b-1) - 1), 2^(b-1) - 1],  s = max(|lo|, |hi|) / (2^(b-1) - 1),  z = 0
    asymmetric  q in [0, 2^b - 1],                   s = (hi - lo) / (2^b - 1),            z = round(-lo / s)

Per tensor, one (s, z) serves the whole tensor; per channel, each output channel (axis 0 of a weight)
gets its own, so one channel with large weights does not coarsen the grid of all the others. Inside the
range the round trip errs by at most s / 2; outside it the value is clipped to the nearest end.

Papers: Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference" (the affine scheme and z); Krishnamoorthi 2018, "Quantizing deep
convolutional networks for efficient inference: a whitepaper" (per-channel weights, symmetric restricted
range [-127, 127] for int8). Used by notebook 08 and by the rest of ``labkit.quantize``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import check_choice, check_int, fail

SCHEMES = ("symmetric", "asymmetric")
GRANULARITIES = ("per_tensor", "per_channel")


@dataclass(frozen=True)
class QuantConfig:
    """How to quantize one tensor (defaults: Krishnamoorthi 2018's int8 weights)."""

    bits: int = 8                      # b: 2^b levels; 1..16 accepted, 2..8 taught
    scheme: str = "symmetric"          # "symmetric" (z = 0) or "asymmetric" (z shifts the grid)
    granularity: str = "per_channel"   # "per_tensor" or "per_channel" (one scale per output channel)
    axis: int = 0                      # the channel axis: 0 is the output channel of Linear / Conv

    def __post_init__(self):
        validate_bits(self.bits, self.scheme, "QuantConfig")
        check_choice(self.granularity, GRANULARITIES, "granularity", "QuantConfig")
        check_int(self.axis, "axis", "QuantConfig")


@dataclass
class QuantParams:
    """The grid of one quantized tensor: scale and zero point (per channel: one per channel)."""

    scale: torch.Tensor        # s, shape () or (channels,)
    zero_point: torch.Tensor   # z, integers, same shape as scale
    q_min: int
    q_max: int
    axis: int | None = None    # None: per tensor

    def reshape_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and zero point shaped to broadcast against ``x`` along ``axis``."""
        if self.axis is None:
            return self.scale, self.zero_point
        shape = [1] * x.dim()
        shape[self.axis] = -1                      # (channels,) -> (1, .., channels, .., 1)
        return self.scale.reshape(shape), self.zero_point.reshape(shape)


def validate_bits(bits, scheme: str, owner: str) -> int:
    """Raise unless ``bits`` is an int in [1, 16] (the symmetric grid needs at least 2).

    >>> validate_bits(4, "symmetric", "quantize")
    4
    """
    check_choice(scheme, SCHEMES, "scheme", owner)
    check_int(bits, "bits", owner, low=1, high=16)
    if scheme == "symmetric" and bits < 2:
        raise fail("bits", owner, "an int in [2, 16] for the symmetric scheme (1 bit leaves only 0)", bits)
    return bits


def integer_range(bits: int, scheme: str = "symmetric") -> tuple[int, int]:
    """The integer levels [q_min, q_max] of a b-bit grid.

    >>> integer_range(8, "symmetric"), integer_range(8, "asymmetric")
    ((-127, 127), (0, 255))
    """
    validate_bits(bits, scheme, "integer_range")
    if scheme == "symmetric":
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1


def compute_params(lo, hi, bits: int = 8, scheme: str = "symmetric", axis: int | None = None) -> QuantParams:
    """Scale and zero point for the range [lo, hi] (tensors of shape () or (channels,)).

    >>> p = compute_params(torch.tensor(-1.0), torch.tensor(1.0), bits=8)
    >>> round(p.scale.item() * 127, 6), p.zero_point.item()
    (1.0, 0)
    """
    q_min, q_max = integer_range(bits, scheme)
    lo = torch.as_tensor(lo, dtype=torch.float32)
    hi = torch.as_tensor(hi, dtype=torch.float32)
    lo, hi = torch.minimum(lo, torch.zeros_like(lo)), torch.maximum(hi, torch.zeros_like(hi))  # 0 on the grid
    tiny = torch.finfo(torch.float32).tiny
    if scheme == "symmetric":
        scale = torch.maximum(-lo, hi) / q_max                       # s = max|x| / (2^(b-1) - 1)
        zero_point = torch.zeros_like(scale, dtype=torch.int64)      # z = 0
    else:
        scale = (hi - lo) / (q_max - q_min)                          # s = (hi - lo) / (2^b - 1)
        zero_point = (q_min - torch.round(lo / scale.clamp_min(tiny))).clamp(q_min, q_max).long()
    return QuantParams(scale.clamp_min(tiny), zero_point, q_min, q_max, axis)


def observe_params(x: torch.Tensor, config: QuantConfig = QuantConfig()) -> QuantParams:
    """Min-max parameters of ``x`` per tensor or per channel, as ``config`` says.

    >>> observe_params(torch.tensor([[1.0, -2.0], [0.5, 0.25]])).scale * 127
    tensor([2.0000, 0.5000])
    """
    if config.granularity == "per_tensor" or x.dim() == 0:
        return compute_params(x.min(), x.max(), config.bits, config.scheme)
    axis = config.axis % x.dim()
    per_channel = x.detach().transpose(0, axis).reshape(x.shape[axis], -1)   # (channels, rest)
    return compute_params(per_channel.min(1).values, per_channel.max(1).values, config.bits, config.scheme, axis)


def quantize(x: torch.Tensor, params: QuantParams) -> torch.Tensor:
    """q = clamp(round(x / s) + z, q_min, q_max), as int64 (the integers a kernel would store).

    >>> quantize(torch.tensor([0.1, -5.0]), compute_params(-1.0, 1.0, 8))
    tensor([  13, -127])
    """
    scale, zero_point = params.reshape_for(x)
    return torch.clamp(torch.round(x / scale) + zero_point, params.q_min, params.q_max).long()


def dequantize(q: torch.Tensor, params: QuantParams) -> torch.Tensor:
    """x_hat = s (q - z): the real value that the integer q stands for.

    >>> dequantize(torch.tensor([127]), compute_params(-1.0, 1.0, 8))
    tensor([1.])
    """
    scale, zero_point = params.reshape_for(q)
    return scale * (q - zero_point).float()


def quantize_dequantize(x: torch.Tensor, config: QuantConfig = QuantConfig(),
                        params: QuantParams | None = None) -> torch.Tensor:
    """x -> nearest grid point (min-max range unless ``params`` is given): the error quantization adds.

    >>> quantize_dequantize(torch.tensor([0.0, 0.3, 1.0]), QuantConfig(bits=2, granularity="per_tensor"))
    tensor([0., 0., 1.])
    """
    params = observe_params(x, config) if params is None else params
    return dequantize(quantize(x, params), params)


def quantization_error(x: torch.Tensor, config: QuantConfig = QuantConfig()) -> float:
    """Mean squared error of the round trip, ||x - x_hat||^2 / n.

    >>> quantization_error(torch.tensor([0.0, 1.0]), QuantConfig(bits=8, granularity="per_tensor"))
    0.0
    """
    return float(((x - quantize_dequantize(x, config)) ** 2).mean())


def grid(params: QuantParams, channel: int = 0) -> torch.Tensor:
    """The real values of all 2^b levels (of one channel): the vertical lines of notebook 08's histogram.

    >>> grid(compute_params(-1.0, 1.0, bits=2))
    tensor([-1.,  0.,  1.])
    """
    q = torch.arange(params.q_min, params.q_max + 1)
    scale = params.scale if params.scale.dim() == 0 else params.scale[channel]
    zero_point = params.zero_point if params.zero_point.dim() == 0 else params.zero_point[channel]
    return scale * (q - zero_point).float()
