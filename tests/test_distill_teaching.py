"""Notebook 03's checks and widgets: right answers pass, the classic mistakes fail with a hint."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from labkit import data, distill, models  # noqa: E402
from labkit.checks import ExerciseFailure  # noqa: E402
from labkit.checks import distill as checks  # noqa: E402
from labkit.widgets import distill as viz  # noqa: E402


def good_softmax(z, T):
    return F.softmax(z / T, dim=-1)


def good_loss(s, t, y, T, l1, l2):
    soft = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t.detach() / T, -1), reduction="batchmean")
    return l1 * F.cross_entropy(s, y) + l2 * T ** 2 * soft


def test_right_answers_pass(capsys):
    checks.check_softmax_with_temperature(good_softmax)
    checks.check_distillation_loss(good_loss)
    assert capsys.readouterr().out.count("\u2714") == 2


def test_unwritten_exercise_says_so():
    def todo(*args):
        raise NotImplementedError
    with pytest.raises(NotImplementedError, match="softmax_with_temperature is not written yet"):
        checks.check_softmax_with_temperature(todo)
    with pytest.raises(NotImplementedError, match="distillation_loss is not written yet"):
        checks.check_distillation_loss(todo)


def test_softmax_times_t_is_caught():
    with pytest.raises(ExerciseFailure, match="got softmax\\(z \\* T\\)"):
        checks.check_softmax_with_temperature(lambda z, T: F.softmax(z * T, dim=-1))
    with pytest.raises(ExerciseFailure, match="last dimension"):
        checks.check_softmax_with_temperature(lambda z, T: F.softmax(z / T, dim=0))


@pytest.mark.parametrize("wrong,hint", [
    (lambda s, t, y, T, l1, l2: good_loss(s, t, y, T, l1, l2 / T ** 2), "no T\\^2 factor"),
    (lambda s, t, y, T, l1, l2: good_loss(t, s, y, T, l1, l2) - l1 * F.cross_entropy(t, y) + l1 * F.cross_entropy(s, y),
     "teacher and student swapped"),
    (lambda s, t, y, T, l1, l2: l1 * F.cross_entropy(s, y) + l2 * T ** 2 * F.cross_entropy(s / T, F.softmax(t.detach() / T, -1)),
     "the CE form"),
    (lambda s, t, y, T, l1, l2: good_loss(s, t, y, T, l2, l1), "l1 and l2 swapped"),
])
def test_classic_mistakes_are_named(wrong, hint):
    with pytest.raises(ExerciseFailure, match=hint):
        checks.check_distillation_loss(wrong)


def test_a_teacher_that_receives_gradients_is_caught():
    def leaky(s, t, y, T, l1, l2):
        soft = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean")
        return l1 * F.cross_entropy(s, y) + l2 * T ** 2 * soft
    with pytest.raises(ExerciseFailure, match="detach"):
        checks.check_distillation_loss(leaky)


def _tiny_teacher(ds):
    torch.manual_seed(0)
    return distill.Teacher([models.build("mlp:8", ds), models.build("mlp:8", ds)])


def _fake_results():
    setup = {"teacher": "mlp:8", "grid_T": [1.0, 4.0], "grid_l2": [0.5, 0.9], "grid_student": "mlp:8",
             "sizes": ["mlp:", "mlp:8"], "transfer_n": 100}
    res = {"setup": setup, "teacher": {"ensemble_val": 0.9, "members_val": [0.8, 0.85]},
           "tuned": {"temperature": 1.0}, "single_teacher": {"distilled": 0.5},
           "transfer_n/0": {"distilled": 0.4}, "transfer_n/50": {"distilled": 0.45}}
    for T in setup["grid_T"]:
        for l2 in setup["grid_l2"]:
            res[f"grid/T={T}/l2={l2}"] = {"distilled": 0.5 + T / 100 + l2 / 10}
    for spec, p in (("mlp:", 410), ("mlp:8", 418)):
        res[f"size/{spec}/transfer"] = {"alone": 0.3, "distilled": 0.4, "params": p}
        res[f"size/{spec}/naive"] = {"distilled": 0.31}
    return res


def test_temperature_widget_recomputes_entropy_when_t_moves():
    logits = torch.tensor([[4.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    box = viz.temperature_widget(logits)
    slider = box.children[0].children[0]
    low = box.result["entropy"]
    slider.value = 32
    assert box.result["entropy"] > low
    assert math.isclose(box.result["entropy"], distill.entropy(distill.softmax_t(logits[0], 32)).item())


def test_dark_knowledge_rows_are_distributions():
    ds = data.load("mnist1d", seed=0)
    dk = viz.dark_knowledge(_tiny_teacher(ds), ds.val, temperature=4.0)
    assert dk.shape == (10, 10)
    assert np.allclose(dk.sum(1), 1.0, atol=1e-5)


def test_sweep_plots_and_tables_read_the_results_layout():
    res = _fake_results()
    Ts, l2s, acc = viz.grid_table(res)
    assert acc.shape == (2, 2) and acc[1, 1] == pytest.approx(0.5 + 0.04 + 0.09)
    viz.plot_grid(Ts, l2s, acc)
    rows = viz.size_table(res)
    assert [r["student"] for r in rows] == ["mlp:", "mlp:8"]
    viz.plot_sizes(rows, 0.9)
    viz.plot_transfer(res)


def test_live_functions_and_dashboard_run_with_a_tiny_budget():
    ds = data.load("mnist1d", seed=0)
    teacher = _tiny_teacher(ds)
    out = viz.compare_live(teacher, ds, "mlp:8", n_extra=50, epochs=1, progress=False)
    assert set(out) == {"alone", "distilled", "teacher"}
    acc = viz.grid_live(teacher, ds, "mlp:8", Ts=(1.0, 4.0), l2s=(0.9,), n_extra=50, epochs=1, progress=False)
    assert acc.shape == (2, 1) and np.all((acc >= 0) & (acc <= 1))
    tab = viz.dashboard(ds, teacher, _fake_results())
    assert len(tab.children) == 3
    tab.run_live(spec="mlp:8", n_extra=50, epochs=1, progress=False)


def test_live_budget_is_checked():
    ds = data.load("mnist1d", seed=0)
    with pytest.raises(ValueError, match="The 'epochs' parameter of compare_live must be an int >= 1"):
        viz.compare_live(_tiny_teacher(ds), ds, epochs=0)
