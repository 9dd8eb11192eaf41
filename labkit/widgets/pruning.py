"""Plots and widgets for notebooks 01 (pruning) and 02 (lottery ticket).

Sliders and dropdowns answer at once from the sweeps that ``scripts/precompute_pruning.py`` stored in
``data/pruning/``; live training sits behind a button whose callback is a thin shell over
:func:`run_live_prune`, which tests and notebooks call directly with a tiny budget.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import cache, metrics
from ..errors import check_choice, check_int
from ..pruning import layer_sparsity
from . import button, figure, panel, tabs

DATA = cache.DATA_DIR / "pruning"
COLORS = {"magnitude": "C0", "random": "C7", "taylor": "C1", "obd": "C2", "snip": "C3",
          "ticket": "C0", "reinit": "C3", "random_mask": "C7", "dense": "k",
          "static": "C7", "set": "C1", "rigl": "C0"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def load(name: str) -> dict:
    """A precomputed sweep: "sweep", "lottery", "latency" or "regrowth" (from data/pruning/NAME.json)."""
    check_choice(name, ("sweep", "lottery", "latency", "regrowth"), "name", "load")
    path = DATA / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_pruning.py --only {name}`.")
    return cache.load_json(path)


# --- accuracy against sparsity ---------------------------------------------------------------------

def sweep_curve(sweep: dict, criterion: str, granularity: str, schedule: str):
    """Mean and std over seeds of (sparsity, accuracy) for one cell of the sweep, or None if not run."""
    runs = [r for r in sweep["runs"] if (r["criterion"], r["granularity"], r["schedule"]) ==
            (criterion, granularity, schedule)]
    if not runs:
        return None
    n = min(len(r["sparsity"]) for r in runs)
    x = np.mean([r["sparsity"][:n] for r in runs], axis=0)
    acc = np.array([r["accuracy"][:n] for r in runs])
    return x, acc.mean(0), acc.std(0), len(runs)


def plot_sweep(sweep: dict, criteria=("magnitude", "random"), granularity: str = "weight",
               schedule: str = "iterative", ax=None):
    """Validation accuracy against the share of weights removed, one line per criterion."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    dense = np.mean(list(sweep["dense"].values()))
    ax.axhline(100 * dense, color="k", ls="--", lw=1, label=f"dense ({100 * dense:.1f} %)")
    missing = []
    for c in criteria:
        curve = sweep_curve(sweep, c, granularity, schedule)
        if curve is None:
            missing.append(c)
            continue
        x, mean, std, n = curve
        ax.errorbar(100 * x, 100 * mean, yerr=100 * std, marker="o", ms=3, capsize=2,
                    color=COLORS.get(c), label=f"{c} ({n} seeds)")
    ax.set_xlabel("weights removed (%)")
    ax.set_ylabel("validation accuracy (%)")
    title = f"{granularity} pruning, {schedule} schedule"
    if missing:
        title += f"\nnot in the sweep: {', '.join(missing)}"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return ax


def sweep_explorer(sweep: dict | None = None):
    """Dropdowns over the cached sweep: criteria x granularity x schedule."""
    import ipywidgets as w

    sweep = sweep or load("sweep")
    crit = w.SelectMultiple(options=sweep["meta"]["criteria"], value=("magnitude", "random", "taylor"),
                            description="criteria", rows=5)
    gran = w.Dropdown(options=sweep["meta"]["granularities"], value="weight", description="granularity")
    sched = w.Dropdown(options=sweep["meta"]["schedules"], value="iterative", description="schedule")
    controls = [crit, gran, sched]
    return panel(controls, lambda: plot_sweep(sweep, crit.value, gran.value, sched.value),
                 rows=[w.HBox([crit, w.VBox([gran, sched])])])


# --- inside one network ----------------------------------------------------------------------------

def plot_weight_histograms(before: nn.Module, after: nn.Module, ax=None):
    """Histogram of the weights of the dense model and of the non-zero weights left after pruning."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    dense = torch.cat([p.detach().reshape(-1) for n, p in before.named_parameters() if n.endswith("weight")])
    kept = torch.cat([p.detach().reshape(-1) for n, p in after.named_parameters() if n.endswith("weight")])
    kept = kept[kept != 0]
    bins = np.linspace(dense.min().item(), dense.max().item(), 80)
    ax.hist(dense.numpy(), bins=bins, alpha=0.5, label=f"dense ({len(dense):,} weights)")
    ax.hist(kept.numpy(), bins=bins, alpha=0.7, label=f"after pruning ({len(kept):,} non-zero)")
    ax.set_xlabel("weight value")
    ax.set_ylabel("number of weights")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_sensitivity(scan, ax=None):
    """Validation accuracy with one layer pruned (by magnitude, no fine-tuning), per layer."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    for name, scores in scan.scores.items():
        ax.plot(100 * np.array(scan.sparsities), 100 * np.array(scores), marker="o", ms=3, label=name)
    ax.axhline(100 * scan.dense, color="k", ls="--", lw=1, label="dense")
    ax.set_xlabel("weights removed from this layer only (%)")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=8)
    return ax


def plot_layer_sparsity(allocations: dict[str, dict], ax=None):
    """Bars of the share removed per layer, one group per allocation ({"global": masks, ...})."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    names = list(next(iter(allocations.values())))
    width = 0.8 / len(allocations)
    for i, (label, masks) in enumerate(allocations.items()):
        share = layer_sparsity(masks)
        ax.bar(np.arange(len(names)) + i * width, [100 * share[n] for n in names], width, label=label)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set_xlabel("layer (weight tensor)")
    ax.set_ylabel("weights removed (%)")
    ax.legend(fontsize=8)
    return ax


def plot_first_layer_masks(mask: torch.Tensor, n: int = 16, side: int = 8):
    """The input masks of the first ``n`` hidden neurons as side x side images (digits: 8x8 pixels)."""
    plt = _plt()
    cols = min(n, 8)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(1.2 * cols, 1.3 * ((n + cols - 1) // cols)))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < n:
            ax.imshow(mask[i].reshape(side, side).float().numpy(), cmap="Greys", vmin=0, vmax=1)
            ax.set_title(f"neuron {i}", fontsize=7)
    fig.suptitle("kept input pixels (black) of first-layer neurons", fontsize=9)
    return fig


# --- size and speed --------------------------------------------------------------------------------

def sparse_macs(model: nn.Module, input_shape) -> int:
    """MACs if multiplications by zero weights were skipped: each layer's MACs times its density."""
    table = metrics.mac_table(model, input_shape)
    mods = dict(model.named_modules())
    total = 0
    for row in table.itertuples():
        module = mods.get(row.layer)
        w = getattr(module, "weight", None)
        density = float((w != 0).float().mean()) if isinstance(w, torch.Tensor) and w.dim() >= 2 else 1.0
        total += int(row.macs * density)
    return total


def efficiency_table(models: dict[str, nn.Module], input_shape, batch_size: int = 64, repeats: int = 20) -> pd.DataFrame:
    """Params, non-zeros, bytes (dense and CSR), executed and sparse MACs, latency per model."""
    rows = []
    for name, model in models.items():
        lat = metrics.measure_latency(model, input_shape, batch_size=batch_size, repeats=repeats, warmup=3)
        rows.append({"model": name, "params": metrics.count_params(model),
                     "non-zeros": metrics.count_nonzero(model),
                     "bytes fp32": metrics.model_bytes(model), "bytes CSR": metrics.model_bytes(model, sparse="csr"),
                     "MACs run": metrics.count_macs(model, input_shape),
                     "MACs on non-zeros": sparse_macs(model, input_shape),
                     f"latency ms (batch {batch_size})": round(lat.median_ms, 3)})
    return pd.DataFrame(rows).set_index("model")


def plot_latency(latency: dict, axes=None):
    """Left: speedup against MAC reduction per width; right: where the time goes, by layer type."""
    plt = _plt()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for batch, rows in latency["speedup"].items():
        ax.plot([r["width"] for r in rows], [r["speedup"] / r["mac_reduction"] for r in rows], marker="o",
                label=f"batch {batch}")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="latency follows MACs")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"base width w of {latency['family']}")
    ax.set_ylabel("speedup / MAC reduction")
    ax.legend(fontsize=8)
    ax = axes[1]
    parts = latency["breakdown"]
    labels = [f"w={p['width']}\n{p['model']}" for p in parts]
    bottom = np.zeros(len(parts))
    for kind in latency["kinds"]:
        share = np.array([p["ms"].get(kind, 0.0) for p in parts])
        ax.bar(labels, share, bottom=bottom, label=kind)
        bottom += share
    ax.set_ylabel(f"time per batch of {latency['breakdown_batch']} (ms)")
    ax.set_xlabel("model")
    ax.legend(fontsize=7)
    return axes


# --- regrowth and the lottery ticket -------------------------------------------------------------

def plot_regrowth(regrowth: dict, ax=None):
    """Validation accuracy per epoch of sparse training: static mask, SET and RigL, and dense."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    for method, runs in regrowth["curves"].items():
        acc = 100 * np.array(runs)                      # (seeds, epochs)
        epochs = np.arange(1, acc.shape[1] + 1)
        ax.plot(epochs, acc.mean(0), color=COLORS.get(method), label=f"{method} ({len(runs)} seeds)")
        ax.fill_between(epochs, acc.min(0), acc.max(0), color=COLORS.get(method), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"training at {100 * regrowth['sparsity']:.0f} % sparsity from the start", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_lottery(lottery: dict, ax=None, split: str = "test"):
    """Accuracy against remaining weights (log axis): tickets, random re-init, random mask; mean +- std."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    seeds = lottery["seeds"]
    remaining = 100 * (1 - np.array(seeds[0]["sparsity"]))
    dense = 100 * np.mean([s[split]["ticket"][0] for s in seeds])
    ax.axhline(dense, color="k", ls="--", lw=1, label=f"dense ({dense:.1f} %)")
    for kind in ("ticket", "reinit", "random_mask"):
        acc = 100 * np.array([s[split][kind] for s in seeds])           # (seeds, levels)
        x = remaining if kind == "ticket" else 100 * (1 - np.array(seeds[0]["control_sparsity"]))
        ax.errorbar(x, acc.mean(0), yerr=acc.std(0), marker="o", ms=3, capsize=2, color=COLORS[kind],
                    label={"ticket": "winning ticket (reset to init)", "reinit": "same mask, random re-init",
                           "random_mask": "random mask, same init"}[kind])
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weights remaining (%, log scale)")
    ax.set_ylabel(f"{split} accuracy (%)")
    ax.set_title(f"{lottery['model']} on {lottery['data']}, {len(seeds)} seeds", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return ax


def lottery_round(lottery: dict, round: int, split: str = "test") -> dict:
    """Mean and std over seeds at one round of the cached search: the ticket, and the controls when that
    round has them (they were trained at every other round)."""
    check_choice(split, ("val", "test"), "split", "lottery_round")
    seeds = lottery["seeds"]
    levels = seeds[0]["sparsity"]
    check_int(round, "round", "lottery_round", low=0, high=len(levels) - 1)
    row = {"round": round, "weights_left_pct": 100 * (1 - levels[round])}
    ticket = 100 * np.array([s[split]["ticket"][round] for s in seeds])
    row.update(ticket_mean=float(ticket.mean()), ticket_std=float(ticket.std()))
    controls = [abs(c - levels[round]) < 1e-9 for c in seeds[0]["control_sparsity"]]
    for kind in ("reinit", "random_mask"):
        acc = 100 * np.array([s[split][kind][controls.index(True)] for s in seeds]) if any(controls) else None
        row.update({f"{kind}_mean": None if acc is None else float(acc.mean()),
                    f"{kind}_std": None if acc is None else float(acc.std())})
    return row


def lottery_explorer(lottery: dict | None = None):
    """A round slider and a split toggle over the cached lottery search: the curves with the round marked,
    and that round's accuracies (mean +- std over seeds) for the ticket and its two controls."""
    import ipywidgets as w

    lottery = lottery or load("lottery")
    rounds = len(lottery["seeds"][0]["sparsity"])
    rnd = w.IntSlider(value=rounds // 2, min=0, max=rounds - 1, description="round", continuous_update=False)
    split = w.ToggleButtons(options=[("validation", "val"), ("test", "test")], value="test")

    def draw():
        row = lottery_round(lottery, rnd.value, split.value)
        ax = plot_lottery(lottery, split=split.value)
        ax.axvline(row["weights_left_pct"], color="C1", lw=6, alpha=0.25)
        text = f"round {row['round']}: {row['weights_left_pct']:.1f} % left, ticket {row['ticket_mean']:.1f} +- {row['ticket_std']:.1f}"
        for kind, name in (("reinit", "re-init"), ("random_mask", "random mask")):
            if row[f"{kind}_mean"] is not None:
                text += f", {name} {row[f'{kind}_mean']:.1f} +- {row[f'{kind}_std']:.1f}"
        ax.set_title(text + " (%)", fontsize=8)
        return row

    return panel([rnd, split], draw)


# --- live training behind a button ---------------------------------------------------------------

def run_live_prune(rounds: int = 3, fraction: float = 0.5, epochs: int = 3, criterion: str = "magnitude",
                   seed: int = 0, progress: bool = True) -> list[dict]:
    """Train a digits MLP, then Algorithm 1 with ``rounds`` rounds; returns the per-round history."""
    from .. import data, models, train
    from ..pruning import prune_and_finetune

    ds = data.load("digits", seed=seed)
    torch.manual_seed(seed)
    net = models.mlp(ds.input_shape, hidden=(128, 64), num_classes=ds.num_classes)
    hist = train.fit(net, ds.train, ds.val, epochs=max(epochs, 10), lr=3e-3, seed=seed, progress=progress)
    fine = lambda m, keep: train.fit(m, ds.train, ds.val, epochs=epochs, lr=1e-3, after_step=keep, seed=seed,
                                     progress=progress)
    result = prune_and_finetune(net, rounds, fraction, criterion=criterion, fine_tune=fine,
                                batches=list(ds.train.loader(128, shuffle=True, seed=seed))[:4],
                                evaluate=lambda m: train.accuracy(m, ds.val))
    return [{"round": 0, "sparsity": 0.0, "score": hist.val_acc[-1]}] + result.history


def live_prune_button(**defaults):
    """A button that runs :func:`run_live_prune` with a progress bar and plots the result."""
    def run(**budget):
        history = run_live_prune(**{**defaults, **budget})
        ax = _plt().subplots(figsize=(6, 3))[1]
        ax.plot([100 * h["sparsity"] for h in history], [100 * h["score"] for h in history], marker="o")
        ax.set_xlabel("weights removed (%)")
        ax.set_ylabel("validation accuracy (%)")
        return history

    return button("prune live", run)


def dashboard(**kwargs):
    """One widget for the pruning topic: the sweep explorer and the cached lottery, latency, regrowth plots."""
    pages = {"accuracy vs sparsity": sweep_explorer(), "lottery ticket": lottery_explorer()}
    for title, name, plot in (("latency vs MACs", "latency", plot_latency), ("regrowth", "regrowth", plot_regrowth)):
        pages[title] = figure(plot, load(name))
    return tabs(pages)
