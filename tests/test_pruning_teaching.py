"""The teaching layer of notebooks 01 and 02: checks pass the reference answers and fail wrong ones
with a hint; plots and widget callbacks run on small synthetic caches; the live button's function runs."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from labkit import cache
from labkit.errors import ParameterError
from labkit.checks import ExerciseFailure
from labkit.checks import pruning as checks
from labkit.pruning import apply_masks, full_masks, keep_masks, magnitude_masks, sensitivity_scan
from labkit.widgets import pruning as viz


# --- checks ------------------------------------------------------------------------------------------

def good_select(scores, mask, amount):
    mask = mask.clone().bool()
    alive = mask.reshape(-1).nonzero().reshape(-1)
    k = round(amount * alive.numel())
    if k:
        mask.view(-1)[alive[torch.topk(scores.reshape(-1)[alive], k, largest=False).indices]] = False
    return mask


def good_algorithm1(model, rounds, fraction, fine_tune):
    masks = full_masks(model)
    params = dict(model.named_parameters())
    for _ in range(rounds):
        masks = {n: good_select(params[n].detach().abs(), masks[n], fraction) for n in masks}
        apply_masks(model, masks)
        fine_tune(model, keep_masks(masks))
    return masks


def test_checks_pass_reference_answers(capsys):
    checks.check_taylor_saliency(lambda w, g: (w * g).abs())
    checks.check_select_min_k(good_select)
    checks.check_algorithm1(good_algorithm1)

    def reset(model, init, masks):
        model.load_state_dict(init)
        return apply_masks(model, masks)

    checks.check_reset_to_init(reset)
    assert capsys.readouterr().out.count("\u2714") == 4


def test_checks_fail_wrong_answers_with_a_hint():
    with pytest.raises(ExerciseFailure, match="take abs"):
        checks.check_taylor_saliency(lambda w, g: w * g)
    with pytest.raises(ExerciseFailure, match="share of the weights still there"):
        checks.check_select_min_k(lambda s, m, a: good_select(s, torch.ones_like(m), a) & m.bool())
    with pytest.raises(NotImplementedError, match="not written yet"):
        checks.check_algorithm1(lambda *a: (_ for _ in ()).throw(NotImplementedError()))

    def forgetful(model, rounds, fraction, fine_tune):   # never re-applies its masks
        masks = full_masks(model)
        params = dict(model.named_parameters())
        for _ in range(rounds):
            masks = {n: good_select(params[n].detach().abs(), masks[n], fraction) for n in masks}
            apply_masks(model, masks)
            fine_tune(model, lambda m: None)
        return masks

    with pytest.raises(ExerciseFailure, match="keep_masks"):
        checks.check_algorithm1(forgetful)
    with pytest.raises(ExerciseFailure, match="load init_state"):
        checks.check_reset_to_init(lambda model, init, masks: apply_masks(model, masks))


# --- plots and widgets on synthetic caches ---------------------------------------------------------

@pytest.fixture
def caches(tmp_path, monkeypatch):
    run = lambda c, g, s, seed: {"criterion": c, "granularity": g, "schedule": s, "seed": seed,
                                 "sparsity": [0.5, 0.9], "accuracy": [0.9, 0.5 + 0.1 * seed]}
    cache.save_json(tmp_path / "sweep.json", {
        "meta": {"criteria": ["magnitude", "random", "taylor"], "granularities": ["weight", "channel"],
                 "schedules": ["one-shot", "iterative"]},
        "dense": {"0": 0.95}, "runs": [run(c, g, s, seed) for c in ("magnitude", "random")
                                       for g in ("weight", "channel") for s in ("one-shot", "iterative")
                                       for seed in (0, 1)]})
    seed = {"sparsity": [0, 0.2, 0.36], "control_sparsity": [0.36],
            "test": {"ticket": [0.6, 0.61, 0.6], "reinit": [0.5], "random_mask": [0.52]},
            "val": {"ticket": [0.58, 0.6, 0.62], "reinit": [0.48], "random_mask": [0.5]}}
    cache.save_json(tmp_path / "lottery.json", {"model": "MLP", "data": "MNIST-1D", "seeds": [seed, seed]})
    cache.save_json(tmp_path / "latency.json", {
        "family": "cnn2d", "speedup": {"64": [{"width": 8, "speedup": 2.0, "mac_reduction": 3.0}]},
        "breakdown": [{"width": 8, "model": "dense", "ms": {"conv": 2.0, "batchnorm": 1.0}}],
        "breakdown_batch": 64, "kinds": ["conv", "batchnorm"]})
    cache.save_json(tmp_path / "regrowth.json", {"sparsity": 0.9, "curves": {"static": [[0.5, 0.6]], "rigl": [[0.6, 0.7]]},
                                                 "moved": {"rigl": [10]}})
    monkeypatch.setattr(viz, "DATA", tmp_path)
    return tmp_path


def test_sweep_explorer_redraws_on_every_control(caches):
    box = viz.sweep_explorer()
    crit, gran, sched = box.children[0].children[0], *box.children[0].children[1].children
    gran.value = "channel"
    sched.value = "one-shot"
    crit.value = ("taylor",)                       # not in the sweep: said in the title, no error
    x, mean, std, n = viz.sweep_curve(viz.load("sweep"), "magnitude", "weight", "iterative")
    assert n == 2 and mean.tolist() == pytest.approx([0.9, 0.55])
    assert viz.sweep_curve(viz.load("sweep"), "taylor", "weight", "iterative") is None


def test_lottery_explorer_reads_each_round_and_its_controls(caches):
    box = viz.lottery_explorer()
    rnd, split = box.children[0].children
    rnd.value = 2
    assert box.result == {"round": 2, "weights_left_pct": pytest.approx(64.0), "ticket_mean": pytest.approx(60.0),
                          "ticket_std": 0.0, "reinit_mean": pytest.approx(50.0), "reinit_std": 0.0,
                          "random_mask_mean": pytest.approx(52.0), "random_mask_std": 0.0}
    rnd.value = 1                                  # a round without controls (they ran every other round)
    assert box.result["reinit_mean"] is None and box.result["ticket_mean"] == pytest.approx(61.0)
    split.value = "val"
    assert box.result["ticket_mean"] == pytest.approx(60.0)
    with pytest.raises(ParameterError, match=r"The 'round' parameter of lottery_round must be .*Got 3"):
        viz.lottery_round(viz.load("lottery"), 3)


def test_plots_and_dashboard_run_on_the_caches(caches):
    import matplotlib.pyplot as plt

    viz.plot_lottery(viz.load("lottery"))
    viz.plot_latency(viz.load("latency"))
    viz.plot_regrowth(viz.load("regrowth"))
    tab = viz.dashboard()
    assert len(tab.children) == 4
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    pruned = apply_masks(nn.Sequential(*[m for m in net]), magnitude_masks(net, 0.5))
    viz.plot_weight_histograms(net, pruned)
    viz.plot_first_layer_masks(magnitude_masks(net, 0.5)["1.weight"], n=4)
    viz.plot_layer_sparsity({"global": magnitude_masks(net, 0.5)})
    viz.plot_sensitivity(sensitivity_scan(net, lambda m: 0.5, sparsities=(0.5,)))
    plt.close("all")
    with pytest.raises(FileNotFoundError, match="precompute_pruning.py --only sweep"):
        (caches / "sweep.json").unlink()
        viz.load("sweep")


def test_efficiency_table_shows_masks_do_not_shrink_but_removal_does():
    from labkit.pruning import prune_channels
    net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
    masked = apply_masks(nn.Sequential(*[m for m in net]), magnitude_masks(net, 0.5))
    small, _ = prune_channels(net, 0.5)
    table = viz.efficiency_table({"masked": masked, "small": small}, (20,), batch_size=4, repeats=2)
    assert table.loc["masked", "MACs run"] > table.loc["small", "MACs run"]
    assert table.loc["masked", "MACs on non-zeros"] < table.loc["masked", "MACs run"]


def test_live_prune_runs_with_a_tiny_budget_and_the_button_calls_it(monkeypatch):
    history = viz.run_live_prune(rounds=1, fraction=0.5, epochs=1, progress=False)
    assert [round(h["sparsity"], 2) for h in history] == [0.0, 0.5]
    calls = []
    monkeypatch.setattr(viz, "run_live_prune", lambda **kw: calls.append(kw) or history)
    box = viz.live_prune_button(rounds=1, fraction=0.5, epochs=1, progress=False)
    box.click()
    assert calls == [{"rounds": 1, "fraction": 0.5, "epochs": 1, "progress": False}]
