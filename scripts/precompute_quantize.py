"""Precompute notebook 08's sweeps into data/quantize/ (a few minutes on 2 cores, one thread).

    .venv/bin/python scripts/precompute_quantize.py [--seeds 0 1 2]

Writes the trained CNNs 32-32-32 (state dicts), ``sweep.json`` (post-training quantization at 2..8 bits
per tensor and per channel, PTQ vs QAT at 4 and 2 bits, linear grid vs k-means codebook) and
``deep_compression.json`` (Deep Compression with the paper's per-layer plan, seed 0, of the CNN with a
512-512 fully connected head and, for contrast, of the all-conv CNN 64-64-64: stage sizes, parts, the
per-layer table); ``--part`` picks one of them. Validation split only; the benchmark evaluates on the
test split. The Deep Compression networks are not stored (1.9 MB): the notebook's button retrains one.
"""
from __future__ import annotations

import argparse
import time

import torch

from labkit import cache, data, models, train
from labkit.quantize import QuantConfig, fold_batchnorm, prepare_qat, quantize_model
from labkit.quantize.deep_compression import DeepCompression
from labkit.quantize.kmeans import bake, share_weights
from labkit.pruning.allocation import sensitivity_scan
from labkit.widgets import quantize as qw

QAT_EPOCHS, QAT_LR = 10, 3e-4
SENSITIVITY_SPARSITIES = (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


def trained(ds, spec: str, seed: int):
    torch.manual_seed(seed)
    net = models.build(spec, ds)
    train.fit(net, ds.train, ds.val, epochs=qw.EPOCHS, seed=seed, progress=False)
    cache.save_state_dict(net, qw.model_path(spec, seed))
    return net.eval()


def main(seeds):
    train.set_threads(1)
    ds = data.load("mnist1d", seed=0)
    calibration_X = ds.train.subset(512, seed=0).X
    out = {"seeds": list(seeds), "spec": qw.SPEC, "fp32": {}, "ptq": [], "qat": [], "kmeans": []}
    for seed in seeds:
        t0 = time.time()
        net = trained(ds, qw.SPEC, seed)
        out["fp32"][seed] = train.accuracy(net, ds.val)
        for bits in range(2, 9):
            for granularity in ("per_tensor", "per_channel"):
                q = quantize_model(net, QuantConfig(bits, granularity=granularity), 8, calibration_X)
                out["ptq"].append({"seed": seed, "bits": bits, "granularity": granularity,
                                   "accuracy": train.accuracy(q, ds.val)})
        for bits in (4, 2):
            ptq = quantize_model(net, QuantConfig(bits), 8, calibration_X)
            out["qat"].append({"seed": seed, "bits": bits, "method": "ptq", "accuracy": train.accuracy(ptq, ds.val)})
            qat = prepare_qat(net, QuantConfig(bits), 8, calibration_X)
            train.fit(qat, ds.train, ds.val, epochs=QAT_EPOCHS, lr=QAT_LR, seed=seed, progress=False)
            out["qat"].append({"seed": seed, "bits": bits, "method": "qat", "accuracy": train.accuracy(qat.eval(), ds.val)})
        folded = fold_batchnorm(net)
        for bits in range(2, 7):
            linear = quantize_model(net, QuantConfig(bits), None)
            shared = bake(share_weights(folded, bits, seed=seed))
            out["kmeans"] += [{"seed": seed, "bits": bits, "method": "linear per channel",
                               "accuracy": train.accuracy(linear, ds.val)},
                              {"seed": seed, "bits": bits, "method": "k-means per layer",
                               "accuracy": train.accuracy(shared, ds.val)}]
        print(f"seed {seed}: fp32 {out['fp32'][seed]:.3f}, {time.time() - t0:.0f} s", flush=True)
    out["fp32_mean"] = sum(out["fp32"].values()) / len(out["fp32"])
    cache.save_json(cache.DATA_DIR / qw.DATA / "sweep.json", out)


def deep_compression():
    train.set_threads(1)
    ds = data.load("mnist1d", seed=0)
    out = {"config": vars(qw.DC_CONFIG)}
    for key, spec in (("fc_head", qw.DC_SPEC), ("all_conv", qw.CONV_SPEC)):
        t0 = time.time()
        torch.manual_seed(0)
        net = qw.build(spec, ds)
        train.fit(net, ds.train, ds.val, epochs=qw.EPOCHS, seed=0, progress=False)
        net.eval()
        scan = sensitivity_scan(net, lambda m: train.accuracy(m, ds.val), SENSITIVITY_SPARSITIES)  # Han et al. 2015, fig. 5
        dc = DeepCompression(qw.DC_CONFIG, seed=0).fit(net, ds.train, ds.val)
        out[key] = {"spec": spec, "weights": sum(m.numel() for m in dc.masks_.values()), "summary": dc.summary(),
                    "parts": {s.stage: s.parts for s in dc.stages_}, "layers": dc.layer_table(),
                    "sensitivity": {"sparsities": scan.sparsities, "dense": scan.dense,
                                    "scores": {n.removesuffix(".weight"): v for n, v in scan.scores.items()}}}
        print(f"Deep Compression of {spec}: {dc.ratio_:.1f}x, {time.time() - t0:.0f} s", flush=True)
    cache.save_json(cache.DATA_DIR / qw.DATA / "deep_compression.json", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--part", choices=["all", "sweep", "deep_compression"], default="all")
    args = parser.parse_args()
    if args.part in ("all", "sweep"):
        main(args.seeds)
    if args.part in ("all", "deep_compression"):
        deep_compression()
