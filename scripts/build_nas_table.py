"""Train every distinct cell of the lab's NAS space on MNIST-1D, twice, into data/nas/table.npz.

    nice -n 5 .venv/bin/python scripts/build_nas_table.py            # resumes where it stopped
    .venv/bin/python scripts/build_nas_table.py --compile-only        # rebuild the .npz from the log

The 729 cells of ``labkit.nas.space.CellSpace()`` compute 483 distinct functions
(``CellSpace.canonical``); one representative of each is trained per seed with
``labkit.nas.tabular.train_arch`` (one torch thread, about half a CPU-second per run). Every finished
run is appended as one JSON line to a log with a single ``write`` on an ``O_APPEND`` descriptor and an
``fsync``, so an interruption loses at most the run in flight; a torn last line is ignored on resume.
The compressed table is rewritten atomically (``labkit.cache.save_npz``) at the end, or on demand.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit import cache, metrics  # noqa: E402
from labkit.nas.space import CellSpace  # noqa: E402
from labkit.nas.tabular import TABLE_PATH, TableConfig, benchmark_data, compile_table, train_arch  # noqa: E402

LOG_PATH = cache.DATA_DIR / "generated" / "nas_table_log.jsonl"


def read_log(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a torn last line from an interrupted write
                pass
    return rows


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(row) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile-only", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="train at most this many runs (a smoke test)")
    parser.add_argument("--shard", default="0/1", help="k/n: this worker trains every n-th run from the k-th "
                        "(n workers share one log; appends of one line are atomic)")
    parser.add_argument("--log", type=Path, default=LOG_PATH)
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space, config = CellSpace(), TableConfig()
    reps: dict[str, int] = {}
    for index, arch in enumerate(space.all()):
        reps.setdefault(space.canonical(arch), index)
    print(f"{space.size} cells, {len(reps)} distinct; {len(config.seeds)} seeds; log {args.log}", flush=True)
    if not args.compile_only:
        done = {(r["canonical"], r.get("seed")) for r in read_log(args.log)}
        splits = benchmark_data(config)
        todo = [(seed, c, i) for seed in config.seeds for c, i in reps.items() if (c, seed) not in done]
        todo += [("cost", c, i) for c, i in reps.items() if (c, "cost") not in done]
        k, n_workers = (int(v) for v in args.shard.split("/"))
        todo = todo[k::n_workers]
        t0, n = time.time(), 0
        for seed, canon, index in todo[:args.limit]:
            arch = space.prune(space.arch_at(index))
            if seed == "cost":
                net = space.build(arch)
                row = {"canonical": canon, "seed": "cost", "index": index, "params": metrics.count_params(net),
                       "macs": metrics.count_macs(net, (space.input_length,)),
                       "latency_ms": metrics.measure_latency(net, (space.input_length,), batch_size=1,
                                                             warmup=5, repeats=25).median_ms}
            else:
                torch.manual_seed(seed)
                row = {"canonical": canon, "seed": seed, "index": index,
                       **train_arch(space.build(arch), splits, seed=seed, config=config)}
            append(args.log, row)
            n += 1
            if n % 25 == 0:
                rate = (time.time() - t0) / n
                print(f"{n}/{len(todo)} runs, {rate:.2f} s each, ~{rate * (len(todo) - n) / 60:.0f} min left", flush=True)
    if args.shard != "0/1" and not args.compile_only:
        return  # workers only train; compile once all are done (--compile-only)
    rows = read_log(args.log)
    table = compile_table(space, config, reps, rows)
    cache.save_npz(args.out, **table)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), "
          f"{int(np.isfinite(table['val_acc'][:, :, -1]).sum())} runs", flush=True)


if __name__ == "__main__":
    main()
