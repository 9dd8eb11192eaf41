"""Size, MACs and latency: counts checked against torch's FLOP counter and published figures."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit import metrics, models
from labkit.errors import ParameterError
from labkit.widgets.efficiency import ARCHITECTURES, build_architecture


def _torch_flops(model, shape):
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    return counter.get_total_flops()


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_conv_and_linear_macs_equal_torch_flop_counter_over_two(name):
    net = build_architecture(name)
    table = metrics.mac_table(net, (3, 224, 224))
    conv_linear = int(table[table.kind.isin(["conv", "linear"])].macs.sum())
    assert conv_linear * 2 == _torch_flops(net, (3, 224, 224))


def test_resnet18_published_size_and_compute():
    net = build_architecture("ResNet-18")
    assert round(metrics.count_params(net) / 1e6, 2) == 11.69
    assert round(metrics.count_macs(net, (3, 224, 224)) / 1e9, 2) == 1.82


def test_anchor_linear_plus_pointwise_conv():
    # Linear(1000 -> 10) + 1x1 Conv(3 -> 10) on 10x10: 10,000 + 3,000 MACs = 26,000 FLOPs
    assert metrics.count_macs(nn.Linear(1000, 10), (1000,)) == 10_000
    conv = nn.Conv2d(3, 10, 1)
    assert metrics.count_macs(conv, (3, 10, 10)) == 3_000
    assert metrics.count_flops(conv, (3, 10, 10)) == _torch_flops(conv, (3, 10, 10)) == 6_000


def test_depthwise_and_grouped_convolutions():
    depthwise = nn.Conv1d(16, 16, 5, padding=2, groups=16)
    assert metrics.count_macs(depthwise, (16, 40)) == 40 * 16 * 1 * 5 == _torch_flops(depthwise, (16, 40)) // 2
    grouped = nn.Conv2d(8, 12, 3, groups=4)
    assert metrics.count_macs(grouped, (8, 6, 6)) == 4 * 4 * 12 * 2 * 9


def test_lenet_300_100_has_266610_parameters():
    assert metrics.count_params(models.lenet_300_100()) == 266_610


def test_lab_models_match_the_flop_counter():
    for net, shape in [(models.cnn1d((40,), channels=(32, 32, 32)), (40,)), (models.mlp((40,)), (40,)),
                       (models.cnn2d((64,)), (64,))]:
        table = metrics.mac_table(net, shape)
        assert 2 * int(table[table.kind.isin(["conv", "linear"])].macs.sum()) == _torch_flops(net, shape)


def test_unsupported_layers_are_named_never_counted_as_zero():
    net = nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4))
    with pytest.raises(ParameterError, match="unsupported layer.s. LSTM instead"):
        metrics.count_macs(net, (4,))

    class OwnWeights(nn.Module):  # computes with a parameter of its own besides a child layer
        def __init__(self):
            super().__init__()
            self.inner, self.scale = nn.Linear(3, 3), nn.Parameter(torch.ones(3))

        def forward(self, x):
            return self.inner(x) * self.scale

    with pytest.raises(ParameterError, match="OwnWeights"):
        metrics.mac_table(OwnWeights(), (3,))


def test_register_mac_rule_teaches_a_new_layer():
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    metrics.register_mac_rule(Square, lambda m, inputs, out: out.numel(), kind="elementwise")
    assert metrics.count_macs(nn.Sequential(nn.Linear(2, 5), Square()), (2,)) == 10 + 5
    with pytest.raises(ParameterError, match="'module_type' parameter of register_mac_rule"):
        metrics.register_mac_rule(int, lambda *a: 0)


def test_bytes_dense_and_sparse():
    lin = nn.Linear(100, 10, bias=False)  # 1,000 weights
    assert metrics.model_bytes(lin, "fp32") == 4000
    assert metrics.model_bytes(lin, "fp16") == 2000
    assert metrics.model_bytes(lin, "int8") == 1000 + metrics.QUANT_META_BYTES
    with torch.no_grad():
        lin.weight[:, 10:] = 0  # 100 non-zeros left, 10 rows
    assert metrics.count_nonzero(lin) == 100
    assert metrics.model_bytes(lin, sparse="bitmask") == 1000 // 8 + 100 * 4
    assert metrics.model_bytes(lin, sparse="csr") == 100 * (4 + 4) + 11 * 4
    # sparse storage only pays once enough weights are zero
    dense = nn.Linear(100, 10, bias=False)
    assert metrics.model_bytes(dense, sparse="csr") > metrics.model_bytes(dense)


def test_nonzero_count_sees_through_torch_prune_masks():
    import torch.nn.utils.prune as prune

    lin = nn.Linear(10, 10)
    prune.l1_unstructured(lin, "weight", amount=0.3)
    assert metrics.count_nonzero(lin) == 70 + 10
    assert metrics.count_params(lin) == 110


def test_latency_records_its_conditions():
    lat = metrics.measure_latency(nn.Linear(40, 10), (40,), batch_size=16, threads=1, warmup=2, repeats=5)
    assert (lat.batch_size, lat.threads, lat.repeats) == (16, 1, 5)
    assert 0 < lat.q1_ms <= lat.median_ms <= lat.q3_ms
    assert "batch 16" in str(lat)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.measure_latency(nn.Linear(2, 2), (2,), batch_size=-4), "'batch_size' parameter of measure_latency must be an int >= 1. Got -4"),
    (lambda: metrics.measure_latency(nn.Linear(2, 2), (2,), repeats=0), "'repeats' parameter of measure_latency"),
    (lambda: metrics.count_macs(nn.Linear(2, 2), (0,)), "'input_shape' parameter of mac_table"),
    (lambda: metrics.model_bytes(nn.Linear(2, 2), dtype="int4"), "'dtype' parameter of model_bytes must be one of 'fp32', 'fp16', 'int8'"),
    (lambda: metrics.model_bytes(nn.Linear(2, 2), sparse="coo"), "'sparse' parameter of model_bytes"),
    (lambda: metrics.count_params("resnet"), "'model' parameter of count_params must be a torch.nn.Module"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
