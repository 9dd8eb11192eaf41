"""Score 40 cells with every cheap performance estimator, for notebook 05: data/nas/estimators.json.

    nice -n 5 .venv/bin/python scripts/precompute_nas_estimators.py

For each estimator of ``labkit.nas.estimators`` (low fidelity by epochs, data and width;
learning-curve extrapolation; weight inheritance from 5 trained parents; a one-shot supernet) the file
holds every cell's estimate and CPU seconds. The notebook compares them with full training (the
table's mean over seeds) by Spearman and Kendall correlation. About a minute of CPU time.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit import cache  # noqa: E402
from labkit.nas import estimators as E  # noqa: E402
from labkit.nas.space import CellSpace  # noqa: E402
from labkit.nas.tabular import TableConfig, benchmark_data, train_arch  # noqa: E402

OUT = cache.DATA_DIR / "nas" / "estimators.json"
N_ARCHS, N_PARENTS = 40, 5


def main() -> None:
    torch.set_num_threads(1)
    space, config, splits = CellSpace(), TableConfig(), benchmark_data()
    rng = np.random.default_rng(0)
    reps = {}
    for arch in space.all():
        reps.setdefault(space.canonical(arch), arch)
    pool = list(reps.values())
    archs = [pool[int(k)] for k in rng.choice(len(pool), N_ARCHS, replace=False)]
    inherit = E.WeightInheritance(space, splits)
    parent_seconds = 0.0
    for k in rng.choice(len(pool), N_PARENTS, replace=False):
        torch.manual_seed(0)
        net = space.build(pool[int(k)])
        parent_seconds += train_arch(net, splits, config=config)["seconds"]
        inherit.add_parent(pool[int(k)], net)
    oneshot = E.OneShot(space, splits).fit()
    estimators = {
        "1 epoch": E.LowFidelity(space, splits, epochs=1),
        "2 epochs": E.LowFidelity(space, splits, epochs=2),
        "1/4 of the data": E.LowFidelity(space, splits, subset=len(splits[0].y) // 4),
        "half the channels": E.LowFidelity(space, splits, channels=space.channels // 2),
        "curve extrapolation (1 epoch)": E.CurveExtrapolation(space, splits, observed_epochs=1),
        "weight inheritance (1 epoch)": inherit,
        "one-shot supernet": oneshot,
    }
    out = {"archs": [list(a) for a in archs], "estimators": {},
           "one_time_seconds": {"weight inheritance (1 epoch)": parent_seconds, "one-shot supernet": oneshot.fit_seconds_}}
    for name, est in estimators.items():
        values = [est.estimate(a) for a in archs]
        out["estimators"][name] = {"value": [v.value for v in values], "seconds": [v.seconds for v in values]}
        print(f"{name:32s} {np.mean([v.seconds for v in values]):.3f} s per cell", flush=True)
    cache.save_json(OUT, out)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
