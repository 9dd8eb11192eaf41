"""Plots and widgets for notebook 05 (neural architecture search).

The race and the Pareto explorer answer at once from the tabular benchmark (``data/nas/table.npz``,
``scripts/build_nas_table.py``); the estimator comparison reads ``data/nas/estimators.json``
(``scripts/precompute_nas_estimators.py``); the live search sits behind a button whose callback is a
thin shell over :func:`labkit.nas.estimators.live_search`, which tests call with a tiny budget.
"""
from __future__ import annotations

import numpy as np

from .. import cache
from ..errors import check_choice, check_int
from ..nas import estimators as E
from ..nas.strategies import STRATEGIES, race
from ..nas.tabular import load_table, pareto_front
from . import button, figure, panel, tabs

DATA = cache.DATA_DIR / "nas"
COLORS = {"random": "C7", "evolution": "C0", "reinforce": "C2", "bayes": "C1"}
LABELS = {"random": "random search", "evolution": "regularized evolution", "reinforce": "REINFORCE",
          "bayes": "Bayesian optimization"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


# --- the race on the table ---------------------------------------------------------------------------

def table_race(table=None, budget: int = 100, seeds: int = 20, strategies=tuple(STRATEGIES), split: str = "val",
               one_seed: bool = False):
    """Race the strategies on the table: regret of the incumbent after every evaluation (plain function).

    ``one_seed``: each lookup sees one random training seed instead of the mean of the seeds.
    """
    table = table or load_table()
    check_int(budget, "budget", "table_race", low=1)
    check_int(seeds, "seeds", "table_race", low=1)
    check_choice(split, ("val", "test"), "split", "table_race")
    return race(lambda a, rng: table.objective(a, rng, one_seed), table.space, strategies, budget=budget,
                seeds=range(seeds), score=lambda a: table.regret(a, split))


def plot_regret(result, ax=None, split: str = "val"):
    """Median regret (band: 25-75 % over seeds) against the number of evaluations."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6.5, 3.6))[1]
    for name, curves in result.curves.items():
        x = np.arange(1, curves.shape[1] + 1)
        q1, med, q3 = np.percentile(100 * curves, [25, 50, 75], axis=0)
        ax.plot(x, med, color=COLORS.get(name), label=f"{LABELS.get(name, name)} ({result.seconds[name]:.1f} s)")
        ax.fill_between(x, q1, q3, color=COLORS.get(name), alpha=0.15)
    ax.set_xlabel("architectures evaluated (table lookups)")
    ax.set_ylabel(f"{'validation' if split == 'val' else 'test'} regret (accuracy points, %)")
    ax.set_yscale("symlog", linthresh=0.5)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def race_explorer(table=None, seeds: int = 30):
    """Budget slider and regret split over the race; each change reruns it on the table (seconds)."""
    import ipywidgets as w

    table = table or load_table()
    budget = w.IntSlider(value=100, min=10, max=300, step=10, description="budget", continuous_update=False)
    split = w.ToggleButtons(options=[("validation regret", "val"), ("test regret", "test")], value="val")
    noisy = w.Checkbox(value=False, description="one random training seed per lookup")
    def draw():
        result = table_race(table, budget.value, seeds, split=split.value, one_seed=noisy.value)
        plot_regret(result, split=split.value)
        return result

    return panel([budget, split, noisy], draw, rows=[w.HBox([budget, split]), noisy])


# --- estimators ----------------------------------------------------------------------------------------

def load_estimators() -> dict:
    """The precomputed estimator scores (data/nas/estimators.json)."""
    path = DATA / "estimators.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_nas_estimators.py`.")
    return cache.load_json(path)


def estimator_table(scores: dict | None = None, table=None):
    """One row per estimator: Spearman, Kendall vs full training, seconds per cell and one-time cost.

    Full training's seconds are the table's wall-clock seconds (measured while the build shared the
    machine with other jobs); the live estimators' are CPU seconds.
    """
    import pandas as pd

    scores, table = scores or load_estimators(), table or load_table()
    archs = [tuple(a) for a in scores["archs"]]
    truth = [table.val_acc(a) for a in archs]                    # full training, mean over seeds
    full = float(np.mean([table.train_seconds(a) for a in archs]))
    rows = [{"estimator": "full training (table, 2 seeds)", "spearman": 1.0, "kendall": 1.0,
             "seconds per cell": 2 * full, "one-time seconds": 0.0}]
    one_seed = [table.val_acc(a, seed=table.config.seeds[1]) for a in archs]
    rows.append({"estimator": "full training, other seed", **E.rank_correlation(one_seed, truth),
                 "seconds per cell": full, "one-time seconds": 0.0})
    for name, s in scores["estimators"].items():
        rows.append({"estimator": name, **E.rank_correlation(s["value"], truth),
                     "seconds per cell": float(np.mean(s["seconds"])),
                     "one-time seconds": scores["one_time_seconds"].get(name, 0.0)})
    return pd.DataFrame(rows).set_index("estimator")


def plot_estimators(frame, ax=None):
    """Rank correlation against CPU seconds per cell, one point per estimator."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6.5, 3.6))[1]
    for name, row in frame.iterrows():
        ax.scatter(row["seconds per cell"], row["spearman"], s=40)
        ax.annotate(name, (row["seconds per cell"], row["spearman"]), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("CPU seconds per architecture (log scale)")
    ax.set_ylabel("Spearman rho vs full training")
    ax.grid(alpha=0.3)
    return ax


# --- efficiency: accuracy against cost -----------------------------------------------------------------

def plot_pareto(table=None, cost: str = "macs", limit: float | None = None, ax=None):
    """Every distinct cell's validation accuracy against its MACs, params or latency; the Pareto front."""
    check_choice(cost, ("macs", "params", "latency_ms"), "cost", "plot_pareto")
    table = table or load_table()
    df = table.frame()
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6.5, 3.6))[1]
    ax.scatter(df[cost], 100 * df["val_acc"], s=8, color="C7", alpha=0.6, label="cells")
    front = pareto_front(df[cost].to_numpy(), df["val_acc"].to_numpy())
    ax.plot(df[cost].iloc[front], 100 * df["val_acc"].iloc[front], "o-", color="C3", ms=4, label="Pareto front")
    if limit is not None:
        ax.axvline(limit, color="k", ls="--", lw=1, label="budget")
    unit = {"macs": "MACs per sample", "params": "parameters", "latency_ms": "latency, 1 sample (ms)"}[cost]
    ax.set_xlabel(unit)
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def constrained_objective(table, max_macs: int):
    """Validation accuracy, with cells over the MAC budget scored 0 (a hard constraint for any strategy)."""
    def objective(arch, rng=None):
        value, cost = table.objective(arch)
        return (value if table.macs(arch) <= max_macs else 0.0), cost
    return objective


def pareto_explorer(table=None):
    """Cost measure and budget sliders over the Pareto plot."""
    import ipywidgets as w

    table = table or load_table()
    df = table.frame()
    cost = w.Dropdown(options=[("MACs", "macs"), ("parameters", "params"), ("latency", "latency_ms")],
                      value="macs", description="cost")
    share = w.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="budget", continuous_update=False,
                          readout_format=".0%")
    def draw():
        limit = float(np.quantile(df[cost.value], share.value))
        plot_pareto(table, cost.value, limit)
        return limit

    return panel([cost, share], draw)


# --- live search ------------------------------------------------------------------------------------

def live_search_button(**defaults):
    """A button that runs :func:`labkit.nas.estimators.live_search` and plots what it saw."""
    def run(**budget):
        result = E.live_search(**{**defaults, **budget})
        plot_live(result)
        return result

    return button("search live", run)


def plot_live(result, ax=None):
    """Screening accuracy of every architecture tried, in order, and the retrained winner."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6.5, 3.2))[1]
    values = [100 * v for _, v in result.history]
    ax.plot(range(1, len(values) + 1), values, "o", color="C0", label="screened (short training)")
    ax.plot(range(1, len(values) + 1), np.maximum.accumulate(values), color="C0", alpha=0.5)
    ax.axhline(100 * result.test_acc, color="C3", ls="--", label=f"winner retrained: test {100 * result.test_acc:.1f} %")
    ax.set_xlabel("architecture (order of evaluation)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{result.seconds:.0f} s in all", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def dashboard(table=None, seeds: int = 30, **live):
    """One widget for NAS: the race (over ``seeds`` seeds), the Pareto explorer, the estimators, a live
    search (``live`` goes to :func:`labkit.nas.estimators.live_search`)."""
    check_int(seeds, "seeds", "nas.dashboard", low=1)
    table = table or load_table()
    def plot_estimator_scores():
        try:
            plot_estimators(estimator_table(table=table))
        except FileNotFoundError as err:
            print(err)

    return tabs({"race": race_explorer(table, seeds), "accuracy vs cost": pareto_explorer(table),
                 "estimators": figure(plot_estimator_scores), "live search": live_search_button(**live)})
