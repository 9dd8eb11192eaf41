"""Real int8 inference on the CPU: integer weights, integer products, measured next to fp32.

Fake quantization only *simulates* int8 in float arithmetic. The speed comes from kernels that
multiply 8-bit integers and accumulate in 32 bits. For a Linear layer y = W x + b with per-channel
weight scales s_w (symmetric, z_w = 0) and a per-batch input grid (s_x, z_x) this is

    q_x = clamp(round(x / s_x) + z_x, 0, 255)                     DynamicQuantizeLinear (uint8)
    acc = sum_k (q_x[k] - z_x) q_W[o, k]                          MatMulInteger        (int32)
    y[o] = s_x s_w[o] acc[o] + b[o]                                Cast, Mul, Add        (float)

We build exactly this graph, node by node, from the model's own layers and labkit's own quantizer
(:mod:`labkit.quantize.affine`), and run it with ONNX Runtime, whose MLAS kernels use the CPU's
integer dot-product instructions (AVX2 / AVX-512 VNNI, ARM NEON / SDOT). Why ONNX Runtime:

* PyTorch's own eager engine (``torch.ao.quantization.quantize_dynamic``) still runs in torch 2.14 but
  warns "torch.ao.quantization is deprecated" and torch's quantized tensor types are scheduled for
  removal; its successor torchao targets GPUs and ``torch.compile`` first.
* ONNX Runtime is maintained, CPU-first, ships wheels for every platform on PyPI, and its integer
  operators are part of the ONNX standard, so the graph a student builds here is a real deployable
  artefact. Building the graph by hand (instead of ``torch.onnx.export``, whose TorchScript path is
  deprecated and whose new path needs extra packages) keeps every integer step visible.

Dynamic quantization (Krishnamoorthi 2018): weights become int8 once, activations are quantized per
batch at run time, so no calibration set is needed. Conv layers use ConvInteger the same way.
BatchNorm is folded into its Conv first. Used by notebook 08 and ``benchmarks/quantize.py``.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from torch import nn

from ..errors import check_choice, check_int, check_type, fail
from .affine import QuantConfig, observe_params, quantize
from .fake import fold_batchnorm

MODES = ("int8", "fp32")
SKIPPED = (nn.Dropout, nn.Identity)


def _flat_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        return [leaf for child in model for leaf in _flat_layers(child)]
    return [model]


class _Graph:
    """A tiny ONNX graph builder: fresh names, initializers, nodes."""

    def __init__(self):
        import onnx  # noqa: F401  (fail early with a clear message if missing)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, array: np.ndarray, stem: str) -> str:
        from onnx import numpy_helper
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        from onnx import helper
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs


def _int8_weight(weight: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel symmetric int8 weights and scales, from labkit's own quantizer."""
    params = observe_params(weight, QuantConfig(bits=8, scheme="symmetric", granularity="per_channel"))
    q = quantize(weight, params).to(torch.int8).numpy()
    return q, params.scale.numpy().astype(np.float32)


def _linear(g: _Graph, x: str, layer: nn.Linear, mode: str) -> str:
    bias = layer.bias.detach().numpy() if layer.bias is not None else np.zeros(layer.out_features, np.float32)
    if mode == "fp32":
        w = g.const(layer.weight.detach().numpy().T, "w")                  # (in, out)
        (y,) = g.node("MatMul", [x, w])
    else:
        q_w, s_w = _int8_weight(layer.weight.detach())
        q_x, s_x, z_x = g.node("DynamicQuantizeLinear", [x], 3)            # uint8 input grid per batch
        (acc,) = g.node("MatMulInteger", [q_x, g.const(q_w.T, "qw"), z_x])  # int32 (batch, out)
        (acc_f,) = g.node("Cast", [acc], to=1)                             # 1 = FLOAT
        (scale,) = g.node("Mul", [s_x, g.const(s_w, "sw")])                # s_x s_w[o]
        (y,) = g.node("Mul", [acc_f, scale])
    (out,) = g.node("Add", [y, g.const(bias.astype(np.float32), "b")])
    return out


def _conv(g: _Graph, x: str, layer: nn.Module, mode: str) -> str:
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise fail("model", "to_onnx", "Conv layers with numeric zero padding", layer)
    dims = layer.weight.dim() - 2
    attrs = dict(strides=list(layer.stride), pads=list(layer.padding) * 2, dilations=list(layer.dilation),
                 group=layer.groups, kernel_shape=list(layer.kernel_size))
    out_channels = layer.out_channels
    bias = layer.bias.detach().numpy() if layer.bias is not None else np.zeros(out_channels, np.float32)
    if mode == "fp32":
        (y,) = g.node("Conv", [x, g.const(layer.weight.detach().numpy(), "w")], **attrs)
    else:
        q_w, s_w = _int8_weight(layer.weight.detach())
        q_x, s_x, z_x = g.node("DynamicQuantizeLinear", [x], 3)
        (acc,) = g.node("ConvInteger", [q_x, g.const(q_w, "qw"), z_x], **attrs)   # int32 (batch, C, L)
        (acc_f,) = g.node("Cast", [acc], to=1)
        (scale,) = g.node("Mul", [s_x, g.const(s_w.reshape(out_channels, *[1] * dims), "sw")])
        (y,) = g.node("Mul", [acc_f, scale])
    (out,) = g.node("Add", [y, g.const(bias.reshape(out_channels, *[1] * dims).astype(np.float32), "b")])
    return out


def to_onnx(model: nn.Module, input_shape, mode: str = "int8"):
    """An ONNX model of a Sequential network (Linear, Conv1d/2d, BatchNorm, ReLU, pooling, Flatten).

    >>> m = to_onnx(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (4,))
    >>> [n.op_type for n in m.graph.node][:3]
    ['DynamicQuantizeLinear', 'MatMulInteger', 'Cast']
    """
    from onnx import TensorProto, checker, helper

    check_type(model, nn.Module, "model", "to_onnx", "a torch.nn.Module")
    check_choice(mode, MODES, "mode", "to_onnx")
    input_shape = tuple(input_shape)
    g, x = _Graph(), "x"
    folded = fold_batchnorm(model)
    with torch.no_grad():
        out_shape = tuple(folded(torch.zeros(1, *input_shape)).shape[1:])
    for layer in _flat_layers(folded):
        if isinstance(layer, SKIPPED):
            continue
        if isinstance(layer, nn.Linear):
            x = _linear(g, x, layer, mode)
        elif isinstance(layer, (nn.Conv1d, nn.Conv2d)):
            x = _conv(g, x, layer, mode)
        elif isinstance(layer, nn.ReLU):
            (x,) = g.node("Relu", [x])
        elif isinstance(layer, nn.Flatten) and layer.start_dim == 1 and layer.end_dim == -1:
            (x,) = g.node("Flatten", [x], axis=1)
        elif isinstance(layer, nn.Unflatten) and layer.dim == 1:
            (x,) = g.node("Reshape", [x, g.const(np.array([0, *layer.unflattened_size], np.int64), "shape")])
        elif isinstance(layer, (nn.MaxPool1d, nn.MaxPool2d)) and not layer.ceil_mode and layer.dilation in (1, (1, 1)):
            k = [layer.kernel_size] * (1 if isinstance(layer, nn.MaxPool1d) else 2) \
                if isinstance(layer.kernel_size, int) else list(layer.kernel_size)
            s = [layer.stride] * len(k) if isinstance(layer.stride, int) else list(layer.stride)
            p = [layer.padding] * len(k) if isinstance(layer.padding, int) else list(layer.padding)
            (x,) = g.node("MaxPool", [x], kernel_shape=k, strides=s, pads=p * 2)
        else:
            raise fail("model", "to_onnx", "a Sequential of Linear, Conv1d/2d, BatchNorm, ReLU, MaxPool, "
                       "Flatten, Unflatten or Dropout layers", type(layer).__name__)
    graph = helper.make_graph(g.nodes, f"labkit_{mode}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *input_shape])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", *out_shape])], g.inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx_model.ir_version = 8                      # readable by every ONNX Runtime since 1.10
    checker.check_model(onnx_model)
    return onnx_model


class OnnxModule(nn.Module):
    """An ONNX Runtime session behind the ``nn.Module`` interface (eval only), for accuracy and timing.

    >>> net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> int8 = OnnxModule(net, (8,)); x = torch.randn(3, 8)
    >>> bool((int8(x) - net(x)).abs().max() < 0.05)
    True
    """

    def __init__(self, model: nn.Module, input_shape, mode: str = "int8", threads: int = 1):
        super().__init__()
        import onnxruntime as ort

        check_int(threads, "threads", "OnnxModule", low=1)
        self.mode, self.input_shape = mode, tuple(input_shape)
        self.onnx_model = to_onnx(model, input_shape, mode)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(self.onnx_model.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (y,) = self.session.run(None, {"x": x.detach().float().contiguous().numpy()})
        return torch.from_numpy(y)

    def stored_bytes(self) -> int:
        """Bytes of the serialized ONNX model (int8 weights + float scales and biases)."""
        return len(self.onnx_model.SerializeToString())


def compare_latency(models: dict[str, nn.Module], x: torch.Tensor, rounds: int = 5, repeats: int = 20,
                    warmup: int = 5) -> dict[str, dict]:
    """Latency (ms) of each model on batch ``x``: median, quartiles and minimum of rounds x repeats runs.

    The models take turns call by call, so a burst of load from other programs hits all of them alike.
    On a busy machine a long call is more often preempted than a short one, which inflates wall-clock
    medians unevenly; ``cpu_ms`` (the median CPU time of the calling thread, which runs the one-thread
    kernels) does not count the time other programs held the core, so its ratios stay fair.

    >>> lat = compare_latency({"a": nn.Linear(4, 2)}, torch.randn(8, 4), rounds=2, repeats=3)
    >>> sorted(lat["a"])
    ['cpu_ms', 'median_ms', 'min_ms', 'q1_ms', 'q3_ms']
    """
    check_int(rounds, "rounds", "compare_latency", low=1)
    check_int(repeats, "repeats", "compare_latency", low=1)
    check_int(warmup, "warmup", "compare_latency", low=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    try:
        with torch.inference_mode():
            for m in models.values():
                m.eval()
                for _ in range(warmup):
                    m(x)
            for _ in range(rounds * repeats):
                for name, m in models.items():          # one call each, in turn
                    c0, t0 = time.thread_time(), time.perf_counter()
                    m(x)
                    times[name].append((time.perf_counter() - t0) * 1000)
                    cpu[name].append((time.thread_time() - c0) * 1000)
    finally:
        torch.set_num_threads(threads)
    out = {}
    for name, t in times.items():
        q = statistics.quantiles(t, n=4) if len(t) > 1 else [t[0]] * 3
        out[name] = {"median_ms": statistics.median(t), "q1_ms": q[0], "q3_ms": q[2], "min_ms": min(t),
                     "cpu_ms": statistics.median(cpu[name])}
    return out
