"""Notebook 07's teaching layer: the checks accept the answer and reject the classic mistakes; the
widgets answer from the caches; the live search and the retraining run on a tiny budget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from labkit import cache  # noqa: E402
from labkit.checks import ExerciseFailure  # noqa: E402
from labkit.checks import darts as checks  # noqa: E402
from labkit.data import Split  # noqa: E402
from labkit.errors import ParameterError  # noqa: E402
from labkit.nas.darts import PRIMITIVES, derive, num_edges, random_genotype  # noqa: E402
from labkit.nas.darts.estimate import RetrainConfig, retrain, search_splits  # noqa: E402
from labkit.widgets import darts as viz  # noqa: E402

torch.set_num_threads(1)


# --- checks -------------------------------------------------------------------------------------

def good_mixed(x, alpha, ops):
    w = F.softmax(alpha, dim=0)
    return sum(wi * op(x) for wi, op in zip(w, ops))


def test_mixed_op_check_accepts_the_answer_and_rejects_mistakes(capsys):
    checks.check_mixed_op(good_mixed)
    assert "\u2714" in capsys.readouterr().out
    with pytest.raises(ExerciseFailure, match="softmax"):  # raw alpha as weights
        checks.check_mixed_op(lambda x, a, ops: sum(ai * op(x) for ai, op in zip(a, ops)))
    with pytest.raises(ExerciseFailure, match="shape"):  # stacked instead of summed
        checks.check_mixed_op(lambda x, a, ops: torch.stack([op(x) for op in ops]))
    with pytest.raises(NotImplementedError, match="not written yet"):
        checks.check_mixed_op(lambda x, a, ops: (_ for _ in ()).throw(NotImplementedError()))


def _with_none(alphas, primitives):
    """The classic mistake: let 'none' compete."""
    w = F.softmax(torch.as_tensor(alphas), dim=1).numpy()
    out, row = [], 0
    for j in range(len(alphas)):
        if row >= len(alphas):
            break
        rows = w[row:row + j + 2]
        keep = np.argsort(-rows.max(axis=1))[:2]
        out.append([(primitives[int(rows[i].argmax())], int(i)) for i in keep])
        row += j + 2
    return out


def test_derive_check_accepts_the_answer_and_rejects_mistakes(capsys):
    checks.check_derive(lambda a, p: [list(node) for node in derive(a, p).nodes])
    assert "\u2714" in capsys.readouterr().out
    with pytest.raises(ExerciseFailure, match="NON-none"):
        checks.check_derive(_with_none)
    with pytest.raises(ExerciseFailure, match="one entry per intermediate node|pairs"):
        checks.check_derive(lambda a, p: [])


# --- performance estimation ---------------------------------------------------------------------

def test_search_splits_halve_the_training_split_without_overlap():
    s = Split(torch.arange(20.0).reshape(10, 2), torch.arange(10))
    w_part, a_part = search_splits(s, seed=3)
    assert len(w_part) == len(a_part) == 5
    assert sorted(torch.cat([w_part.y, a_part.y]).tolist()) == list(range(10))
    with pytest.raises(ParameterError, match="'train' parameter of search_splits"):
        search_splits((s.X, s.y))
    with pytest.raises(ParameterError, match="'fraction' parameter of search_splits"):
        search_splits(s, fraction=1.0)


def test_retrain_trains_a_cell_and_refuses_bad_input():
    s = Split(torch.randn(64, 40), torch.randint(0, 10, (64,)))
    res = retrain(random_genotype(2, seed=0), s, s, RetrainConfig(channels=2, epochs=2), seed=0)
    assert 0.0 <= res["val_acc"] <= 1.0 and len(res["val_acc_curve"]) == 2 and res["params"] > 0
    with pytest.raises(ParameterError, match="'genotype' parameter of retrain"):
        retrain("sep_conv_3", s, s)
    with pytest.raises(ParameterError, match="'epochs' parameter of RetrainConfig"):
        RetrainConfig(epochs=0)


# --- widgets -------------------------------------------------------------------------------------

def _fake_run(epochs=4, nodes=3, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(epochs + 1, num_edges(nodes), len(PRIMITIVES)))
    h = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    genotypes = [derive(np.log(a)).to_list() for a in h[1:]]
    return {"primitives": list(PRIMITIVES), "alpha_history": h.tolist(), "config": {"warmup_epochs": 1},
            "history": {"val_acc": [0.5] * epochs, "skips": [derive(np.log(a)).count("skip_connect") for a in h[1:]],
                        "genotypes": genotypes},
            "genotype": genotypes[-1], "cpu_seconds": 10.0}


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    for i, name in enumerate(("first", "second", "long")):
        cache.save_json(tmp_path / f"{name}.json", _fake_run(seed=i))
    cache.save_json(tmp_path / "retrain.json", {"groups": {"derived (first)": [0.8, 0.82], "random cells": [0.6, 0.7]}})
    monkeypatch.setattr(viz, "DATA", tmp_path)
    return tmp_path


def test_dashboard_slider_scrubs_the_cached_search(fake_data):
    dash = viz.dashboard("first")
    slider = dash.children[0].children[1]
    assert slider.max == 4 and dash.result["genotype"] is None
    slider.value = 3
    assert dash.result["epoch"] == 3
    assert str(dash.result["genotype"]) == str(derive(np.log(viz.load("first")["alpha_history"][3])))
    dash.children[0].children[0].value = "long"
    assert dash.result["epoch"] == 3
    with pytest.raises(ParameterError, match="'run' parameter of dashboard"):
        viz.dashboard("third")


def test_plots_run_and_label_their_axes(fake_data):
    import matplotlib.pyplot as plt

    run = viz.load("first")
    axes = [viz.plot_alpha_heatmap(run["alpha_history"], 2, PRIMITIVES),
            viz.plot_trajectories(run["alpha_history"], PRIMITIVES, edge=1),
            viz.plot_skips({"a": run}), viz.plot_retrain(viz.load("retrain")),
            viz.plot_edge(torch.randn(40), torch.zeros(8), PRIMITIVES)]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    viz.draw_genotype(random_genotype(3, seed=1))
    plt.close("all")
    with pytest.raises(ParameterError, match="'epoch' parameter of plot_alpha_heatmap"):
        viz.plot_alpha_heatmap(run["alpha_history"], 99, PRIMITIVES)
    with pytest.raises(ParameterError, match="'name' parameter of load"):
        viz.load("nope")


def test_edge_outputs_mix_with_softmax_weights():
    x = torch.randn(40)
    res = viz.edge_outputs(x, torch.zeros(len(PRIMITIVES)), PRIMITIVES)
    assert np.allclose(res["weights"], 1 / len(PRIMITIVES))
    assert np.allclose(res["mixed"], np.mean(list(res["outputs"].values()), axis=0), atol=1e-5)


def test_live_search_runs_on_a_tiny_budget():
    res = viz.run_live_search(epochs=1, n_train=128, progress=False)
    assert res["alpha_history"].shape == (2, num_edges(3), len(PRIMITIVES))
    assert len(res["history"]["val_acc"]) == 1
    box = viz.live_search_button(epochs=3, n_train=800)
    assert box.children[0].description == "search 3 epochs"
    clicked = box.click(epochs=1, n_train=128, progress=False)   # the button's work, on a tiny budget
    assert clicked["alpha_history"].shape == res["alpha_history"].shape
