"""Benchmark for labkit.quantize: accuracy after quantization, Deep Compression, int8 latency.

    .venv/bin/python benchmarks/quantize.py [--seeds 0 1 2]

Everything is computed live (no cache), one torch thread, test split for the final figures only (method
choices were made on the validation split with seeds 10 and 11):

* the lab's MNIST-1D CNN (32-32-32, 30 epochs) in fp32, int8 post-training per tensor and per channel
  (simulated, static activations), int8 on ONNX Runtime's integer kernels, 4-bit PTQ and 4-bit QAT;
* Deep Compression (iterative pruning with retraining -> k-means sharing with centroid fine-tuning ->
  Huffman) with the paper's per-layer plan (AlexNet, Table 4: fc 9 % kept at 5 bits, conv 38 % at 8
  bits, first layer 84 %, classifier 25 %) on an MNIST-1D network in the paper's regime: the CNN
  64-64-64 trunk with two fully connected layers of 512 (dropout 0.5), 474 k weights, 91 % of them
  fully connected. Beside it: the dense network trained for as many epochs as the whole pipeline (does
  the compressed one win only by training longer?), a further plan chosen on validation (fc 96 %,
  conv 70 % removed), and the same pipeline on the all-conv CNN 64-64-64 (no large fc layers);
* latency of a Linear-heavy MLP (512-1024-1024-10, batch 64, one thread): PyTorch fp32, PyTorch's
  deprecated ``torch.ao`` dynamic int8 (the reference), ONNX Runtime fp32 and int8 (labkit's graph).

Ends with ``quant: int8_ptq_drop=... int4_qat_drop=... deep_compression_ratio=... deep_compression_drop=...
int8_speedup=...`` (drops in accuracy points, averaged over seeds; Deep Compression with the paper's plan;
speedup = PyTorch fp32 / int8 in thread CPU time per call, which a busy shared machine does not inflate;
wall-clock figures beside it).
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from dataclasses import replace

import torch

from labkit import data, models, train
from labkit.quantize import QuantConfig, prepare_qat, quantize_model
from labkit.quantize.backend import OnnxModule, compare_latency
from labkit.quantize.deep_compression import DeepCompression, DeepCompressionConfig, cnn_fc

SPEC, CONV_SPEC, EPOCHS = "cnn1d:32-32-32", "cnn1d:64-64-64", 30
QAT_EPOCHS, QAT_LR = 10, 3e-4
DC_PAPER = DeepCompressionConfig()                          # the paper's per-layer plan (AlexNet, Table 4)
DC_FURTHER = replace(DC_PAPER, sparsity=0.96, conv_sparsity=0.7)   # chosen on validation (seeds 10, 11)
PIPELINE_EPOCHS = DC_PAPER.prune_rounds * DC_PAPER.prune_epochs + DC_PAPER.share_epochs


def trained(ds, spec, seed, epochs=EPOCHS):
    torch.manual_seed(seed)
    net = cnn_fc(ds.input_shape, (64, 64, 64), (512, 512), ds.num_classes) if spec == "cnn_fc" \
        else models.build(spec, ds)
    train.fit(net, ds.train, ds.val, epochs=epochs, seed=seed, progress=False)
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
    return row


def compression_row(ds, test, seed):
    acc = lambda m: 100 * train.accuracy(m, test)  # noqa: E731  (points)
    net = trained(ds, "cnn_fc", seed)
    dc = DeepCompression(DC_PAPER, seed=seed).fit(net, ds.train, ds.val)
    row = {"seed": seed, "fp32": acc(dc.models_["fp32"]), "pruned": acc(dc.models_["pruned"]),
           "DC": acc(dc.model_), "ratio": dc.ratio_}
    row[f"fp32 {EPOCHS + PIPELINE_EPOCHS} ep"] = acc(trained(ds, "cnn_fc", seed, EPOCHS + PIPELINE_EPOCHS))
    further = DeepCompression(DC_FURTHER, seed=seed).fit(net, ds.train, ds.val)
    row["DC further"], row["further ratio"] = acc(further.model_), further.ratio_
    conv = DeepCompression(DC_PAPER, seed=seed).fit(trained(ds, CONV_SPEC, seed), ds.train, ds.val)
    row["all-conv fp32"], row["all-conv DC"], row["all-conv ratio"] = acc(conv.models_["fp32"]), acc(conv.model_), conv.ratio_
    row["stages kB"] = "/".join(f"{s.bytes / 1000:.1f}" for s in dc.stages_)
    return row, dc


def print_table(title, rows, drops):
    cols = list(rows[0])
    print(f"\n{title}")
    print(" | ".join(f"{c:>16}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:>16.2f}" if isinstance(r[c], float) else f"{r[c]!s:>16}" for c in cols))
    numeric = [c for c in cols if isinstance(rows[0][c], float)]
    for label, stat in (("mean", statistics.mean), ("std", statistics.stdev if len(rows) > 1 else lambda v: 0.0)):
        print(" | ".join(f"{stat([r[c] for r in rows]):>16.2f}" if c in numeric else f"{label if c == 'seed' else '':>16}"
                         for c in cols))
    print("Drops (points; mean, std, worst seed):")
    for base, q in drops:
        d = [r[base] - r[q] for r in rows]
        std = statistics.stdev(d) if len(d) > 1 else 0.0
        print(f"  {base:>12} -> {q:<18}: {statistics.mean(d):+.2f}  ±{std:.2f}  worst {max(d):+.2f}")


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
    quant, comp = [], []
    for seed in seeds:
        quant.append(accuracy_row(ds, test, seed))
        row, dc = compression_row(ds, test, seed)
        comp.append(row)
        if seed == seeds[0]:
            first = dc
        print(f"seed {seed} done after {time.time() - t0:.0f} s", flush=True)

    print_table("Test accuracy (%) of the MNIST-1D CNN 32-32-32, per seed", quant,
                [("fp32", q) for q in list(quant[0])[2:]])
    print_table("Deep Compression, test accuracy (%): CNN 64-64-64 + FC 512-512 (474 k weights, 91 % fully "
                f"connected); fp32 {EPOCHS + PIPELINE_EPOCHS} ep = dense trained as long as the pipeline; "
                "all-conv = CNN 64-64-64 alone, same plan", comp,
                [("fp32", "pruned"), ("fp32", "DC"), (f"fp32 {EPOCHS + PIPELINE_EPOCHS} ep", "DC"),
                 ("fp32", "DC further"), ("all-conv fp32", "all-conv DC")])
    print(f"\nPer layer, seed {seeds[0]} (the paper's Table 4; bits per stored entry, fillers included):")
    layers = first.layer_table()
    keys = list(layers[0])
    print(" | ".join(f"{k:>12}" for k in keys))
    for r in layers:
        print(" | ".join(f"{r[k]:>12.2f}" if isinstance(r[k], float) else f"{r[k]!s:>12}" for k in keys))
    print("Stored parts (kB), seed", seeds[0], ":")
    for stage in first.stages_:
        print(f"  {stage.stage:>8}: " + ", ".join(f"{p} {b / 8000:.1f}" for p, b in stage.parts.items())
              + f"  = {stage.bytes / 1000:.1f} kB")

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
    drop = lambda rows, base, q: statistics.mean(r[base] - r[q] for r in rows)  # noqa: E731
    print(f"quant: int8_ptq_drop={drop(quant, 'fp32', 'int8 PTQ channel'):.2f} "
          f"int4_qat_drop={drop(quant, 'fp32', 'int4 QAT channel'):.2f} "
          f"deep_compression_ratio={statistics.mean(r['ratio'] for r in comp):.1f} "
          f"deep_compression_drop={drop(comp, 'fp32', 'DC'):.2f} int8_speedup={speedup:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    main(parser.parse_args().seeds)
