"""MAC counting: labkit.metrics against torch's FlopCounterMode, fvcore and thop, side by side.

For each model: conv + linear MACs by each tool, the totals each tool reports (they differ in what
else they count: BatchNorm, pooling, activations), and the seconds each tool takes to count. The
oracle is ``FlopCounterMode`` FLOPs / 2; a mismatch is a model whose labkit conv + linear count
differs from it. Ends with ``metrics: models=<n> mac_mismatches=<n>``.

    python benchmarks/metrics.py
"""
from __future__ import annotations

import contextlib
import io
import time
import warnings

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit import metrics, models
from labkit.widgets.efficiency import ARCHITECTURES, build_architecture

warnings.filterwarnings("ignore")


def lab_models():
    yield "LeNet-300-100", models.lenet_300_100(), (1, 28, 28)
    yield "MNIST-1D MLP 100-100", models.mlp((40,)), (40,)
    yield "MNIST-1D CNN 32-32-32", models.cnn1d((40,)), (40,)
    yield "digits CNN 16-32", models.cnn2d((64,)), (64,)
    for name in ARCHITECTURES:
        yield name, build_architecture(name), (3, 224, 224)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def labkit_count(net, shape):
    table = metrics.mac_table(net, shape)
    return int(table[table.kind.isin(["conv", "linear"])].macs.sum()), int(table.macs.sum())


def torch_count(net, shape):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, *shape))
    flops = counter.get_total_flops()
    return flops // 2, flops // 2


def fvcore_count(net, shape):
    from fvcore.nn import FlopCountAnalysis  # counts one fused multiply-add as one "flop" (= MACs)

    analysis = FlopCountAnalysis(net, torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    ops = analysis.by_operator()
    return int(sum(v for k, v in ops.items() if k in ("conv", "linear", "addmm", "matmul", "bmm"))), int(analysis.total())


def thop_count(net, shape):
    from thop import profile  # per-layer counts through ret_layer_info

    with contextlib.redirect_stdout(io.StringIO()):
        total, _, layers = profile(net, inputs=(torch.zeros(1, *shape),), verbose=False, ret_layer_info=True)
    modules = dict(net.named_modules())

    def conv_linear(info, prefix=""):
        found = 0
        for name, (ops, _params, children) in info.items():
            full = f"{prefix}{name}"
            if children:
                found += conv_linear(children, full + ".")
            elif isinstance(modules.get(full), (nn.Conv1d, nn.Conv2d, nn.Linear)):
                found += int(ops)
        return found

    return conv_linear(layers), int(total)


TOOLS = {"labkit": labkit_count, "FlopCounterMode/2": torch_count, "fvcore": fvcore_count, "thop": thop_count}


def main():
    torch.set_num_threads(1)
    rows, mismatches, n = [], 0, 0
    times = {t: 0.0 for t in TOOLS}
    for name, net, shape in lab_models():
        net.eval()
        n += 1
        row = {"model": name}
        for tool, fn in TOOLS.items():
            try:
                (cl, total), sec = timed(lambda: fn(net, shape))
                row[tool] = (cl, total, sec)
                times[tool] += sec
            except Exception as e:  # a library that fails on a model is reported, not hidden
                row[tool] = (None, None, f"{type(e).__name__}")
        if row["labkit"][0] != row["FlopCounterMode/2"][0]:
            mismatches += 1
        rows.append(row)

    print("Conv + linear MACs (the part every tool counts the same way), per model:")
    header = f"{'model':<22}" + "".join(f"{t:>20}" for t in TOOLS) + f"{'labkit == oracle':>18}"
    print(header)
    for r in rows:
        cells = "".join(f"{(r[t][0] if r[t][0] is not None else r[t][2]):>20,}" if r[t][0] is not None else f"{r[t][2]:>20}"
                        for t in TOOLS)
        print(f"{r['model']:<22}{cells}{str(r['labkit'][0] == r['FlopCounterMode/2'][0]):>18}")
    print("\nTotal MACs each tool reports (differences: BatchNorm, pooling, activations, biases):")
    print(f"{'model':<22}" + "".join(f"{t:>20}" for t in TOOLS))
    for r in rows:
        print(f"{r['model']:<22}" + "".join(f"{(r[t][1] if r[t][1] is not None else 0):>20,}" for t in TOOLS))
    print("\nSeconds spent counting all models (one thread):")
    print("".join(f"{t:>20}" for t in TOOLS))
    print("".join(f"{times[t]:>20.2f}" for t in TOOLS))
    print(f"metrics: models={n} mac_mismatches={mismatches}")


if __name__ == "__main__":
    main()
