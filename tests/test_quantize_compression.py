"""Claims of Deep Compression and of real int8 inference: sharing, Huffman, honest sizes, integer kernels."""
import itertools
import math
from collections import Counter

import pytest
import torch
from torch import nn

from labkit import data, models
from labkit.errors import ParameterError
from labkit.quantize.backend import OnnxModule, compare_latency, to_onnx
from labkit.quantize.deep_compression import (DeepCompression, DeepCompressionConfig, cnn_fc, sparse_entries,
                                              stage_size)
from labkit.quantize.huffman import coded_bits, decode, encode, entropy_bits, huffman_code
from labkit.quantize.kmeans import bake, kmeans_1d, share_weights, shared_layers


# --- k-means weight sharing -------------------------------------------------------------------------

def test_kmeans_matches_sklearn_oracle_from_the_same_start():
    from sklearn.cluster import KMeans

    x = torch.randn(500, generator=torch.Generator().manual_seed(0))
    ours, _ = kmeans_1d(x, 4, iters=100)
    init = torch.linspace(x.min().item(), x.max().item(), 4)[:, None].double().numpy()
    ref = KMeans(4, init=init, n_init=1, max_iter=100, tol=0).fit(x[:, None].double().numpy())
    assert torch.allclose(ours.sort().values, torch.tensor(ref.cluster_centers_.ravel()).float().sort().values,
                          atol=1e-4)


def test_sharing_keeps_pruned_zeros_and_uses_at_most_2_to_the_b_values():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 4))
    with torch.no_grad():
        net[0].weight[net[0].weight.abs() < 0.1] = 0
    shared = share_weights(net, bits=3)
    w = shared[0].shared_weight()
    assert torch.equal(w == 0, net[0].weight == 0)
    assert w[w != 0].unique().numel() <= 2 ** 3 - 1          # one symbol is kept for "zero"
    assert shared[2].shared_weight().unique().numel() <= 2 ** 3


def test_centroid_gradient_is_the_sum_over_its_cluster():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3))
    shared = share_weights(net, bits=2)
    x = torch.randn(5, 6)
    shared(x).sum().backward()
    dense = nn.Linear(6, 3)
    with torch.no_grad():
        dense.weight.copy_(shared[0].shared_weight()); dense.bias.copy_(net[0].bias)
    dense(x).sum().backward()
    index = shared[0].index
    expected = torch.stack([dense.weight.grad[index == k].sum() for k in range(shared[0].codebook.numel())])
    assert torch.allclose(shared[0].codebook.grad, expected, atol=1e-5)   # Han et al., equation 3


def test_bake_returns_plain_layers_with_the_shared_values():
    net = nn.Sequential(nn.Linear(4, 4))
    shared = share_weights(net, bits=2)
    plain = bake(shared)
    assert isinstance(plain[0], nn.Linear)
    assert torch.equal(plain[0].weight, shared[0].shared_weight())


# --- Huffman ----------------------------------------------------------------------------------------

def test_huffman_is_prefix_free_round_trips_and_sits_within_one_bit_of_the_entropy():
    g = torch.Generator().manual_seed(0)
    symbols = torch.multinomial(torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05]), 2000, True, generator=g).tolist()
    code = huffman_code(Counter(symbols))
    for a, b in itertools.permutations(code.values(), 2):
        assert not b.startswith(a)
    assert sum(2 ** -len(c) for c in code.values()) == 1.0             # Kraft: a full binary tree
    assert decode(encode(symbols, code), code) == symbols
    bits = coded_bits(symbols)["data"]
    h = entropy_bits(symbols)
    assert h <= bits < h + len(symbols)


def test_huffman_of_one_symbol_and_bad_input():
    assert huffman_code({7: 3}) == {7: "0"}
    with pytest.raises(ParameterError, match="'counts' parameter of huffman_code"):
        huffman_code({})
    with pytest.raises(ParameterError, match="'bits' parameter of decode"):
        decode("0", {"a": "10", "b": "11"})


# --- Deep Compression sizes -------------------------------------------------------------------------

def test_sparse_entries_insert_fillers_for_long_gaps():
    w = torch.zeros(40)
    w[[0, 3, 39]] = 1.0
    positions, gaps = sparse_entries(w, index_bits=3)          # gaps up to 7
    assert gaps.max() <= 7
    assert positions[-1] == 39 and set([0, 3, 39]) <= set(positions.tolist())
    assert positions.numel() == 3 + math.floor((39 - 3 - 1) / 8)       # 35 zeros need 4 fillers


def _toy_compression():
    ds = data.load("moons", seed=0)
    torch.manual_seed(0)
    net = models.mlp(ds.input_shape, hidden=(32, 32), num_classes=2)
    cfg = DeepCompressionConfig(sparsity=0.7, prune_rounds=2, prune_epochs=1, share_epochs=1, bits=3,
                                teacher_weight=0.5)
    return DeepCompression(cfg, seed=0).fit(net, ds.train, ds.val)


@pytest.fixture(scope="module")
def compressed():
    return _toy_compression()


def test_stage_sizes_add_up(compressed):
    for stage in compressed.stages_:
        assert stage.bits == sum(stage.parts.values()) == sum(sum(p.values()) for p in stage.layers.values())
    fp32, pruned, shared, huff = compressed.stages_
    n_weights = sum(p.numel() for n, p in compressed.models_["fp32"].named_parameters() if n.endswith("weight"))
    assert fp32.parts["weights"] == 32 * n_weights
    assert fp32.parts["biases"] == pruned.parts["biases"] == shared.parts["biases"] == huff.parts["biases"]
    assert pruned.parts["positions"] == shared.parts["positions"]            # same sparse entries
    assert shared.parts["values"] == 3 * pruned.parts["values"] // 32         # 32-bit floats -> 3-bit indices
    assert fp32.bits > pruned.bits > shared.bits > huff.bits


def test_huffman_stage_counts_exactly_the_code_lengths(compressed):
    shared = compressed.models_["shared"]
    layer = shared[1]
    positions, gaps = sparse_entries(layer.shared_weight(), 4)
    code = huffman_code(Counter(gaps.tolist()))
    expected = sum(len(code[g]) for g in gaps.tolist())
    assert stage_size(shared, "huffman").layers["1"]["positions"] == expected


def test_pruned_model_keeps_its_sparsity_and_shared_model_its_values(compressed):
    masks = compressed.masks_
    dense_share = 1 - sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
    assert dense_share > 0.6
    final = compressed.model_
    for name, mask in masks.items():
        assert (final.get_parameter(name)[~mask] == 0).all()
    assert compressed.ratio_ > 4


def test_layer_plan_follows_the_papers_per_layer_choices():
    net = cnn_fc((40,), channels=(4, 4), hidden=(16, 16))
    plan = DeepCompressionConfig().layer_plan(net)
    kinds = [p["kind"] for p in plan.values()]
    assert kinds == ["conv", "conv", "fc", "fc", "fc"]
    first, conv, fc, _, last = plan.values()
    assert first["sparsity"] == 0.16 and conv["sparsity"] == 0.62       # AlexNet conv1 keeps 84 %, conv2-5 38 %
    assert fc["sparsity"] == 0.91 and last["sparsity"] == 0.75         # fc6/fc7 keep 9 %, fc8 25 %
    assert (conv["bits"], conv["index_bits"], fc["bits"], fc["index_bits"]) == (8, 8, 5, 5)
    same = DeepCompressionConfig(first_layer_sparsity=None, last_layer_sparsity=None).layer_plan(net)
    assert [p["sparsity"] for p in same.values()] == [0.62, 0.62, 0.91, 0.91, 0.91]


@pytest.fixture(scope="module")
def compressed_cnn():
    ds = data.load("mnist1d", seed=0)
    torch.manual_seed(0)
    net = cnn_fc(ds.input_shape, channels=(4, 4), hidden=(64,))
    cfg = DeepCompressionConfig(prune_rounds=2, prune_epochs=1, share_epochs=1)
    return DeepCompression(cfg, seed=0).fit(net, ds.train.subset(400), ds.val.subset(200))


def test_each_layer_keeps_its_own_share_and_width(compressed_cnn):
    dc = compressed_cnn
    for name, plan in dc.plan_.items():
        kept = dc.masks_[f"{name}.weight"].float().mean().item()
        assert kept == pytest.approx(1 - plan["sparsity"], abs=0.02), name
    for name, layer in shared_layers(dc.models_["shared"]).items():
        assert layer.bits == dc.plan_[name]["bits"]
        assert layer.codebook.numel() <= 2 ** layer.bits - 1                # one symbol kept for filler zeros


def test_dropout_shrinks_with_the_connections_it_feeds(compressed_cnn):
    pruned = compressed_cnn.models_["pruned"]
    dropout = next(m for m in pruned if isinstance(m, nn.Dropout))
    kept = compressed_cnn.masks_["11.weight"].float().mean().item()       # the Linear after the Dropout
    assert dropout.p == pytest.approx(0.5 * math.sqrt(kept))             # Han et al. 2015, equation 2


def test_conv_and_fc_gaps_take_their_own_width(compressed_cnn):
    dc = compressed_cnn
    pruned = dc.stages_[1]
    for name, plan in dc.plan_.items():
        entries = pruned.layers[name]["values"] // 32
        assert pruned.layers[name]["positions"] == entries * plan["index_bits"]
    rows = dc.layer_table()
    assert [r["layer"] for r in rows] == list(dc.plan_)
    assert all(r["index bits (Huffman)"] <= r["index bits"] + 1e-9 for r in rows)  # a code no longer than fixed
    assert dc.ratio_ > 10


def test_deep_compression_bad_input():
    with pytest.raises(ParameterError, match="'sparsity' parameter of DeepCompressionConfig"):
        DeepCompressionConfig(sparsity=1.0).validate()
    with pytest.raises(ParameterError, match="'conv_sparsity' parameter of DeepCompressionConfig"):
        DeepCompressionConfig(conv_sparsity=1.0).validate()
    with pytest.raises(ParameterError, match="'conv_bits' parameter of DeepCompressionConfig"):
        DeepCompressionConfig(conv_bits=0).validate()
    with pytest.raises(ParameterError, match="'dropout' parameter of cnn_fc"):
        cnn_fc((40,), dropout=1.0)
    with pytest.raises(ParameterError, match="'hidden' parameter of cnn_fc"):
        cnn_fc((40,), hidden=(0,))
    with pytest.raises(ParameterError, match="'teacher_weight' parameter of DeepCompressionConfig"):
        DeepCompressionConfig(teacher_weight=1.5).validate()
    with pytest.raises(ParameterError, match="'stage' parameter of stage_size must be one of 'fp32'"):
        stage_size(nn.Linear(2, 2), "zip")
    with pytest.raises(ParameterError, match="'model' parameter of stage_size must be a model with shared weights"):
        stage_size(nn.Sequential(nn.Linear(2, 2)), "shared")


# --- real int8 inference ----------------------------------------------------------------------------

def test_int8_graph_really_multiplies_integers():
    net = models.mlp((16,), hidden=(8,), num_classes=3)
    ops = [n.op_type for n in to_onnx(net, (16,)).graph.node]
    assert ops.count("MatMulInteger") == 2 and "MatMul" not in ops
    weights = [i for i in to_onnx(net, (16,)).graph.initializer if i.data_type == 3]   # 3 = INT8
    assert len(weights) == 2


@pytest.mark.parametrize("spec", ["mlp:64-64", "cnn1d:16-16"])
def test_integer_model_outputs_stay_close_to_fp32(spec):
    torch.manual_seed(0)
    net = models.build(spec, input_shape=(40,), num_classes=10).eval()
    x = torch.randn(32, 40)
    with torch.no_grad():
        ref = net(x)
    fp32 = OnnxModule(net, (40,), mode="fp32")(x)
    int8 = OnnxModule(net, (40,), mode="int8")(x)
    assert torch.allclose(fp32, ref, atol=1e-4)                       # same graph, float kernels
    rel = (int8 - ref).norm() / ref.norm()
    assert rel < 0.03                                                  # 8 bits: about 1 % error
    assert (int8.argmax(1) == ref.argmax(1)).float().mean() >= 0.9


def test_latency_comparison_reports_every_model():
    net = models.mlp((16,), hidden=(8,), num_classes=3)
    lat = compare_latency({"fp32": net, "int8": OnnxModule(net, (16,))}, torch.randn(4, 16), rounds=1, repeats=2)
    assert set(lat) == {"fp32", "int8"} and all(v["median_ms"] > 0 for v in lat.values())


def test_backend_bad_input():
    with pytest.raises(ParameterError, match="'mode' parameter of to_onnx must be one of 'int8', 'fp32'"):
        to_onnx(nn.Linear(2, 2), (2,), mode="int4")
    with pytest.raises(ParameterError, match="'model' parameter of to_onnx must be a Sequential of Linear"):
        to_onnx(nn.Sequential(nn.Linear(2, 2), nn.GELU()), (2,))


# --- teaching layer ---------------------------------------------------------------------------------

def test_bit_width_dashboard_answers_the_slider(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from labkit.widgets import quantize as qw

    ds = data.load("mnist1d", seed=0)
    torch.manual_seed(0)
    net = models.build("cnn1d:8-8", ds).eval()
    widget = qw.BitWidthExplorer(net, ds.val.subset(200), ds.train.subset(64).X).widget
    explorer = widget.explorer
    explorer.bits.value = 8
    at8 = dict(explorer.state)
    explorer.bits.value = 2
    assert explorer.state["bits"] == 2 and at8["bits"] == 8
    assert explorer.state["kB"] < at8["kB"] < at8["fp32_kB"]
    explorer.granularity.value = "per_tensor"
    assert explorer.state["granularity"] == "per_tensor"


def test_checks_pass_the_reference_and_fail_a_wrong_answer():
    from labkit.checks import ExerciseFailure
    from labkit.checks import quantize as checks
    from labkit.quantize.fake import FakeQuantizeSTE

    checks.check_quantize(lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s) + z, lo, hi),
                          lambda q, s, z: s * (q - z))
    checks.check_ste(FakeQuantizeSTE.apply)
    with pytest.raises(ExerciseFailure, match="zero point"):
        checks.check_quantize(lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s) + z, lo, hi),
                              lambda q, s, z: s * q - z)
    with pytest.raises(ExerciseFailure, match="gradient of 1 inside"):
        checks.check_ste(lambda x, s, z, lo, hi: s * (torch.clamp(torch.round(x / s) + z, lo, hi) - z)
                         + (x - x.detach()))


def test_sensitivity_and_waterfall_plots_label_their_axes(compressed_cnn):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from labkit.widgets import quantize as qw

    layers = compressed_cnn.layer_table()
    scan = {"sparsities": [0.5, 0.9], "dense": 0.9, "scores": {r["layer"]: [0.9, 0.5] for r in layers}}
    ax = qw.plot_sensitivity(scan, layers)
    assert "%" in ax.get_xlabel() and "accuracy" in ax.get_ylabel()
    assert len(ax.get_lines()) >= len(layers)
    ax = qw.plot_waterfall(compressed_cnn.summary(), title="tiny")
    assert ax.get_title() == "tiny" and "kB" in ax.get_ylabel()
    plt.close("all")
