"""Caches and checkpoints: atomic writes, weights-only loading."""
import os

import numpy as np
import pytest
import torch

from labkit import cache, models


def test_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    cache.save_json(path, {"acc": [0.5]})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the student hits stop while the cache is being written

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.save_json(path, {"acc": [0.9]})
    monkeypatch.undo()
    assert cache.load_json(path) == {"acc": [0.5]}
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]  # no temporary file left behind


def test_cached_json_computes_once(tmp_path):
    calls = []
    compute = lambda: calls.append(1) or {"x": 1}
    assert cache.cached_json(tmp_path / "c.json", compute) == {"x": 1}
    assert cache.cached_json(tmp_path / "c.json", compute) == {"x": 1}
    assert len(calls) == 1
    cache.cached_json(tmp_path / "c.json", compute, recompute=True)
    assert len(calls) == 2


def test_npz_round_trip(tmp_path):
    cache.save_npz(tmp_path / "a.npz", x=np.arange(5), y=np.eye(2))
    back = cache.load_npz(tmp_path / "a.npz")
    assert np.array_equal(back["x"], np.arange(5)) and np.array_equal(back["y"], np.eye(2))


def test_checkpoint_is_a_state_dict_loaded_weights_only(tmp_path):
    torch.manual_seed(0)
    net = models.cnn1d((40,), channels=(4, 4))
    cache.save_state_dict(net, tmp_path / "net.pt")
    raw = torch.load(tmp_path / "net.pt", weights_only=True)
    assert set(raw) == set(net.state_dict())
    other = cache.load_state_dict(models.cnn1d((40,), channels=(4, 4)), tmp_path / "net.pt")
    x = torch.randn(3, 40)
    net.eval(), other.eval()
    assert torch.equal(net(x), other(x))


def test_a_pickled_object_is_refused(tmp_path):
    torch.save({"model": models.mlp((4,), hidden=(2,))}, tmp_path / "whole_model.pt")  # not a state dict
    with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
        cache.load_state_dict(models.mlp((4,), hidden=(2,)), tmp_path / "whole_model.pt")
