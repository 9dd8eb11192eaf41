"""Precompute notebook 03's sweeps (distillation) into data/distill/.

What it writes (small files, atomically, through labkit.cache; a rerun skips what is already there):

* ``teacher_<k>.pt``   the three CNN teachers of the ensemble (state dicts, ~50 KB each)
* ``results.json``     every run, keyed by name, with validation accuracies:
  - ``grid/T=<T>/l2=<l2>``   the T x l2 sweep for the middle student, with the transfer set;
  - ``size/<spec>/<setting>`` accuracy against student size: alone, naive (the 3,200 labelled training samples
    only, the issue's T = 4, l2 = 0.9), transfer (teacher-labelled extra inputs, tuned T and l2);
  - ``transfer_n/<n>``       the middle student against the number of extra inputs (epochs scaled so
    that every run gets as many optimizer steps as the full transfer set, early stopping as usual);
  - ``single_teacher``       the middle student distilled from one ensemble member only.

Tuning uses the validation split only; the test split is never touched here.
Run: ``nice -n 5 .venv/bin/python scripts/precompute_distill.py`` (one torch thread; about 5 minutes
of CPU time, which took about an hour of wall time on a 2-core machine shared by a dozen jobs).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit import cache, data, distill, models, train  # noqa: E402

OUT = cache.DATA_DIR / "distill"
RESULTS = OUT / "results.json"

SETUP = {
    "teacher": "cnn1d:32-32-32", "teacher_members": 3, "teacher_epochs": 40,
    "transfer_n": 50_000, "transfer_seed": 1,
    "alone": {"epochs": 100, "patience": 15, "batch_size": 128},
    "distilled": {"epochs": 15, "patience": 4, "batch_size": 256},
    "naive": {"temperature": 4.0, "soft_weight": 0.9, "hard_weight": 0.1},
    "naive_train": {"epochs": 60, "batch_size": 128},  # the calibration: 60 epochs, no early stopping
    "grid_student": "mlp:128-128", "grid_T": [1.0, 2.0, 4.0, 8.0], "grid_l2": [0.5, 0.9],
    "sizes": ["mlp:", "mlp:16", "mlp:64-64", "mlp:128-128", "mlp:256-256"],
    "transfer_sizes": [0, 5_000, 20_000],
}


def record(results: dict, key: str, compute) -> dict:
    """Compute ``results[key]`` once and store the whole table atomically after every run."""
    if key not in results:
        t0 = time.perf_counter()
        results[key] = compute()
        results[key]["seconds"] = round(time.perf_counter() - t0, 1)
        cache.save_json(RESULTS, results)
        print(f"{key}: {results[key]}", flush=True)
    return results[key]


def teachers(ds) -> distill.Teacher:
    """Train (or load) the ensemble members."""
    members = []
    for k in range(SETUP["teacher_members"]):
        torch.manual_seed(k)
        net = models.build(SETUP["teacher"], ds)
        path = OUT / f"teacher_{k}.pt"
        if path.exists():
            cache.load_state_dict(net, path)
        else:
            train.fit(net, ds.train, ds.val, epochs=SETUP["teacher_epochs"], seed=k, progress=False)
            cache.save_state_dict(net, path)
        members.append(net)
    return distill.Teacher(members)


def run_pair(spec, ds, table, config, seed=0, with_alone=True, kd=None) -> dict:
    """Validation accuracy of the student alone and distilled from the same initial weights."""
    make = lambda: models.build(spec, ds)  # noqa: E731
    alone_cfg = train.TrainConfig(progress=False, **SETUP["alone"])
    kd_cfg = train.TrainConfig(progress=False, **(kd or SETUP["distilled"]))
    if not with_alone:
        torch.manual_seed(seed)
        net = make()
        distill.distill(net, table, ds.train, ds.val, config, kd_cfg, seed=seed)
        return {"distilled": train.accuracy(net, ds.val)}
    out = distill.alone_vs_distilled(make, table, ds.train, ds.val, config, seed=seed, alone=alone_cfg, distilled=kd_cfg)
    return {"alone": train.accuracy(out["alone"], ds.val), "distilled": train.accuracy(out["distilled"], ds.val)}


def main() -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    results = cache.load_json(RESULTS) if RESULTS.exists() else {}
    results["setup"] = SETUP
    ds = data.load("mnist1d", seed=0)
    teacher = teachers(ds)
    member_acc = [train.accuracy(m, ds.val) for m in teacher.members]
    results["teacher"] = {"members_val": member_acc, "ensemble_val": teacher.accuracy(ds.val),
                          "params_per_member": sum(p.numel() for p in teacher.members[0].parameters())}
    extra = data.mnist1d_unlabelled(SETUP["transfer_n"], seed=SETUP["transfer_seed"])
    full = distill.label_transfer_set(teacher, ds.train, extra)
    naive = distill.label_transfer_set(teacher, ds.train)

    # 1. T x l2 on validation data, middle student, with the transfer set (l1 = 1 - l2)
    spec = SETUP["grid_student"]
    for T in SETUP["grid_T"]:
        for l2 in SETUP["grid_l2"]:
            cfg = distill.DistillConfig(temperature=T, soft_weight=l2, hard_weight=round(1 - l2, 3))
            record(results, f"grid/T={T}/l2={l2}", lambda: run_pair(spec, ds, full, cfg, with_alone=False))
    grid = {k: v["distilled"] for k, v in results.items() if k.startswith("grid/")}
    best = max(grid, key=grid.get)
    T_best, l2_best = float(best.split("/")[1][2:]), float(best.split("/")[2][3:])
    results["tuned"] = {"temperature": T_best, "soft_weight": l2_best, "hard_weight": round(1 - l2_best, 3),
                        "val_accuracy": grid[best]}
    cache.save_json(RESULTS, results)
    tuned = distill.DistillConfig(temperature=T_best, soft_weight=l2_best, hard_weight=round(1 - l2_best, 3))

    # 2. accuracy against student size: alone / naive distillation / distillation with the transfer set
    for spec_k in SETUP["sizes"]:
        record(results, f"size/{spec_k}/transfer", lambda: run_pair(spec_k, ds, full, tuned))
        record(results, f"size/{spec_k}/naive",
               lambda: run_pair(spec_k, ds, naive, distill.DistillConfig(**SETUP["naive"]), with_alone=False,
                                kd=SETUP["naive_train"]))
        results[f"size/{spec_k}/transfer"]["params"] = sum(p.numel() for p in models.build(spec_k, ds).parameters())

    # 3. how many teacher-labelled extra inputs are needed; 4. one teacher instead of three
    for n in SETUP["transfer_sizes"]:
        part = distill.TransferSet(full.X[:len(ds.train) + n], full.labels[:len(ds.train) + n],
                                   full.teacher_logits[:, :len(ds.train) + n])
        steps = dict(SETUP["distilled"], epochs=round(SETUP["distilled"]["epochs"] * len(full) / len(part)))
        record(results, f"transfer_n/{n}", lambda: run_pair(spec, ds, part, tuned, with_alone=False, kd=steps))
    single = distill.TransferSet(full.X, full.labels, full.teacher_logits[:1])
    record(results, "single_teacher", lambda: run_pair(spec, ds, single, tuned, with_alone=False))
    cache.save_json(RESULTS, results)
    print("done", flush=True)


if __name__ == "__main__":
    main()
