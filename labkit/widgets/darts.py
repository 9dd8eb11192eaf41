"""Plots and widgets for notebook 07 (DARTS).

The epoch slider answers at once from the search trajectories that ``scripts/precompute_darts.py``
stored in ``data/darts/``; a live search sits behind a button whose callback is a thin shell over
:func:`run_live_search`, which tests and the notebook call directly with a tiny budget.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .. import cache
from ..errors import check_choice, check_int
from ..nas.darts import Genotype, make_op, mixed_op
from ..nas.darts.diagnostics import op_weight
from . import button, panel

DATA = cache.DATA_DIR / "darts"
RUNS = ("first", "second", "fast", "long", "deep")
SHORT = {"none": "none", "max_pool_3": "max", "avg_pool_3": "avg", "skip_connect": "skip",
         "sep_conv_3": "sep3", "sep_conv_5": "sep5", "dil_conv_3": "dil3", "dil_conv_5": "dil5"}
COLORS = {"none": "0.6", "max_pool_3": "C4", "avg_pool_3": "C9", "skip_connect": "C3",
          "sep_conv_3": "C0", "sep_conv_5": "C2", "dil_conv_3": "C1", "dil_conv_5": "C8"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def load(name: str) -> dict:
    """A precomputed result: a search run ("first", "second", "fast", "long", "deep") or "retrain"."""
    check_choice(name, (*RUNS, "retrain"), "name", "load")
    path = DATA / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_darts.py`.")
    run = cache.load_json(path)
    if "alpha_history" in run:
        run["alpha_history"] = np.asarray(run["alpha_history"])
    return run


# --- one mixed edge ------------------------------------------------------------------------------

def edge_outputs(x: torch.Tensor, alphas, primitives, seed: int = 0) -> dict:
    """Each operation's output on one 1-channel signal ``x`` (L,), and the mixture for ``alphas``."""
    torch.manual_seed(seed)
    ops = [make_op(p, 1, affine=False).eval() for p in primitives]
    xb = x.reshape(1, 1, -1)
    with torch.no_grad():
        outs = {p: op(xb).flatten().numpy() for p, op in zip(primitives, ops)}
        weights = F.softmax(torch.as_tensor(alphas, dtype=torch.float32), dim=0)
        mixed = mixed_op(xb, weights, ops).flatten().numpy()
    return {"outputs": outs, "weights": weights.numpy(), "mixed": mixed}


def plot_edge(x, alphas, primitives, ax=None):
    """The operations of one edge (thin) and their softmax(alpha)-weighted sum (thick)."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    res = edge_outputs(torch.as_tensor(x, dtype=torch.float32), alphas, primitives)
    for (p, out), w in zip(res["outputs"].items(), res["weights"]):
        ax.plot(out, color=COLORS.get(p, "C7"), lw=0.8, alpha=0.35 + 0.65 * float(w),
                label=f"{SHORT.get(p, p)} (w={w:.2f})")
    ax.plot(res["mixed"], color="k", lw=2.5, label="mixed op")
    ax.set(xlabel="position in the sequence (samples)", ylabel="signal (a.u.)",
           title="one DARTS edge: every operation, weighted by softmax(alpha)")
    ax.legend(fontsize=7, ncol=3, loc="upper right")
    return ax


# --- alpha during the search -----------------------------------------------------------------------

def edge_labels(nodes: int) -> list[str]:
    """'i->j' for every edge, in the order of alpha's rows (inputs 0, 1; node j is state j + 2)."""
    return [f"{i}->{j + 2}" for j in range(nodes) for i in range(j + 2)]


def plot_alpha_heatmap(alpha_history, epoch: int, primitives, ax=None):
    """softmax(alpha) at one epoch: edges x operations."""
    plt = _plt()
    h = np.asarray(alpha_history)
    epoch = check_int(epoch, "epoch", "plot_alpha_heatmap", low=0, high=len(h) - 1)
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    nodes = int(round((np.sqrt(8 * h.shape[1] + 9) - 3) / 2))  # inverse of edges = nodes(nodes+3)/2
    # one colour scale for the whole run, stretched to its range: at the paper's alpha rate the weights
    # move by about 0.01 around 1/8, which a 0-1 scale would not show
    lo, hi = float(h.min()), float(h.max())
    im = ax.imshow(h[epoch], vmin=lo, vmax=max(hi, lo + 1e-3), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(primitives)), [SHORT.get(p, p) for p in primitives], rotation=45)
    ax.set_yticks(range(h.shape[1]), edge_labels(nodes))
    ax.set(xlabel="operation", ylabel="edge (input state -> node)",
           title=f"softmax(alpha) after epoch {epoch}")
    ax.figure.colorbar(im, ax=ax, label="operation weight (softmax; scale: this run's range)")
    return ax


def plot_trajectories(alpha_history, primitives, edge: int | None = None, ax=None):
    """Weight of every operation against the epoch: one edge, or the mean over all edges."""
    plt = _plt()
    h = np.asarray(alpha_history)
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for o, p in enumerate(primitives):
        y = h[:, :, o].mean(axis=1) if edge is None else h[:, edge, o]
        ax.plot(y, color=COLORS.get(p, "C7"), lw=2 if p == "skip_connect" else 1.2, label=SHORT.get(p, p))
    ax.axhline(1 / len(primitives), color="0.7", ls=":", lw=1)
    ax.xaxis.set_major_locator(_plt().MaxNLocator(integer=True))
    where = "mean over edges" if edge is None else f"edge {edge}"
    ax.set(xlabel="search epoch", ylabel="operation weight (softmax)", title=f"alpha trajectories, {where}")
    ax.legend(fontsize=7, ncol=2)
    return ax


def draw_genotype(genotype: Genotype, ax=None, title: str = ""):
    """The derived cell as a graph: inputs 0 and 1, nodes n2, n3, ..., output; edges named by operation."""
    import networkx as nx

    plt = _plt()
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    g = nx.DiGraph()
    names = {0: "in 0", 1: "in 1"}
    pos = {"in 0": (0, 1), "in 1": (0, -1), "out": (len(genotype.nodes) + 1, 0)}
    labels, colors = {}, {}
    for j, node in enumerate(genotype.nodes):
        names[j + 2] = f"n{j + 2}"
        pos[names[j + 2]] = (j + 1, 0.9 if j % 2 else -0.9)
    for j, node in enumerate(genotype.nodes):
        for op, i in node:
            edge = (names[i], names[j + 2])
            g.add_edge(*edge)
            labels[edge], colors[edge] = SHORT.get(op, op), COLORS.get(op, "0.5")
        g.add_edge(names[j + 2], "out")
    nx.draw_networkx(g, pos, ax=ax, node_color="#dde8f5", node_size=800, font_size=8,
                     edge_color=[colors.get(e, "0.8") for e in g.edges], width=2, arrowsize=12,
                     connectionstyle="arc3,rad=0.08")
    nx.draw_networkx_edge_labels(g, pos, labels, ax=ax, font_size=7, connectionstyle="arc3,rad=0.08")
    ax.set_title(title or f"derived cell: {genotype.count('skip_connect')} skip connections")
    ax.axis("off")
    return ax


def plot_skips(runs: dict, max_skips: int = 2, ax=None):
    """Skip connections in the cell derived after every epoch, per run, with the guard's cap."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for name, run in runs.items():
        skips = run["history"]["skips"]
        ax.plot(range(1, len(skips) + 1), skips, marker=".", label=name)
    ax.axhline(max_skips + 0.5, color="C3", ls="--", lw=1, label=f"guard: more than {max_skips} skips stops")
    ax.set(xlabel="search epoch", ylabel="skip connections in derived cell (count)",
           title="the collapse to skip connections")
    ax.legend(fontsize=8)
    return ax


def plot_retrain(result: dict, ax=None):
    """Validation accuracy of the derived cells and of random cells, each point one trained network."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    groups = [(k, v) for k, v in result["groups"].items()]
    for x, (name, accs) in enumerate(groups):
        accs = np.asarray(accs, dtype=float)
        jitter = np.random.default_rng(x).uniform(-0.12, 0.12, len(accs))
        ax.scatter(x + jitter, accs, s=18, alpha=0.7)
        ax.hlines(accs.mean(), x - 0.3, x + 0.3, color="k", lw=2)
    ax.set_xticks(range(len(groups)), [name for name, _ in groups])
    ax.set(xlabel="cell (each point: one network, one seed; bar: mean)", ylabel="validation accuracy (fraction)",
           title="retrained from scratch, same budget")
    return ax


# --- the live search and the dashboard -------------------------------------------------------------

def run_live_search(epochs: int = 2, order: str = "first", seed: int = 0, n_train: int = 800,
                    progress: bool = True) -> dict:
    """A small search on MNIST-1D, live (the button's work): returns history, alpha_history, genotype."""
    from tqdm.auto import tqdm

    from .. import data
    from ..nas.darts import DartsSearch, NetworkConfig, SearchConfig
    from ..nas.darts.estimate import search_splits

    epochs = check_int(epochs, "epochs", "run_live_search", low=1)
    ds = data.load("mnist1d", seed=0)
    w_split, a_split = search_splits(ds.train.subset(n_train, seed=seed), seed=seed)
    bar = tqdm(total=epochs, desc=f"DARTS {order} order", disable=not progress)
    search = DartsSearch(NetworkConfig(channels=8, cells=2, nodes=3),
                         SearchConfig(order=order, epochs=epochs, warmup_epochs=epochs // 3, seed=seed))
    search.fit(w_split, a_split, num_classes=ds.num_classes,
               progress=lambda e, h: (bar.update(1), bar.set_postfix(val_acc=f"{h['val_acc'][-1]:.2f}")))
    bar.close()
    return {"history": search.history_, "alpha_history": search.alpha_history_,
            "genotype": search.genotype_, "primitives": list(search.net_.primitives)}


def live_search_button(**budget):
    """A button that runs :func:`run_live_search` with a progress bar and shows the derived cell's alphas."""
    def run(**more):
        res = run_live_search(**{**budget, **more})
        print(res["genotype"])
        plot_alpha_heatmap(res["alpha_history"], len(res["alpha_history"]) - 1, res["primitives"])
        return res

    return button(f"search {budget.get('epochs', 2)} epochs", run)


def dashboard(run: str = "first"):
    """Epoch slider over a precomputed search: alpha heatmap, trajectories and the derived cell."""
    import ipywidgets as W

    check_choice(run, RUNS, "run", "dashboard")
    runs = {name: load(name) for name in RUNS if (DATA / f"{name}.json").exists()}
    choose = W.Dropdown(options=list(runs), value=run if run in runs else next(iter(runs)),
                        description="search")
    slider = W.IntSlider(0, 0, len(runs[choose.value]["alpha_history"]) - 1, description="epoch",
                         continuous_update=False)

    def draw():
        r = runs[choose.value]
        slider.max = len(r["alpha_history"]) - 1
        e = min(slider.value, slider.max)
        genotypes = r["history"]["genotypes"]
        g = Genotype.from_list(genotypes[max(e - 1, 0)]) if e else None
        fig, axes = _plt().subplots(1, 3, figsize=(16, 4.2))
        plot_alpha_heatmap(r["alpha_history"], e, r["primitives"], ax=axes[0])
        plot_trajectories(r["alpha_history"][:e + 1], r["primitives"], ax=axes[1])
        if g is not None:
            draw_genotype(g, ax=axes[2])
        else:
            axes[2].axis("off")
        fig.tight_layout()
        return {"epoch": e, "genotype": g}

    return panel([choose, slider], draw)


__all__ = ["load", "edge_outputs", "plot_edge", "plot_alpha_heatmap", "plot_trajectories", "draw_genotype",
           "plot_skips", "plot_retrain", "run_live_search", "live_search_button", "dashboard", "op_weight"]
