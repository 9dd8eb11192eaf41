"""Notebook 03: soft targets, dark knowledge, and when distillation helps a small student.

* :func:`soft_target_view` / :func:`temperature_widget`: one example's soft targets and their entropy
  as the temperature moves.
* :func:`dark_knowledge`: the teacher's mean soft output per true class, a class-similarity map.
* :func:`plot_grid`, :func:`plot_sizes`, :func:`plot_transfer`: the sweeps that
  ``scripts/precompute_distill.py`` stores in ``data/distill/results.json``.
* :func:`compare_live` (behind a button): a student alone and a distilled one from the same weights;
  :func:`grid_live` recomputes a small T x l2 grid.
* :func:`dashboard`: all of it in one widget.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import cache, data, distill, models, train
from ..errors import check_int
from . import button, figure, panel, tabs

DIR = cache.DATA_DIR / "distill"
TEMPERATURES = (0.5, 1, 2, 4, 8, 16, 32)


def load_results() -> dict:
    """The precomputed sweeps; raises with the command to run when they are missing."""
    path = DIR / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_distill.py` once.")
    return cache.load_json(path)


def load_teacher(ds, members: int = 3) -> distill.Teacher:
    """The ensemble teacher trained by the precompute script (``data/distill/teacher_<k>.pt``)."""
    check_int(members, "members", "load_teacher", low=1)
    spec = load_results()["setup"]["teacher"]
    nets = []
    for k in range(members):
        net = models.build(spec, ds)
        cache.load_state_dict(net, DIR / f"teacher_{k}.pt")
        nets.append(net)
    return distill.Teacher(nets)


# --- temperature and dark knowledge ---------------------------------------------------------------

def soft_target_view(logits: torch.Tensor, temperature: float, ax=None) -> dict:
    """Bar chart of ``softmax(z / T)`` for one sample; returns the probabilities and their entropy."""
    probs = distill.softmax_t(logits, temperature)
    h = distill.entropy(probs).item()
    if ax is not None:
        ax.bar(range(len(probs)), probs.numpy(), color="tab:blue")
        ax.set_xlabel("class")
        ax.set_ylabel("soft target (probability)")
        ax.set_ylim(0, 1)
        ax.set_xticks(range(len(probs)))
        ax.set_title(f"T = {temperature:g}: entropy {h:.2f} nats (uniform: {math.log(len(probs)):.2f})")
    return {"probs": probs, "entropy": h}


def temperature_widget(logits: torch.Tensor, labels: torch.Tensor | None = None):
    """Slider over T and a sample picker, showing the soft targets of one teacher output."""
    import ipywidgets as W

    t_slider = W.SelectionSlider(options=list(TEMPERATURES), value=4, description="T", continuous_update=False)
    pick = W.IntSlider(value=0, min=0, max=len(logits) - 1, description="sample", continuous_update=False)
    def draw():
        ax = plt.subplots(figsize=(6, 3))[1]
        view = soft_target_view(logits[pick.value], t_slider.value, ax)
        if labels is not None:
            ax.axvline(int(labels[pick.value]), color="k", ls=":", label="true class")
            ax.legend()
        return view

    return panel([t_slider, pick], draw)


def dark_knowledge(teacher: distill.Teacher, split, temperature: float = 4.0) -> np.ndarray:
    """``M[i, j]`` = mean soft target of class ``j`` over samples of true class ``i`` (rows sum to 1)."""
    probs = teacher.soft_targets(split.X, temperature)
    k = probs.shape[1]
    return np.stack([probs[split.y == i].mean(0).numpy() for i in range(k)])


def plot_dark_knowledge(matrix: np.ndarray, temperature: float, ax=None):
    """Heatmap of :func:`dark_knowledge` with the diagonal hidden, so the wrong-class structure shows."""
    ax = ax or plt.subplots(figsize=(5, 4))[1]
    shown = np.where(np.eye(len(matrix), dtype=bool), np.nan, matrix)
    im = ax.imshow(shown, cmap="viridis")
    ax.set_xlabel("class the teacher also gives probability to")
    ax.set_ylabel("true class")
    ax.set_xticks(range(len(matrix)))
    ax.set_yticks(range(len(matrix)))
    ax.set_title(f"dark knowledge at T = {temperature:g} (diagonal hidden)")
    plt.colorbar(im, ax=ax, label="mean soft target (probability)")
    return ax


# --- precomputed sweeps ---------------------------------------------------------------------------

def grid_table(results: dict) -> tuple[list[float], list[float], np.ndarray]:
    """(T values, l2 values, validation accuracy[T, l2]) from the stored grid."""
    Ts, l2s = results["setup"]["grid_T"], results["setup"]["grid_l2"]
    acc = np.array([[results.get(f"grid/T={T}/l2={l2}", {}).get("distilled", np.nan) for l2 in l2s] for T in Ts])
    return Ts, l2s, acc


def plot_grid(Ts, l2s, acc, ax=None, title="T x l2, validation accuracy"):
    """Heatmap of validation accuracy over the temperature and the soft-term weight."""
    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    im = ax.imshow(acc, cmap="magma", aspect="auto")
    ax.set_xticks(range(len(l2s)), [f"{v:g}" for v in l2s])
    ax.set_yticks(range(len(Ts)), [f"{v:g}" for v in Ts])
    ax.set_xlabel("soft-term weight l2 (l1 = 1 - l2)")
    ax.set_ylabel("temperature T")
    for i in range(len(Ts)):
        for j in range(len(l2s)):
            if np.isfinite(acc[i, j]):
                bright = acc[i, j] > (np.nanmin(acc) + np.nanmax(acc)) / 2
                ax.text(j, i, f"{acc[i, j]:.3f}", ha="center", va="center", color="k" if bright else "w")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, label="validation accuracy (fraction)")
    return ax


def size_table(results: dict) -> list[dict]:
    """Per student size: params, alone, naive KD and KD with the transfer set (validation accuracy)."""
    rows = []
    for spec in results["setup"]["sizes"]:
        tr, nv = results.get(f"size/{spec}/transfer"), results.get(f"size/{spec}/naive")
        if tr and nv:
            rows.append({"student": spec, "params": tr.get("params"), "alone": tr["alone"],
                         "naive KD": nv["distilled"], "KD + transfer": tr["distilled"]})
    return rows


def plot_sizes(rows: list[dict], teacher_acc: float, ax=None):
    """Validation accuracy against student parameters: alone, naive KD, KD with a transfer set."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    params = [r["params"] for r in rows]
    for key, style in (("alone", "o-"), ("naive KD", "s--"), ("KD + transfer", "^-")):
        ax.plot(params, [r[key] for r in rows], style, label=key)
    ax.axhline(teacher_acc, color="k", ls=":", label="teacher (ensemble)")
    ax.set_xscale("log")
    ax.set_xlabel("student parameters (count, log scale)")
    ax.set_ylabel("validation accuracy (fraction)")
    for r in rows:
        ax.annotate(r["student"], (r["params"], r["alone"]), textcoords="offset points", xytext=(0, -12),
                    fontsize=7, ha="center")
    ax.legend()
    return ax


def plot_transfer(results: dict, ax=None):
    """Validation accuracy of the middle student against the number of teacher-labelled extra inputs."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ns = sorted(int(k.split("/")[1]) for k in results if k.startswith("transfer_n/"))
    accs = [results[f"transfer_n/{n}"]["distilled"] for n in ns]
    full_key = f"size/{results['setup']['grid_student']}/transfer"
    if full_key in results:
        ns, accs = ns + [results["setup"]["transfer_n"]], accs + [results[full_key]["distilled"]]
        ax.axhline(results[full_key]["alone"], color="tab:gray", ls="--", label="student alone")
    ax.plot([n / 1000 for n in ns], accs, "o-", label=f"distilled {results['setup']['grid_student']}")
    ax.set_xlabel("extra inputs labelled by the teacher (thousands)")
    ax.set_ylabel("validation accuracy (fraction)")
    ax.legend()
    return ax


# --- live training behind buttons -----------------------------------------------------------------

def compare_live(teacher: distill.Teacher, ds, spec: str = "mlp:64-64", *, n_extra: int = 5000, epochs: int = 5,
                 temperature: float = 1.0, soft_weight: float = 0.9, seed: int = 0, progress: bool = True) -> dict:
    """Train ``spec`` alone and distilled (with ``n_extra`` teacher-labelled inputs) from the same weights."""
    check_int(n_extra, "n_extra", "compare_live", low=0)
    check_int(epochs, "epochs", "compare_live", low=1)
    extra = data.mnist1d_unlabelled(n_extra, seed=1) if n_extra else None
    table = distill.label_transfer_set(teacher, ds.train, extra)
    cfg = distill.DistillConfig(temperature=temperature, soft_weight=soft_weight, hard_weight=round(1 - soft_weight, 6))
    run = train.TrainConfig(epochs=epochs, batch_size=256, progress=progress)
    out = distill.alone_vs_distilled(lambda: models.build(spec, ds), table, ds.train, ds.val, cfg, seed=seed,
                                     alone=train.TrainConfig(epochs=epochs * 4, progress=progress), distilled=run)
    return {"alone": train.accuracy(out["alone"], ds.val), "distilled": train.accuracy(out["distilled"], ds.val),
            "teacher": teacher.accuracy(ds.val)}


def grid_live(teacher: distill.Teacher, ds, spec: str = "mlp:32", Ts=(1.0, 4.0), l2s=(0.5, 0.9), *,
              n_extra: int = 2000, epochs: int = 2, seed: int = 0, progress: bool = True) -> np.ndarray:
    """A small T x l2 grid of validation accuracies, trained now (the button's work)."""
    check_int(n_extra, "n_extra", "grid_live", low=0)
    extra = data.mnist1d_unlabelled(n_extra, seed=1) if n_extra else None
    table = distill.label_transfer_set(teacher, ds.train, extra)
    acc = np.zeros((len(Ts), len(l2s)))
    for i, T in enumerate(Ts):
        for j, l2 in enumerate(l2s):
            torch.manual_seed(seed)
            net = models.build(spec, ds)
            cfg = distill.DistillConfig(temperature=T, soft_weight=l2, hard_weight=round(1 - l2, 6))
            distill.distill(net, table, ds.train, ds.val, cfg, epochs=epochs, batch_size=256, seed=seed, progress=progress)
            acc[i, j] = train.accuracy(net, ds.val)
    return acc


def dashboard(ds=None, teacher: distill.Teacher | None = None, results: dict | None = None):
    """One widget: temperature explorer, cached sweeps, and a live comparison button."""
    ds = ds or data.load("mnist1d", seed=0)
    teacher = teacher or load_teacher(ds)
    results = results or load_results()
    logits = teacher.member_logits(ds.val.X[:50]).mean(0)
    temp = temperature_widget(logits, ds.val.y[:50])

    def plot_sweeps():
        axes = plt.subplots(1, 2, figsize=(11, 4))[1]
        plot_grid(*grid_table(results), ax=axes[0])
        plot_sizes(size_table(results), results["teacher"]["ensemble_val"], ax=axes[1])
        plt.tight_layout()

    def run_live(**budget):
        res = compare_live(teacher, ds, **budget)
        print(f"validation accuracy: alone {res['alone']:.3f}, distilled {res['distilled']:.3f}, "
              f"teacher {res['teacher']:.3f}")
        return res

    live = button("train alone vs distilled", run_live)
    tab = tabs({"temperature": temp, "sweeps (cached)": figure(plot_sweeps), "live": live})
    tab.run_live = live.click  # the button's work as a plain call: tab.run_live(n_extra=100, epochs=1)
    return tab
