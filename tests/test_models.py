"""Model builders: every spec builds, takes the split's X as is, and rejects bad specs by name."""
import pytest
import torch

from labkit import data, models
from labkit.errors import ParameterError


@pytest.mark.parametrize("spec, shape", [("mlp:100-100", (40,)), ("mlp:", (40,)), ("cnn1d:8-8-8", (40,)),
                                         ("cnn2d:8-16", (64,)), ("cnn2d:8", (3, 32, 32)), ("mlp:300-100", (1, 28, 28))])
def test_every_spec_builds_and_runs(spec, shape):
    net = models.build(spec, input_shape=shape, num_classes=10)
    assert net(torch.randn(3, *shape)).shape == (3, 10)


def test_build_reads_shape_and_classes_from_a_dataset():
    ds = data.load("xor", n=100)
    net = models.build("mlp:8", ds)
    assert net(ds.train.X).shape == (len(ds.train), 2)


def test_same_seed_same_initial_weights():
    torch.manual_seed(1)
    a = models.cnn1d((40,), channels=(4, 4))
    torch.manual_seed(1)
    b = models.cnn1d((40,), channels=(4, 4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_mlp_options():
    net = models.mlp((10,), hidden=(5,), dropout=0.5, batchnorm=True, activation="tanh")
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]


@pytest.mark.parametrize("call, match", [
    (lambda: models.build("resnet:50", input_shape=(40,), num_classes=10), "'spec' parameter of build must be one of 'mlp', 'cnn1d', 'cnn2d'"),
    (lambda: models.build("mlp:ten", input_shape=(40,), num_classes=10), "integer widths"),
    (lambda: models.build("mlp100", input_shape=(40,), num_classes=10), "'kind:w1-w2-...'"),
    (lambda: models.mlp((40,), hidden=(100, 0)), "'hidden' parameter of mlp must be an int >= 1"),
    (lambda: models.mlp((40,), dropout=1.0), r"'dropout' parameter of mlp must be a float in \[0.0, 1.0\)"),
    (lambda: models.mlp((40,), activation="swish"), "'activation' parameter of mlp must be one of 'relu'"),
    (lambda: models.cnn1d((40,), kernel_size=0), "'kernel_size' parameter of cnn1d must be an int >= 1"),
    (lambda: models.cnn1d((2, 3, 40)), r"'input_shape' parameter of cnn1d must be \(L,\) or \(C, L\)"),
    (lambda: models.cnn2d((63,)), "'input_shape' parameter of cnn2d"),
    (lambda: models.mlp((40,), num_classes=1), "'num_classes' parameter of mlp must be an int >= 2"),
])
def test_bad_specs_are_named(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
