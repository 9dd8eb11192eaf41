"""Post-training calibration: which range [lo, hi] should an activation's grid cover?

Weights are known after training, activations only when data flows. Calibration runs a few hundred
training inputs through the network, watches the input of every quantized layer, and picks a range:

    min-max     [min x, max x]                     nothing is clipped, one outlier widens every step
    percentile  [P_(100-p)(x), P_p(x)]             drops the rarest p % tails (p = 99.99, Wu et al.)
    mse         argmin_alpha ||x - Q_alpha(x)||^2   clipping error and rounding error balanced

With b bits the rounding error grows with the range (s = range / (2^b - 1), error ~ s^2 / 12) while
clipping error grows as the range shrinks; the MSE-optimal clip (Banner et al. 2019, "Post training
4-bit quantization"; Sung et al. 2015) finds the balance by a grid search over alpha.

The extension point is :meth:`Observer.compute_range`: a new calibration rule is one method.
Used by notebook 08 and by :func:`labkit.quantize.fake.quantize_model`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import check_choice, check_int, check_range, fail
from .affine import compute_params, dequantize, quantize, validate_bits

MAX_SAMPLES = 200_000   # values kept per observer: enough for a 99.99th percentile, bounded memory


class Observer:
    """Collects activation values and turns them into a range; subclasses implement ``compute_range``.

    >>> obs = MinMaxObserver(); obs.observe(torch.tensor([-1.0, 3.0])); obs.range()
    (-1.0, 3.0)
    """

    def __init__(self, bits: int = 8, scheme: str = "asymmetric", seed: int = 0):
        validate_bits(bits, scheme, type(self).__name__)
        self.bits, self.scheme = bits, scheme
        self.generator = torch.Generator().manual_seed(seed)
        self.samples: list[torch.Tensor] = []
        self.n_kept = 0
        self.lo, self.hi = float("inf"), float("-inf")

    def observe(self, x: torch.Tensor) -> None:
        x = x.detach().float().flatten()
        if x.numel() == 0:
            return
        self.lo, self.hi = min(self.lo, x.min().item()), max(self.hi, x.max().item())
        room = MAX_SAMPLES - self.n_kept
        if room > 0:
            if x.numel() > room:
                x = x[torch.randperm(x.numel(), generator=self.generator)[:room]]
            self.samples.append(x)
            self.n_kept += x.numel()

    def range(self) -> tuple[float, float]:
        if not self.samples:
            raise fail("calibration data", type(self).__name__, "at least one non-empty batch", "nothing observed")
        return self.compute_range(torch.cat(self.samples))

    def compute_range(self, values: torch.Tensor) -> tuple[float, float]:
        raise NotImplementedError


class MinMaxObserver(Observer):
    """[min x, max x] over every observed value (Jacob et al. 2018)."""

    def compute_range(self, values):
        return self.lo, self.hi


class PercentileObserver(Observer):
    """The p-th and (100-p)-th percentiles; p = 99.99 as in Wu et al. 2020 (arXiv:2004.09602)."""

    def __init__(self, bits: int = 8, scheme: str = "asymmetric", seed: int = 0, percentile: float = 99.99):
        super().__init__(bits, scheme, seed)
        self.percentile = check_range(percentile, "percentile", "PercentileObserver", 50.0, 100.0)

    def compute_range(self, values):
        q = torch.tensor([1 - self.percentile / 100, self.percentile / 100], dtype=values.dtype)
        lo, hi = torch.quantile(values, q).tolist()
        return lo, hi


class MSEObserver(Observer):
    """The clipped range [alpha lo, alpha hi] with the least round-trip error (Banner et al. 2019)."""

    def __init__(self, bits: int = 8, scheme: str = "asymmetric", seed: int = 0, grid_points: int = 100):
        super().__init__(bits, scheme, seed)
        self.grid_points = check_int(grid_points, "grid_points", "MSEObserver", low=2)

    def compute_range(self, values):
        return mse_optimal_range(values, self.bits, self.scheme, self.grid_points)


OBSERVERS = {"minmax": MinMaxObserver, "percentile": PercentileObserver, "mse": MSEObserver}


def mse_optimal_range(x: torch.Tensor, bits: int = 8, scheme: str = "asymmetric",
                      grid_points: int = 100) -> tuple[float, float]:
    """Search alpha in (0, 1] for the range [alpha min x, alpha max x] with the least ||x - Q(x)||^2.

    >>> x = torch.cat([torch.randn(10_000), torch.tensor([40.0])])   # one outlier
    >>> lo, hi = mse_optimal_range(x, bits=4, scheme="symmetric"); hi < 10
    True
    """
    validate_bits(bits, scheme, "mse_optimal_range")
    if x.numel() == 0:
        raise fail("x", "mse_optimal_range", "a non-empty tensor", "an empty tensor")
    lo, hi = x.min().item(), x.max().item()
    best, best_err = (lo, hi), float("inf")
    for alpha in torch.linspace(1.0 / grid_points, 1.0, grid_points).tolist():
        params = compute_params(alpha * lo, alpha * hi, bits, scheme)
        err = ((x - dequantize(quantize(x, params), params)) ** 2).mean().item()
        if err < best_err:
            best, best_err = (alpha * lo, alpha * hi), err
    return best


def quantized_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers whose inputs and weights get quantized: every Linear and Conv."""
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d)
    return {name: m for name, m in model.named_modules() if isinstance(m, kinds)}


@torch.no_grad()
def calibrate(model: nn.Module, X: torch.Tensor, method: str = "minmax", bits: int = 8,
              scheme: str = "asymmetric", batch_size: int = 256, **observer_kwargs) -> dict[str, tuple[float, float]]:
    """Run ``X`` (a few hundred training inputs) through ``model``; the input range of each layer.

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> ranges = calibrate(net, torch.randn(64, 4), method="percentile")
    >>> sorted(ranges), ranges["2"][0] >= 0        # after the ReLU nothing is negative
    (['0', '2'], True)
    """
    check_choice(method, OBSERVERS, "method", "calibrate")
    check_int(batch_size, "batch_size", "calibrate", low=1)
    if not isinstance(X, torch.Tensor) or X.dim() == 0 or len(X) == 0:
        raise fail("X", "calibrate", "a non-empty tensor of calibration inputs (e.g. 512 training rows)",
                   getattr(X, "shape", X))
    observers = {name: OBSERVERS[method](bits, scheme, **observer_kwargs) for name in quantized_layers(model)}
    hooks = [layer.register_forward_pre_hook(lambda m, inputs, obs=observers[name]: obs.observe(inputs[0]))
             for name, layer in quantized_layers(model).items()]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(X), batch_size):
            model(X[start:start + batch_size])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {name: obs.range() for name, obs in observers.items()}

