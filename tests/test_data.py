"""Data sets: generated or shipped, split for tuning, the test split only on request."""
import pickle
import struct

import numpy as np
import pytest
import torch

from labkit import data
from labkit.errors import ParameterError


def test_mnist1d_is_the_published_set_generated_offline():
    raw = data.make_mnist1d()
    assert raw["x"].shape == (4000, 40) and raw["x_test"].shape == (1000, 40)
    ds = data.load("mnist1d", val_fraction=0.2, seed=0)
    assert (len(ds.train), len(ds.val), ds.input_shape, ds.num_classes) == (3200, 800, (40,), 10)
    # the validation split is carved from the 4,000 training samples, never from the test samples
    train_rows = {tuple(r) for r in np.round(raw["x"], 5)}
    assert all(tuple(r) in train_rows for r in np.round(ds.val.X.numpy()[:50], 5))


def test_test_split_only_by_an_explicit_call():
    ds = data.load("digits")
    assert ds.test_calls == 0 and not hasattr(ds, "test_split")
    test = ds.test()
    assert ds.test_calls == 1 and len(test) == 360
    assert len(ds.train) + len(ds.val) + len(test) == 1797


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = (data.load("digits", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.val.X, b.val.X) and not torch.equal(a.val.X, c.val.X)


def test_splits_are_stratified():
    ds = data.load("digits", val_fraction=0.25)
    share = torch.bincount(ds.val.y, minlength=10).float() / len(ds.val)
    assert share.min() > 0.08 and share.max() < 0.12


def test_unlabelled_mnist1d_differs_from_the_published_samples():
    extra = data.mnist1d_unlabelled(300, seed=1)
    assert extra.shape == (300, 40)
    published = torch.as_tensor(data.make_mnist1d()["x_test"])
    assert torch.cdist(extra[:50], published).min() > 1e-3
    with pytest.raises(ValueError, match="'seed' parameter of mnist1d_unlabelled must differ from 42"):
        data.mnist1d_unlabelled(10, seed=42)


@pytest.mark.parametrize("name", data.TOY)
def test_toy_sets_are_two_dimensional_and_balanced(name):
    ds = data.load(name, n=400)
    assert ds.input_shape == (2,) and ds.num_classes == 2
    assert abs(ds.train.y.float().mean().item() - 0.5) < 0.1


def test_xor_labels_follow_the_quadrants():
    X, y = data.make_toy("xor", n=200, noise=0.0)
    assert np.array_equal(y, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int))


def test_spiral_arms_wind_as_many_turns_as_asked():
    for turns in (1.0, 2.5):
        X, y = data.make_toy("spirals", n=400, noise=0.0, turns=turns)
        arm = X[y == 0]
        angle = np.unwrap(np.arctan2(arm[:, 1], arm[:, 0])[np.argsort(np.hypot(*arm.T))])
        assert abs((angle[-1] - angle[0]) / (2 * np.pi) - 0.75 * turns) < 0.05   # t from 25 % to 100 %


def test_subset_and_loader():
    ds = data.load("digits")
    sub = ds.train.subset(100, seed=3)
    assert len(sub) == 100 and torch.equal(sub.X, ds.train.subset(100, seed=3).X)
    xb, yb = next(iter(ds.train.loader(batch_size=32, shuffle=True, seed=0)))
    assert xb.shape == (32, 64) and yb.dtype == torch.int64


@pytest.mark.parametrize("call, match", [
    (lambda: data.load("imagenet"), "The 'name' parameter of load must be one of 'mnist1d'"),
    (lambda: data.load("digits", val_fraction=1.5), r"'val_fraction' parameter of load must be a float in \(0.0, 1.0\)"),
    (lambda: data.load("digits", seed=-1), "'seed' parameter of load must be an int >= 0"),
    (lambda: data.make_toy("xor", n=2), "'n' parameter of make_toy must be an int >= 4"),
    (lambda: data.make_toy("moons", turns=2), "'turns' parameter of make_toy must be None unless name='spirals'"),
    (lambda: data.make_toy("spirals", turns=0), "'turns' parameter of make_toy must be a float in"),
    (lambda: data.load("digits").train.subset(10_000), "'n' parameter of Split.subset must be an int in"),
    (lambda: data.load("digits").train.loader(batch_size=0), "'batch_size' parameter of Split.loader"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --- torchvision loaders, offline, on files written in torchvision's own formats ------------------

def _write_idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in array.shape:
            f.write(struct.pack(">I", d))
        f.write(array.astype(np.uint8).tobytes())


def _mnist_fixture(root, folder, n_train=12, n_test=6):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 0x0803)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 0x0801)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_style_loaders_read_torchvision_files(tmp_path, name, folder):
    _mnist_fixture(tmp_path, folder, n_train=20, n_test=10)
    ds = data.load(name, root=tmp_path, val_fraction=0.5)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    assert len(ds.train) + len(ds.val) == 20 and len(ds.test()) == 10
    assert 0.0 <= ds.train.X.min() and ds.train.X.max() <= 1.0


def test_cifar10_loader_reads_torchvision_files(tmp_path, monkeypatch):
    import torchvision

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), "labels": list(range(10))}
        (base / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (base / "test_batch").write_bytes(pickle.dumps({"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8),
                                                    "labels": list(range(10))}))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    # the fixture cannot match the real files' MD5 sums; everything after the checksum is real
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    ds = data.load("cifar10", root=tmp_path, val_fraction=0.2)
    assert ds.input_shape == (3, 32, 32) and len(ds.train) + len(ds.val) == 50 and len(ds.test()) == 10


def test_missing_torchvision_files_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="Pass download=True when online"):
        data.load("mnist", root=tmp_path)


def test_as_split_takes_a_split_or_an_x_y_pair_and_names_what_else_it_got():
    split = data.as_split((torch.zeros(4, 3), torch.arange(4)), "train", "DartsSearch.fit")
    assert isinstance(split, data.Split) and data.as_split(split, "train", "fit") is split
    with pytest.raises(ParameterError, match=r"The 'val' parameter of DartsSearch.fit must be a labkit.data.Split "
                                             r"or an \(X, y\) pair of tensors of the same length. Got 'ndarray'"):
        data.as_split(np.zeros((4, 3)), "val", "DartsSearch.fit")
    with pytest.raises(ParameterError, match="'train' parameter of fit"):
        data.as_split((torch.zeros(4, 3), torch.arange(5)), "train", "fit")
