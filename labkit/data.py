"""Data sets of the lab: generated or shipped, never downloaded behind the student's back.

* **MNIST-1D** (Greydanus 2020): ten 1-D digit templates of length 12, padded, shifted, scaled,
  sheared and made noisy into sequences of 40 values. Generated offline with
  ``mnist1d.data.make_dataset`` (its ``get_dataset`` tries a download first, so it is never called):
  4,000 training and 1,000 test samples for the default seed 42. Published accuracies: logistic
  regression 32 %, MLP 68 %, CNN 94 %, GRU 91 %: architecture matters, which makes it right for NAS
  and distillation. Any number of extra samples can be generated (:func:`mnist1d_unlabelled`).
* **digits** (scikit-learn): 1,797 images of 8x8 pixels, shipped inside scikit-learn.
* **Toy 2-D sets**: XOR, circles, moons, spirals, for NEAT and decision boundaries.
* **MNIST / Fashion-MNIST / CIFAR-10** through torchvision, for users who are online
  (``download=True``); the tests check these loaders offline on tiny files written in torchvision's
  own formats.

Every loader returns a :class:`Dataset` with a training and a validation split. The test split is
only handed out by an explicit ``ds.test()`` call: tuning happens on validation data, and the test
split is touched once, by a final evaluation. Used by every notebook.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from .cache import DATA_DIR, load_npz, save_npz
from .errors import check_choice, check_int, check_range, fail

MNIST1D_SEED = 42  # the published data set (get_dataset_args default)


@dataclass(frozen=True)
class Split:
    """Inputs ``X`` (float32, ``(n, *input_shape)``) and integer labels ``y`` (int64, ``(n,)``)."""

    X: torch.Tensor
    y: torch.Tensor

    def __post_init__(self):
        assert len(self.X) == len(self.y), "X and y must have the same length"

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Split(X={tuple(self.X.shape)}, y={tuple(self.y.shape)})"

    def loader(self, batch_size: int = 128, shuffle: bool = False, seed: int | None = None):
        """A ``DataLoader`` over this split; ``seed`` fixes the shuffling order."""
        check_int(batch_size, "batch_size", "Split.loader", low=1)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        ds = torch.utils.data.TensorDataset(self.X, self.y)
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=gen)

    def subset(self, n: int, seed: int = 0) -> "Split":
        """A random subset of ``n`` samples (same ``seed``, same subset).

        >>> s = Split(torch.zeros(10, 2), torch.arange(10))
        >>> len(s.subset(4))
        4
        """
        check_int(n, "n", "Split.subset", low=1, high=len(self))
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return Split(self.X[idx], self.y[idx])


def as_split(value, name: str, owner: str) -> Split:
    """``value`` as a Split: a Split itself, or an ``(X, y)`` pair of tensors of the same length.

    For functions that accept either (``DartsSearch.fit(train, val)``); anything else raises naming
    ``name`` and ``owner``.

    >>> as_split((torch.zeros(3, 2), torch.arange(3)), "train", "fit")
    Split(X=(3, 2), y=(3,))
    """
    if isinstance(value, Split):
        return value
    if (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, torch.Tensor) for v in value)
            and len(value[0]) == len(value[1])):
        return Split(value[0], value[1])
    raise fail(name, owner, "a labkit.data.Split or an (X, y) pair of tensors of the same length",
               type(value).__name__)


@dataclass
class Dataset:
    """A named data set with ``train`` and ``val`` splits; the test split only through :meth:`test`."""

    name: str
    train: Split
    val: Split
    num_classes: int
    _test: Split = field(repr=False)
    test_calls: int = field(default=0, repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(40,)`` for MNIST-1D."""
        return tuple(self.train.X.shape[1:])

    def test(self) -> Split:
        """The held-out test split, for the final evaluation only (never for tuning)."""
        self.test_calls += 1
        return self._test


DATASETS = ("mnist1d", "digits", "xor", "circles", "moons", "spirals", "mnist", "fashion_mnist", "cifar10")
TOY = ("xor", "circles", "moons", "spirals")


def load(name: str, *, val_fraction: float = 0.2, seed: int = 0, **kwargs) -> Dataset:
    """Load a data set by name, with a stratified validation split carved from its training part.

    ``seed`` fixes the validation split (and the samples of the toy sets). Extra keyword arguments go
    to the loader: ``n`` and ``noise`` for the toy sets, ``root`` and ``download`` for torchvision's.

    >>> ds = load("digits")
    >>> len(ds.train), len(ds.val), ds.num_classes, ds.input_shape
    (1149, 288, 10, (64,))
    """
    check_choice(name, DATASETS, "name", "load")
    check_range(val_fraction, "val_fraction", "load", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    check_int(seed, "seed", "load", low=0)
    if name == "mnist1d":
        (X, y), test = _mnist1d(**kwargs)
    elif name == "digits":
        (X, y), test = _digits(**kwargs)
    elif name in TOY:
        (X, y), test = _toy(name, seed=seed, **kwargs)
    else:
        (X, y), test = _torchvision(name, **kwargs)
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=val_fraction, random_state=seed, stratify=y)
    return Dataset(name=name, train=_split(X_tr, y_tr), val=_split(X_val, y_val),
                   num_classes=int(max(y.max(), test[1].max()) + 1), _test=_split(*test))


def _split(X, y) -> Split:
    return Split(torch.as_tensor(np.asarray(X), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.int64))


# --- MNIST-1D -------------------------------------------------------------------------------------

def make_mnist1d(num_samples: int = 5000, seed: int = MNIST1D_SEED) -> dict[str, np.ndarray]:
    """Generate MNIST-1D offline (80 % train / 20 % test), cached under ``data/generated``.

    >>> d = make_mnist1d()
    >>> d["x"].shape, d["x_test"].shape
    ((4000, 40), (1000, 40))
    """
    check_int(num_samples, "num_samples", "make_mnist1d", low=10)
    check_int(seed, "seed", "make_mnist1d", low=0)
    path = DATA_DIR / "generated" / f"mnist1d_n{num_samples}_seed{seed}.npz"
    if path.exists():
        return load_npz(path)
    from mnist1d.data import get_dataset_args, make_dataset  # make_dataset never downloads

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    raw = make_dataset(args)
    arrays = {k: np.asarray(raw[k]) for k in ("x", "y", "x_test", "y_test")}
    arrays = {k: v.astype(np.float32 if k.startswith("x") else np.int64) for k, v in arrays.items()}
    save_npz(path, **arrays)
    return arrays


def _mnist1d(num_samples: int = 5000):
    d = make_mnist1d(num_samples, MNIST1D_SEED)
    return (d["x"], d["y"]), (d["x_test"], d["y_test"])


def mnist1d_unlabelled(n: int = 20_000, seed: int = 1) -> torch.Tensor:
    """``n`` extra MNIST-1D inputs drawn with another seed than the published set (labels dropped).

    Useful as a transfer set for distillation: the teacher labels them.

    >>> mnist1d_unlabelled(100, seed=3).shape
    torch.Size([100, 40])
    """
    check_int(n, "n", "mnist1d_unlabelled", low=1)
    check_int(seed, "seed", "mnist1d_unlabelled", low=0)
    if seed == MNIST1D_SEED:
        raise ValueError(f"The 'seed' parameter of mnist1d_unlabelled must differ from {MNIST1D_SEED} "
                         f"(the seed of the published set, whose test split must stay unseen). Got {seed} instead.")
    total = int(np.ceil(n / 0.8)) + 1
    d = make_mnist1d(total, seed)
    X = np.concatenate([d["x"], d["x_test"]])[:n]
    return torch.as_tensor(X, dtype=torch.float32)


# --- scikit-learn digits --------------------------------------------------------------------------

def _digits(test_fraction: float = 0.2):
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    X_tr, X_te, y_tr, y_te = train_test_split(X, d.target, test_size=test_fraction, random_state=0, stratify=d.target)
    return (X_tr, y_tr), (X_te, y_te)


# --- toy 2-D sets ---------------------------------------------------------------------------------

def make_toy(name: str, n: int = 1000, noise: float = 0.1, seed: int = 0, *,
             turns: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points ``X`` (n, 2) and labels ``y`` of a toy set: 'xor', 'circles', 'moons' or 'spirals'.

    ``turns`` (spirals only, default 1.5): how far each arm winds; 1 is an easier set, 2 a harder one.

    >>> X, y = make_toy("xor", n=8, noise=0.0)
    >>> X.shape, sorted(set(y.tolist()))
    ((8, 2), [0, 1])
    """
    check_choice(name, TOY, "name", "make_toy")
    check_int(n, "n", "make_toy", low=4)
    check_range(noise, "noise", "make_toy", 0.0)
    if turns is not None and name != "spirals":
        raise fail("turns", "make_toy", "None unless name='spirals'", turns)
    turns = 1.5 if turns is None else turns
    check_range(turns, "turns", "make_toy", 0.25, 10.0)
    rng = np.random.default_rng(seed)
    if name == "xor":
        X = rng.uniform(-1, 1, size=(n, 2))
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
        X = X + noise * rng.normal(size=X.shape)
    elif name == "circles":
        from sklearn.datasets import make_circles

        X, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(n, noise=noise, random_state=seed)
    else:  # two interleaved spirals
        y = np.arange(n) % 2
        t = rng.uniform(0.25, 1.0, size=n) * (2 * turns) * np.pi  # angle along the arm
        r = t / ((2 * turns) * np.pi)
        X = np.stack([r * np.cos(t + np.pi * y), r * np.sin(t + np.pi * y)], axis=1)
        X = X + noise * 0.5 * rng.normal(size=X.shape)
    return X.astype(np.float32), y.astype(np.int64)


def _toy(name: str, seed: int = 0, n: int = 1000, noise: float = 0.1, test_fraction: float = 0.2):
    X, y = make_toy(name, n=n, noise=noise, seed=seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    return (X_tr, y_tr), (X_te, y_te)


# --- torchvision (online users) -------------------------------------------------------------------

_TV = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def _torchvision(name: str, root: str | Path | None = None, download: bool = False, max_train: int | None = None):
    import torchvision

    root = Path(root) if root is not None else DATA_DIR / "torchvision"
    cls = getattr(torchvision.datasets, _TV[name])
    try:
        parts = [cls(str(root), train=flag, download=download) for flag in (True, False)]
    except RuntimeError as e:  # torchvision's "Dataset not found" when files are missing
        raise FileNotFoundError(
            f"{_TV[name]} was not found under {root}. Pass download=True when online, or point "
            f"'root' at a folder with torchvision's files. ({e})") from None
    out = []
    for ds in parts:
        X = np.asarray(ds.data, dtype=np.float32) / 255.0
        X = X[:, None] if X.ndim == 3 else X.transpose(0, 3, 1, 2)  # (n, C, H, W)
        y = np.asarray(ds.targets, dtype=np.int64)
        out.append((X, y))
    if max_train is not None:
        out[0] = (out[0][0][:max_train], out[0][1][:max_train])
    return out[0], out[1]
