"""Benchmark for labkit.quantize: accuracy after quantization, Deep Compression, int8 latency.

    .venv/bin/python benchmarks/quantize.py [--seeds 0 1 2]

Everything is computed live (no cache), one torch thread, test split for the final figures only:

* the lab's MNIST-1D CNN (32-32-32, 30 epochs) in fp32, int8 post-training per tensor and per channel
  (simulated, static activations), int8 on ONNX Runtime's integer kernels, 4-bit PTQ and 4-bit QAT;
* Deep Compression (prune -> k-means share -> Huffman) of a wider CNN (64-64-64), stored size per stage,
  fine-tuned as in the paper and fine-tuned towards the dense model's soft outputs (the summary line);
* latency of a Linear-heavy MLP (512-1024-1024-10, batch 64, one thread): PyTorch fp32, PyTorch's
  deprecated ``torch.ao`` dynamic int8 (the reference), ONNX Runtime fp32 and int8 (labkit's graph).

Ends with ``quant: int8_ptq_drop=... int4_qat_drop=... deep_compression_ratio=... deep_compression_drop=...
int8_speedup=...`` (drops in accuracy points, averaged over seeds; speedup = PyTorch fp32 / int8 in
thread CPU time per call, which a busy shared machine does not inflate; wall-clock figures beside it).
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from labkit import data, models, train
from labkit.quantize import QuantConfig, prepare_qat, quantize_model
from labkit.quantize.backend import OnnxModule, compare_latency
from labkit.quantize.deep_compression import DeepCompression, DeepCompressionConfig

SPEC, WIDE_SPEC, EPOCHS = "cnn1d:32-32-32", "cnn1d:64-64-64", 30
QAT_EPOCHS, QAT_LR = 10, 3e-4
DC_PAPER = DeepCompressionConfig()    # 90 % pruned (input layer and head 50 %), 4-bit sharing, Han's fine-tuning
DC_GUIDED = DeepCompressionConfig(teacher_weight=0.5)   # same, fine-tuned towards the dense model's soft outputs


def trained(ds, spec, seed):
    torch.manual_seed(seed)
    net = models.build(spec, ds)
    train.fit(net, ds.train, ds.val, epochs=EPOCHS, seed=seed, progress=False)
    return net.eval()


def accuracy_row(ds, test, seed):
    calibration_X = ds.train.subset(512, seed=seed).X
    net = trained(ds, SPEC, seed)
    acc = lambda m: 100 * train.accuracy(m, test)  # noqa: E731  (points)
    row = {"seed": seed, "fp32": acc(net)}
    row["int8 PTQ tensor"] = acc(quantize_model(net, QuantConfig(8, granularity="per_tensor"), 8, calibration_X))
    row["int8 PTQ channel"] = acc(quantize_model(net, QuantConfig(8), 8, calibration_X))
    row["int8 ORT (real)"] = acc(OnnxModule(net, ds.input_shape, mode="int8"))
    row["int4 PTQ channel"] = acc(quantize_model(net, QuantConfig(4), 8, calibration_X, method="mse"))
    qat = prepare_qat(net, QuantConfig(4), 8, calibration_X)
    train.fit(qat, ds.train, ds.val, epochs=QAT_EPOCHS, lr=QAT_LR, seed=seed, progress=False)
    row["int4 QAT channel"] = acc(qat.eval())
    wide = trained(ds, WIDE_SPEC, seed)
    dc = DeepCompression(DC_PAPER, seed=seed).fit(wide, ds.train, ds.val)
    row["wide fp32"] = acc(dc.models_["fp32"])
    row["wide pruned"] = acc(dc.models_["pruned"])
    row["wide DC"] = acc(dc.model_)
    row["DC ratio"] = dc.ratio_
    guided = DeepCompression(DC_GUIDED, seed=seed).fit(wide, ds.train, ds.val)
    row["wide DC+teacher"] = acc(guided.model_)
    row["DC+t ratio"] = guided.ratio_
    row["DC+t stages kB"] = "/".join(f"{s.bytes / 1000:.1f}" for s in guided.stages_)
    return row


def latency_rows():
    torch.manual_seed(0)
    mlp = models.mlp((512,), hidden=(1024, 1024), num_classes=10).eval()
    candidates = {"PyTorch fp32": mlp}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # torch.ao.quantization is deprecated in torch 2.14
        from torch.ao.quantization import quantize_dynamic
        candidates["PyTorch torch.ao dynamic int8 (deprecated)"] = quantize_dynamic(mlp, {torch.nn.Linear}, torch.qint8)
        candidates["ONNX Runtime fp32 (labkit graph)"] = OnnxModule(mlp, (512,), mode="fp32")
        candidates["ONNX Runtime int8 (labkit graph)"] = OnnxModule(mlp, (512,), mode="int8")
        lat = compare_latency(candidates, torch.randn(64, 512), rounds=10, repeats=20, warmup=10)
    x = torch.randn(256, 512)
    with torch.no_grad():
        ref = mlp(x)
        for name, m in candidates.items():
            lat[name]["max |out - fp32|"] = (m(x) - ref).abs().max().item()
    return lat


def main(seeds):
    train.set_threads(1)
    t0 = time.time()
    ds = data.load("mnist1d", seed=0)
    test = ds.test()                                   # final evaluation only
    rows = []
    for seed in seeds:
        rows.append(accuracy_row(ds, test, seed))
        print(f"seed {seed} done after {time.time() - t0:.0f} s", flush=True)

    cols = list(rows[0])
    print("\nTest accuracy (%) of the MNIST-1D CNN 32-32-32, per seed; Deep Compression on CNN 64-64-64")
    print(" | ".join(f"{c:>16}" for c in cols))  # DC+t: Deep Compression fine-tuned with the dense teacher
    for r in rows:
        print(" | ".join(f"{r[c]:>16.2f}" if isinstance(r[c], float) else f"{r[c]!s:>16}" for c in cols))
    mean = {c: statistics.mean(r[c] for r in rows) for c in cols if isinstance(rows[0][c], float)}
    print(" | ".join(f"{mean[c]:>16.2f}" if c in mean else f"{'mean':>16}" if c == "seed" else f"{'':>16}"
                     for c in cols))
    drop = lambda base, q: statistics.mean(r[base] - r[q] for r in rows)  # noqa: E731
    spread = lambda base, q: max(r[base] - r[q] for r in rows)  # noqa: E731
    print("\nDrops vs fp32 (points, mean / worst seed):")
    for base, q in [("fp32", "int8 PTQ tensor"), ("fp32", "int8 PTQ channel"), ("fp32", "int8 ORT (real)"),
                    ("fp32", "int4 PTQ channel"), ("fp32", "int4 QAT channel"), ("wide fp32", "wide pruned"),
                    ("wide fp32", "wide DC"), ("wide fp32", "wide DC+teacher")]:
        print(f"  {q:>18}: {drop(base, q):+.2f} / {spread(base, q):+.2f}")

    lat = latency_rows()
    print("\nLatency, MLP 512-1024-1024-10, batch 64, one thread (200 runs each, models taking turns call by call):")
    for name, v in lat.items():
        print(f"  {name:>44}: median {v['median_ms']:.3f} ms (IQR {v['q1_ms']:.3f}-{v['q3_ms']:.3f}, "
              f"min {v['min_ms']:.3f}), max |out - fp32| {v['max |out - fp32|']:.4f}")
    cpu = {name: v["cpu_ms"] for name, v in lat.items()}
    wall = {name: v["median_ms"] for name, v in lat.items()}
    fp32, int8 = "PyTorch fp32", "ONNX Runtime int8 (labkit graph)"
    speedup = cpu[fp32] / cpu[int8]
    print(f"  thread CPU time per call (not counting time other programs held the core): "
          + ", ".join(f"{n} {c:.3f} ms" for n, c in cpu.items()))
    print(f"  speedup int8 vs PyTorch fp32: {speedup:.2f}x by CPU time, {wall[fp32] / wall[int8]:.2f}x by wall-clock "
          f"median, {lat[fp32]['min_ms'] / lat[int8]['min_ms']:.2f}x by minima; int8 vs ONNX Runtime fp32 "
          f"{cpu['ONNX Runtime fp32 (labkit graph)'] / cpu[int8]:.2f}x; torch.ao dynamic vs PyTorch fp32 "
          f"{cpu[fp32] / cpu['PyTorch torch.ao dynamic int8 (deprecated)']:.2f}x (CPU time)")
    print(f"\ntotal {time.time() - t0:.0f} s on this machine (timings on a shared machine are noisy)")
    print(f"quant: int8_ptq_drop={drop('fp32', 'int8 PTQ channel'):.2f} int4_qat_drop={drop('fp32', 'int4 QAT channel'):.2f} "
          f"deep_compression_ratio={mean['DC+t ratio']:.1f} deep_compression_drop={drop('wide fp32', 'wide DC+teacher'):.2f} "
          f"int8_speedup={speedup:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    main(parser.parse_args().seeds)
