"""Efficiency of a trained network: size, MACs/FLOPs and latency (the lecture's first slide).

* **Size**: parameters, non-zero parameters, and bytes on disk for dense fp32 / fp16 / int8 and for
  two sparse formats. Sparse storage pays for positions: a bitmask costs one bit per entry, CSR
  costs a 32-bit column index per non-zero plus a row pointer per row, so unstructured sparsity only
  saves bytes once enough weights are zero.
* **MACs**: one multiply-accumulate (a*b + c) = 1 MAC = 2 FLOPs. fvcore, thop and ptflops report MACs;
  ``torch.utils.flop_counter.FlopCounterMode`` reports FLOPs = 2 x MACs. Per layer:

      Linear:     MACs = out.numel() * in_features
      Conv1d/2d:  MACs = out.numel() * (in_channels / groups) * prod(kernel_size)   (depthwise: groups = C)
      BatchNorm:  MACs = out.numel()   (one scale-and-shift per value, foldable into the conv before it)
      pooling, activations, dropout, reshapes: 0 MACs (listed in the table)

  Biases and functional operations (residual additions, ``torch.cat``) are not counted, as in the
  FLOP counters above. A layer type without a rule is an error that names it, never a silent zero:
  :func:`register_mac_rule` teaches the counter a new layer.
* **Latency**: wall time of a forward pass after warm-up, median and quartiles over repeats, with the
  batch size and thread count recorded, since both change the answer. Latency is not MACs: memory
  traffic, kernel launch overhead and how well a layer shape fits the CPU's vector units all matter.

Used by notebook 00 and by every topic that reports what it saved.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .errors import ParameterError, check_choice, check_int, check_type, fail

# --- size -----------------------------------------------------------------------------------------


def effective_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights a forward pass uses: masked ``weight`` instead of ``weight_orig`` under torch's prune."""
    out = {}
    for mod_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if name.endswith("_orig") and isinstance(getattr(module, name[:-5], None), torch.Tensor):
                name, param = name[:-5], getattr(module, name[:-5])
            out[f"{mod_name}.{name}" if mod_name else name] = param.detach()
    return out


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor once).

    >>> count_params(nn.Linear(1000, 10))
    10010
    """
    check_type(model, nn.Module, "model", "count_params", "a torch.nn.Module")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_nonzero(model: nn.Module) -> int:
    """Number of non-zero weights in use (masks applied).

    >>> lin = nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad(): _ = lin.weight.zero_()
    >>> count_nonzero(lin)
    0
    """
    check_type(model, nn.Module, "model", "count_nonzero", "a torch.nn.Module")
    return sum(int(torch.count_nonzero(t)) for t in effective_tensors(model).values())


BYTES_PER_VALUE = {"fp32": 4, "fp16": 2, "int8": 1}
INDEX_BYTES = 4          # 32-bit indices for CSR
QUANT_META_BYTES = 8     # int8: one fp32 scale and one int32 zero point per tensor


def model_bytes(model: nn.Module, dtype: str = "fp32", sparse: str | None = None) -> int:
    """Bytes to store the model's weights and floating buffers (e.g. BatchNorm statistics).

    ``sparse="bitmask"`` stores 1 bit per entry plus the non-zeros; ``sparse="csr"`` stores non-zeros,
    a column index per non-zero and ``rows + 1`` row pointers. Sparse formats apply to tensors with
    two or more dimensions (weights viewed as ``(rows, -1)``); vectors stay dense.

    >>> model_bytes(nn.Linear(1000, 10))
    40040
    >>> model_bytes(nn.Linear(1000, 10), dtype="int8")
    10026
    """
    check_type(model, nn.Module, "model", "model_bytes", "a torch.nn.Module")
    check_choice(dtype, BYTES_PER_VALUE, "dtype", "model_bytes")
    check_choice(sparse, (None, "csr", "bitmask"), "sparse", "model_bytes")
    b = BYTES_PER_VALUE[dtype]
    tensors = list(effective_tensors(model).values())
    tensors += [t for t in model.buffers() if t.is_floating_point()]
    total = 0
    for t in tensors:
        n, nnz = t.numel(), int(torch.count_nonzero(t))
        if sparse is None or t.dim() < 2:
            total += n * b
        elif sparse == "bitmask":
            total += (n + 7) // 8 + nnz * b
        else:  # csr
            rows = t.shape[0]
            total += nnz * (b + INDEX_BYTES) + (rows + 1) * INDEX_BYTES
        if dtype == "int8":
            total += QUANT_META_BYTES
    return total


# --- MACs -----------------------------------------------------------------------------------------

MacRule = Callable[[nn.Module, tuple, torch.Tensor], int]
_RULES: dict[type, tuple[str, MacRule]] = {}


def register_mac_rule(module_type: type, rule: MacRule, kind: str = "custom") -> None:
    """Teach the MAC counter a layer type: ``rule(module, inputs, output) -> MACs``.

    >>> class Scale(nn.Module):
    ...     def forward(self, x): return 2 * x
    >>> register_mac_rule(Scale, lambda m, i, o: o.numel(), kind="elementwise")
    >>> count_macs(Scale(), (5,))
    5
    """
    if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
        raise fail("module_type", "register_mac_rule", "a subclass of torch.nn.Module", module_type)
    _RULES[module_type] = (kind, rule)


def _linear(m, inputs, out):
    return out.numel() * m.in_features


def _conv(m, inputs, out):
    k = 1
    for s in m.kernel_size:
        k *= s
    return out.numel() * (m.in_channels // m.groups) * k


def _per_output(m, inputs, out):
    return out.numel()


def _zero(m, inputs, out):
    return 0


for _t in (nn.Linear,):
    register_mac_rule(_t, _linear, "linear")
for _t in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
    register_mac_rule(_t, _conv, "conv")
for _t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm):
    register_mac_rule(_t, _per_output, "norm")
for _t in (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
           nn.Hardsigmoid, nn.Hardtanh, nn.Softmax, nn.Mish):
    register_mac_rule(_t, _zero, "activation")
for _t in (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
           nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d):
    register_mac_rule(_t, _zero, "pooling")
for _t in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity, nn.Flatten, nn.Unflatten, nn.Sequential):
    register_mac_rule(_t, _zero, "no-op")
try:  # EfficientNet's stochastic depth is the identity at inference
    from torchvision.ops import StochasticDepth

    register_mac_rule(StochasticDepth, _zero, "no-op")
except ImportError:  # pragma: no cover - torchvision is in requirements.txt
    pass


def _rule_for(module: nn.Module):
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


def _example(input_shape, owner: str) -> torch.Tensor:
    if isinstance(input_shape, torch.Tensor):
        return input_shape
    try:
        dims = tuple(int(d) for d in input_shape)
    except TypeError:
        raise fail("input_shape", owner, "a tuple of positive ints (one sample, no batch) or an example tensor",
                   input_shape) from None
    if not dims or any(d < 1 for d in dims):
        raise fail("input_shape", owner, "a tuple of positive ints (one sample, no batch)", input_shape)
    return torch.zeros(1, *dims)


def mac_table(model: nn.Module, input_shape):
    """Per-layer table (layer, type, kind, output_shape, params, macs, flops) for one sample.

    ``input_shape`` is one sample's shape without the batch (``(40,)``, ``(3, 224, 224)``) or an example
    tensor with a batch dimension. Raises, listing them, when some layer types have no MAC rule.

    >>> mac_table(nn.Sequential(nn.Linear(1000, 10)), (1000,))["macs"].tolist()
    [10000]
    """
    import pandas as pd

    check_type(model, nn.Module, "model", "mac_table", "a torch.nn.Module")
    x = _example(input_shape, "mac_table")
    leaves = [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]
    # a container that computes with parameters of its own would be missed by leaf hooks: unsupported too
    opaque = [m for _, m in model.named_modules() if any(True for _ in m.children())
              and any(True for _ in m.parameters(recurse=False)) and _rule_for(m) is None]
    unsupported = sorted({type(m).__name__ for _, m in leaves if _rule_for(m) is None}
                         | {type(m).__name__ for m in opaque})
    if unsupported:
        supported = ", ".join(sorted(t.__name__ for t in _RULES))
        raise ParameterError(
            f"The 'model' parameter of mac_table must be built from layers with a MAC rule ({supported}; "
            f"labkit.metrics.register_mac_rule adds one). Got a model with unsupported layer(s) "
            f"{', '.join(unsupported)} instead.")
    rows, handles = [], []

    def hook(name):
        def record(module, inputs, output):
            kind, rule = _rule_for(module)
            macs = int(rule(module, inputs, output))
            rows.append({"layer": name, "type": type(module).__name__, "kind": kind,
                         "output_shape": tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None,
                         "params": sum(p.numel() for p in module.parameters(recurse=False)),
                         "macs": macs, "flops": 2 * macs})
        return record

    for name, m in leaves:
        handles.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return pd.DataFrame(rows, columns=["layer", "type", "kind", "output_shape", "params", "macs", "flops"])


def count_macs(model: nn.Module, input_shape) -> int:
    """Total MACs of one forward pass of one sample.

    >>> count_macs(nn.Sequential(nn.Linear(1000, 10)), (1000,))
    10000
    """
    return int(mac_table(model, input_shape)["macs"].sum())


def count_flops(model: nn.Module, input_shape) -> int:
    """Total FLOPs (= 2 x MACs) of one forward pass of one sample."""
    return 2 * count_macs(model, input_shape)


# --- latency --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Forward-pass wall time in milliseconds: median and quartiles over ``repeats`` timed runs."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    batch_size: int
    threads: int
    repeats: int

    @property
    def per_sample_us(self) -> float:
        return 1000.0 * self.median_ms / self.batch_size

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms (IQR {self.q1_ms:.3f}-{self.q3_ms:.3f}) at batch {self.batch_size}, "
                f"{self.threads} thread(s)")


def measure_latency(model: nn.Module, input_shape, batch_size: int = 1, *, threads: int = 1,
                    warmup: int = 10, repeats: int = 30) -> Latency:
    """Time ``model`` on a random batch after ``warmup`` untimed runs, in eval mode without autograd.

    >>> lat = measure_latency(nn.Linear(40, 10), (40,), batch_size=8, repeats=5)
    >>> lat.batch_size, lat.median_ms > 0
    (8, True)
    """
    check_type(model, nn.Module, "model", "measure_latency", "a torch.nn.Module")
    check_int(batch_size, "batch_size", "measure_latency", low=1)
    check_int(threads, "threads", "measure_latency", low=1)
    check_int(warmup, "warmup", "measure_latency", low=0)
    check_int(repeats, "repeats", "measure_latency", low=1)
    one = _example(input_shape, "measure_latency")
    x = torch.randn(batch_size, *one.shape[1:], generator=torch.Generator().manual_seed(0))
    previous_threads = torch.get_num_threads()
    was_training = model.training
    torch.set_num_threads(threads)
    times = []
    try:
        model.eval()
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        torch.set_num_threads(previous_threads)
        model.train(was_training)
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return Latency(statistics.median(times), q[0], q[2], batch_size, threads, repeats)
