"""Small networks for the lab, built from a compact spec.

Every model takes a split's ``X`` as it is: ``(batch, 40)`` for MNIST-1D, ``(batch, 64)`` for digits,
``(batch, C, H, W)`` for torchvision images. CNNs unflatten a flat input themselves, so an MLP and a
CNN can be swapped in any notebook. The spec strings ``"mlp:100-100"``, ``"cnn1d:32-32-32"`` and
``"cnn2d:16-32"`` name the hidden widths (neurons or channels) per layer.

All builders return ``nn.Sequential`` so that pruning, quantization and MAC counting see plain layers.
Used by every notebook; notebook 00 measures them.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .errors import ParameterError, check_choice, check_int, check_range, fail

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def mlp(input_shape, hidden=(100, 100), num_classes: int = 10, *, activation: str = "relu",
        dropout: float = 0.0, batchnorm: bool = False) -> nn.Sequential:
    """A multi-layer perceptron: Flatten -> [Linear -> (BN) -> act -> (Dropout)] x len(hidden) -> Linear.

    >>> net = mlp((40,), hidden=(100, 100))
    >>> net(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """
    in_features = _numel(input_shape, "mlp")
    hidden = _widths(hidden, "hidden", "mlp")
    check_int(num_classes, "num_classes", "mlp", low=2)
    check_choice(activation, ACTIVATIONS, "activation", "mlp")
    check_range(dropout, "dropout", "mlp", 0.0, 1.0, high_inclusive=False)
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def lenet_300_100(input_shape=(1, 28, 28), num_classes: int = 10) -> nn.Sequential:
    """LeNet-300-100 (LeCun et al. 1998), the lottery-ticket paper's MNIST network: 266,610 params.

    >>> sum(p.numel() for p in lenet_300_100().parameters())
    266610
    """
    return mlp(input_shape, hidden=(300, 100), num_classes=num_classes)


def cnn1d(input_shape=(40,), channels=(32, 32, 32), num_classes: int = 10, *, kernel_size: int = 5,
          stride: int = 2, batchnorm: bool = True, activation: str = "relu") -> nn.Sequential:
    """A 1-D CNN: [Conv1d(stride) -> (BN) -> act] x len(channels) -> Flatten -> Linear.

    Strided convolutions keep the position of features (MNIST-1D's digits are shifted templates), and
    the final Linear reads them all: the shape of Greydanus's MNIST-1D CNN (94 %).

    >>> net = cnn1d((40,), channels=(8, 8))
    >>> net(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """
    c_in, length = _sequence_shape(input_shape)
    channels = _widths(channels, "channels", "cnn1d")
    check_int(num_classes, "num_classes", "cnn1d", low=2)
    check_int(kernel_size, "kernel_size", "cnn1d", low=1)
    check_int(stride, "stride", "cnn1d", low=1)
    check_choice(activation, ACTIVATIONS, "activation", "cnn1d")
    layers: list[nn.Module] = []
    if len(tuple(input_shape)) == 1:
        layers.append(nn.Unflatten(1, (1, length)))  # (batch, L) -> (batch, 1, L)
    pad = kernel_size // 2
    for c in channels:
        layers.append(nn.Conv1d(c_in, c, kernel_size, stride=stride, padding=pad))
        if batchnorm:
            layers.append(nn.BatchNorm1d(c))
        layers.append(ACTIVATIONS[activation]())
        length = (length + 2 * pad - kernel_size) // stride + 1  # >= 1: padding k//2 keeps one position
        c_in = c
    layers += [nn.Flatten(), nn.Linear(c_in * length, num_classes)]  # (batch, C*L) -> (batch, classes)
    return nn.Sequential(*layers)


def cnn2d(input_shape=(64,), channels=(16, 32), num_classes: int = 10, *, kernel_size: int = 3,
          batchnorm: bool = True, activation: str = "relu") -> nn.Sequential:
    """A 2-D CNN: [Conv2d(pad) -> (BN) -> act -> MaxPool2d(2)] x len(channels) -> Flatten -> Linear.

    A flat input of a square number of pixels (digits: 64) is unflattened to one 8x8 channel.

    >>> net = cnn2d((64,), channels=(8, 16))
    >>> net(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    shape = tuple(input_shape)
    layers: list[nn.Module] = []
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise fail("input_shape", "cnn2d", "(C, H, W) or a flat square number of pixels", input_shape)
        layers.append(nn.Unflatten(1, (1, side, side)))
        c_in, h, w = 1, side, side
    elif len(shape) == 3:
        c_in, h, w = shape
    else:
        raise fail("input_shape", "cnn2d", "(C, H, W) or a flat square number of pixels", input_shape)
    channels = _widths(channels, "channels", "cnn2d")
    check_int(num_classes, "num_classes", "cnn2d", low=2)
    check_choice(activation, ACTIVATIONS, "activation", "cnn2d")
    for c in channels:
        if h < 2 or w < 2:
            raise fail("channels", "cnn2d", f"few enough layers that 2x2 pooling fits {input_shape}", channels)
        layers.append(nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2))
        if batchnorm:
            layers.append(nn.BatchNorm2d(c))
        layers += [ACTIVATIONS[activation](), nn.MaxPool2d(2)]
        c_in, h, w = c, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c_in * h * w, num_classes)]
    return nn.Sequential(*layers)


BUILDERS = {"mlp": mlp, "cnn1d": cnn1d, "cnn2d": cnn2d}


def build(spec: str, data=None, *, input_shape=None, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build a model from a compact spec such as ``"mlp:100-100"`` for a :class:`labkit.data.Dataset`.

    >>> build("cnn1d:16-16", input_shape=(40,), num_classes=10)(torch.zeros(1, 40)).shape
    torch.Size([1, 10])
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise fail("spec", "build", "a string 'kind:w1-w2-...' with kind in mlp, cnn1d, cnn2d", spec)
    kind, widths = spec.split(":", 1)
    check_choice(kind, BUILDERS, "spec", "build")
    try:
        sizes = tuple(int(w) for w in widths.split("-")) if widths else ()
    except ValueError:
        raise fail("spec", "build", "a string 'kind:w1-w2-...' with integer widths", spec) from None
    if data is not None:
        input_shape = data.input_shape if input_shape is None else input_shape
        num_classes = data.num_classes if num_classes is None else num_classes
    if input_shape is None or num_classes is None:
        raise ParameterError("build needs a data set or both 'input_shape' and 'num_classes'.")
    key = "hidden" if kind == "mlp" else "channels"
    return BUILDERS[kind](input_shape, **{key: sizes}, num_classes=num_classes, **kwargs)


def _numel(shape, owner: str) -> int:
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise fail("input_shape", owner, "a tuple of positive ints", shape) from None
    if not dims or any(d < 1 for d in dims):
        raise fail("input_shape", owner, "a tuple of positive ints", shape)
    return math.prod(dims)


def _sequence_shape(shape) -> tuple[int, int]:
    dims = tuple(shape)
    _numel(dims, "cnn1d")
    if len(dims) == 1:
        return 1, int(dims[0])
    if len(dims) == 2:
        return int(dims[0]), int(dims[1])
    raise fail("input_shape", "cnn1d", "(L,) or (C, L)", shape)


def _widths(widths, name: str, owner: str) -> tuple[int, ...]:
    if isinstance(widths, int):
        widths = (widths,)
    try:
        widths = tuple(widths)
    except TypeError:
        raise fail(name, owner, "a sequence of positive ints", widths) from None
    for w in widths:
        check_int(w, name, owner, low=1)
    return widths
