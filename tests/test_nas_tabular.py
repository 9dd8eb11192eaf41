"""The tabular benchmark: what the file holds, and that its entries are what training gives."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.errors import ParameterError
from labkit.nas.tabular import TABLE_PATH, benchmark_data, load_table, pareto_front, train_arch

table = load_table()


def test_table_covers_every_cell_with_two_seeds_and_per_epoch_curves():
    n, seeds, epochs = table.num_unique, len(table.config.seeds), table.config.epochs
    assert len(table) == table.space.size == 729 and n == 483
    assert seeds >= 2
    for name in ("val_acc", "test_acc", "train_loss"):
        assert table.arrays[name].shape == (n, seeds, epochs)
        assert np.isfinite(table.arrays[name]).all()
    assert (table.arrays["params"] > 0).all() and (table.arrays["macs"] > 0).all()
    assert np.isfinite(table.arrays["latency_ms"]).all()
    assert TABLE_PATH.stat().st_size < 5e6  # a few MB at most


def test_entries_share_rows_exactly_when_cells_compute_the_same_function():
    rng = np.random.default_rng(0)
    for k in rng.integers(table.space.size, size=20):
        arch = table.space.arch_at(int(k))
        rep = table.space.arch_at(int(table.arrays["representative"][table.row(arch)]))
        assert table.space.canonical(rep) == table.space.canonical(arch)
        assert table.params(arch) == table.space.count_params(arch)


def test_table_params_and_macs_match_the_built_networks():
    from labkit import metrics

    for k in (0, 300, 728):
        arch = table.space.arch_at(k)
        net = table.space.build(table.space.prune(arch))
        assert table.macs(arch) == metrics.count_macs(net, (40,))


def test_entries_reproduce_a_retraining_within_seed_noise():
    splits = benchmark_data(table.config)
    rng = np.random.default_rng(5)
    gaps = np.abs(np.diff(table.arrays["val_acc"][:, :2, -1], axis=1))
    noise = float(np.quantile(gaps, 0.9))  # 90 % of seed-to-seed differences are below this
    for k in rng.choice(table.num_unique, size=2, replace=False):
        arch = table.space.arch_at(int(table.arrays["representative"][k]))
        torch.manual_seed(0)
        out = train_arch(table.space.build(table.space.prune(arch)), splits, seed=0, config=table.config)
        assert abs(out["val_acc"][-1] - table.val_acc(arch, seed=0)) <= noise
        assert abs(out["test_acc"][-1] - table.test_acc(arch, seed=0)) <= noise


def test_lookups_reject_bad_input():
    arch = table.space.arch_at(0)
    with pytest.raises(ParameterError, match="'epoch' parameter of NASTable.val_acc must be an int in"):
        table.val_acc(arch, epoch=0)
    with pytest.raises(ParameterError, match="'seed' parameter of NASTable.val_acc must be one of"):
        table.val_acc(arch, seed=7)
    with pytest.raises(ParameterError, match="'arch' parameter of CellSpace must be operations from"):
        table.objective(("conv3",) * 5 + ("maxpool",))
    with pytest.raises(ParameterError, match="'path' parameter of load_table"):
        load_table("/nonexistent/table.npz")


def test_pareto_front_points_are_not_dominated():
    df = table.frame()
    front = pareto_front(df["macs"].to_numpy(), df["val_acc"].to_numpy())
    for k in front:
        dominated = (df["macs"] <= df["macs"].iloc[k]) & (df["val_acc"] > df["val_acc"].iloc[k])
        assert not dominated.any()
