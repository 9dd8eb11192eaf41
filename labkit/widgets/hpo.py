"""Plots and widgets for notebook 04 (hyper-parameter optimization).

* the low-effective-dimensionality experiment: a 3 x 3 grid against 9 random points when only one of
  two parameters matters (Bergstra & Bengio 2012), over many seeds;
* the grid's cost as the number of parameters grows (a slider);
* a Bayesian-optimization step-through: GP mean +- 2 sd, the acquisition (EI / PI / UCB with its xi or
  kappa), the next point; each click adds one evaluation;
* MNIST-1D tuning read from data/hpo/ (scripts/precompute_hpo.py), refinement rounds, parallel speed-up,
  and a live tuning run behind a button.
Callbacks are thin shells over plain functions (`grid_cost`, `bo_step`, `run_live_tuning`) that tests
and the notebook call directly.
"""
from __future__ import annotations

import numpy as np

from .. import cache
from ..errors import check_choice, check_int
from ..hpo import BayesConfig, BayesSearch, GaussianProcess, GPConfig, GridSearch, RandomSearch, Uniform
from ..hpo.acquisition import ACQUISITIONS
from . import button, figure, panel, tabs

DATA = cache.DATA_DIR / "hpo"
COLORS = {"grid": "C0", "random": "C1", "bayes": "C2"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def load(name: str) -> dict:
    """A precomputed result: "mnist1d_tuning" or "parallel" (data/hpo/NAME.json)."""
    check_choice(name, ("mnist1d_tuning", "parallel"), "name", "load")
    path = DATA / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/precompute_hpo.py`.")
    return cache.load_json(path)


# --- low effective dimensionality ----------------------------------------------------------------

def important_effect(x):
    """The validation error as a function of the one parameter that matters (a bumpy 1-D curve)."""
    x = np.asarray(x, float)
    return 0.3 + 0.25 * (x - 0.63) ** 2 - 0.08 * np.exp(-((x - 0.63) / 0.05) ** 2)


def effective_dimension_experiment(seeds: int = 200, levels: int = 3) -> dict:
    """Grid (levels^2 points) vs as many random points on f(x, y) = important_effect(x): best errors."""
    space = {"important": Uniform(0, 1), "unimportant": Uniform(0, 1)}
    f = lambda p: float(important_effect(p["important"]))  # noqa: E731
    budget = levels ** 2
    grid = GridSearch(space, levels=levels, rounds=1).optimize(f, budget)
    rand = [RandomSearch(space, seed=s).optimize(f, budget) for s in range(seeds)]
    return {"budget": budget, "grid_best": grid.best_value_, "grid_distinct": grid.history_.important.nunique(),
            "random_best": np.array([r.best_value_ for r in rand]),
            "random_distinct": np.array([r.history_.important.nunique() for r in rand]),
            "grid_points": grid.history_[["important", "unimportant"]].to_numpy(),
            "random_points": rand[0].history_[["important", "unimportant"]].to_numpy(),
            "optimum": float(important_effect(np.linspace(0, 1, 100001)).min())}


def plot_effective_dimension(result: dict):
    """Bergstra & Bengio's picture as measured: points, their projections on the important axis, errors."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    xs = np.linspace(0, 1, 400)
    for ax, key, title in ((axes[0], "grid_points", "grid"), (axes[1], "random_points", "random (seed 0)")):
        pts = result[key]
        ax.scatter(pts[:, 0], pts[:, 1], color=COLORS[title.split()[0]], zorder=3)
        ax.vlines(pts[:, 0], 0, -0.08, color=COLORS[title.split()[0]], transform=ax.get_xaxis_transform(),
                  clip_on=False)
        twin = ax.twinx()
        twin.plot(xs, important_effect(xs), color="k", lw=1)
        twin.set_ylabel("validation error (toy)")
        ax.set(xlabel="important parameter (unit range)", ylabel="unimportant parameter (unit range)",
               title=f"{title}: {len(np.unique(pts[:, 0]))} distinct important values")
    gap_rand = result["random_best"] - result["optimum"]
    axes[2].hist(gap_rand, bins=30, color=COLORS["random"], alpha=0.8, label=f"random, {len(gap_rand)} seeds")
    axes[2].axvline(result["grid_best"] - result["optimum"], color=COLORS["grid"], lw=2, label="grid")
    axes[2].set(xlabel="simple regret (best error - optimum)", ylabel="seeds",
                title=f"best of {result['budget']} trials")
    axes[2].legend()
    fig.tight_layout()
    return fig


# --- the grid's cost -----------------------------------------------------------------------------

def grid_cost(dims: int, levels: int, seconds_per_trial: float = 30.0) -> dict:
    """Trials and hours of a full grid with `levels` values for each of `dims` parameters."""
    check_int(dims, "dims", "grid_cost", low=1)
    check_int(levels, "levels", "grid_cost", low=2)
    trials = levels ** dims
    return {"trials": trials, "hours": trials * seconds_per_trial / 3600}


def grid_cost_widget(seconds_per_trial: float = 30.0):
    """Sliders for parameters and levels; the plot shows levels^d on a log axis."""
    import ipywidgets as w

    dims = w.IntSlider(value=4, min=1, max=10, description="parameters", continuous_update=False)
    levels = w.IntSlider(value=3, min=2, max=10, description="levels", continuous_update=False)
    def draw():
        d = np.arange(1, 11)
        ax = _plt().subplots(figsize=(6, 3.2))[1]
        ax.semilogy(d, [grid_cost(int(k), levels.value)["trials"] for k in d], marker="o")
        now = grid_cost(dims.value, levels.value, seconds_per_trial)
        ax.semilogy([dims.value], [now["trials"]], "o", color="C3", ms=10)
        ax.set(xlabel="number of hyper-parameters d", ylabel="trials levels^d",
               title=f"{now['trials']:,} trials = {now['hours']:,.1f} h at {seconds_per_trial:.0f} s each")
        return now

    return panel([dims, levels], draw)


# --- Bayesian optimization step by step ------------------------------------------------------------

def toy_objective(x):
    """A 1-D validation-error curve for the step-through (two valleys, the right one deeper)."""
    x = np.asarray(x, float)
    return np.sin(3 * np.pi * x) * 0.4 + (x - 0.7) ** 2 + 0.5


def bo_step(X, y, acquisition: str = "ei", xi: float = 0.01, kappa: float = 1.96, seed: int = 0) -> dict:
    """Fit the GP to (X, y) on [0, 1] and score a fine grid: mean, sd, acquisition and the next point."""
    check_choice(acquisition, tuple(ACQUISITIONS), "acquisition", "bo_step")
    X, y = np.asarray(X, float).reshape(-1, 1), np.asarray(y, float)
    # with 3-5 points the likelihood prefers a length scale too short to teach anything: bound it
    gp = GaussianProcess(GPConfig(length_scale_bounds=(0.1, 10.0))).fit(X, y, np.random.default_rng(seed))
    grid = np.linspace(0, 1, 400)
    mean, std = gp.predict(grid[:, None])
    search = BayesSearch({"x": Uniform(0, 1)}, acquisition=acquisition, xi=xi, kappa=kappa)
    search._start()
    score = search.acquire(mean, std, y.min())
    return {"grid": grid, "mean": mean, "std": std, "score": score, "next": float(grid[np.argmax(score)]),
            "X": X[:, 0], "y": y, "acquisition": acquisition}


def plot_bo_step(state: dict, axes=None):
    """Upper: the truth, the GP mean +- 2 sd and the trials; lower: the acquisition and its maximum."""
    plt = _plt()
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(7, 4.6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    g = state["grid"]
    axes[0].plot(g, toy_objective(g), "k--", lw=1, label="true error (unknown)")
    axes[0].plot(g, state["mean"], color="C0", label="GP mean")
    axes[0].fill_between(g, state["mean"] - 2 * state["std"], state["mean"] + 2 * state["std"], color="C0",
                         alpha=0.2, label="mean +- 2 sd")
    axes[0].scatter(state["X"], state["y"], color="k", zorder=3, label="trials")
    axes[0].axvline(state["next"], color="C3", lw=1)
    axes[0].set_ylabel("validation error")
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[1].plot(g, state["score"], color="C3")
    axes[1].axvline(state["next"], color="C3", lw=1, label=f"next point x = {state['next']:.3f}")
    axes[1].set(xlabel="hyper-parameter x (unit range)", ylabel=state["acquisition"].upper())
    axes[1].legend(fontsize=8)
    return axes


def bo_stepper(n_start: int = 3, seed: int = 0):
    """Buttons and controls: each 'step' evaluates the proposed point and refits the GP."""
    import ipywidgets as w

    rng = np.random.default_rng(seed)
    state = {"X": list(rng.random(n_start))}
    state["y"] = [float(toy_objective(x)) for x in state["X"]]
    acq = w.Dropdown(options=["ei", "pi", "ucb"], value="ei", description="acquisition")
    xi = w.FloatSlider(value=0.01, min=0.0, max=0.3, step=0.01, description="xi", continuous_update=False)
    kappa = w.FloatSlider(value=1.96, min=0.0, max=5.0, step=0.1, description="kappa", continuous_update=False)
    step, reset = w.Button(description="step", icon="play"), w.Button(description="reset")

    def draw():
        state["last"] = bo_step(state["X"], state["y"], acq.value, xi.value, kappa.value, seed)
        plot_bo_step(state["last"])
        return state["last"]

    box = panel([acq, xi, kappa], draw, rows=[w.HBox([acq, step, reset]), w.HBox([xi, kappa])])

    def on_step(_=None):
        x = state["last"]["next"]
        state["X"].append(x)
        state["y"].append(float(toy_objective(x)))
        box.update()

    def on_reset(_=None):
        del state["X"][n_start:], state["y"][n_start:]
        box.update()

    step.on_click(on_step)
    reset.on_click(on_reset)
    box.step, box.reset, box.state = on_step, on_reset, state
    return box


# --- MNIST-1D tuning (cached) and a live run -------------------------------------------------------

def plot_tuning(tuning: dict, ax=None):
    """Best validation error so far against trials: median over seeds, band from min to max."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(6.5, 3.6))[1]
    for strategy in ("grid", "random", "bayes"):
        traces = np.array([r["trace"] for r in tuning["runs"] if r["strategy"] == strategy], dtype=float)
        t = np.arange(1, traces.shape[1] + 1)
        ax.plot(t, 100 * np.nanmedian(traces, 0), color=COLORS[strategy], label=f"{strategy} (median of {len(traces)})")
        ax.fill_between(t, 100 * np.nanmin(traces, 0), 100 * np.nanmax(traces, 0), color=COLORS[strategy], alpha=0.15)
    ax.set(xlabel="trials (networks trained)", ylabel="best validation error so far (%)",
           title="MLP on MNIST-1D: lr, weight decay, width, dropout")
    ax.legend()
    return ax


def tuning_table(tuning: dict):
    """Per strategy: best validation error and the test accuracy of the chosen values (mean +- sd)."""
    import pandas as pd

    rows = pd.DataFrame([{"strategy": r["strategy"], "seed": r["seed"], "best val error (%)": 100 * r["best_val_error"],
                          "test accuracy (%)": 100 * r["test_accuracy"]} for r in tuning["runs"]])
    return rows.groupby("strategy")[["best val error (%)", "test accuracy (%)"]].agg(["mean", "std"]).round(1)


def plot_refinement(history, x: str = "lr", y: str = "weight_decay", ax=None):
    """Grid trials coloured by refinement round, on log axes: coarse points first, finer ones later."""
    import pandas as pd

    plt = _plt()
    h = pd.DataFrame(history)
    ax = ax or plt.subplots(figsize=(5.5, 4))[1]
    sc = ax.scatter(h[x], h[y], c=h["iteration"], cmap="viridis", s=60 - 40 * h["iteration"] / max(h["iteration"].max(), 1))
    best = h.loc[h["value"].idxmin()]
    ax.scatter([best[x]], [best[y]], marker="*", s=250, color="C3", label="best")
    ax.set(xscale="log", yscale="log", xlabel=f"{x}", ylabel=f"{y}", title="grid search, coarse to fine")
    plt.colorbar(sc, ax=ax, label="refinement round")
    ax.legend()
    return ax


def plot_parallel(parallel: dict, ax=None):
    """Wall-clock time of the same search with 1 and 2 worker processes."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(4.5, 3))[1]
    workers = sorted(parallel["seconds"], key=int)
    seconds = [parallel["seconds"][k] for k in workers]
    ax.bar([str(k) for k in workers], seconds, color="C0")
    ax.set(xlabel="worker processes", ylabel="wall-clock time (s)",
           title=f"{parallel['trials']} trials: speed-up {seconds[0] / seconds[-1]:.2f}x")
    return ax


def run_live_tuning(strategy: str = "bayes", budget: int = 6, epochs: int = 2, seed: int = 0,
                    progress: bool = True):
    """Tune the MNIST-1D MLP live (validation error) with random or Bayesian search; returns the searcher."""
    from ..hpo.objective import MNIST1D_SPACE, TrainObjective

    check_choice(strategy, ("random", "bayes"), "strategy", "run_live_tuning")
    check_int(budget, "budget", "run_live_tuning", low=2)
    search = (RandomSearch(MNIST1D_SPACE, seed=seed) if strategy == "random" else
              BayesSearch(MNIST1D_SPACE, config=BayesConfig(n_initial=min(4, budget)), seed=seed))
    return search.optimize(TrainObjective(epochs=epochs, seed=seed), budget, progress=progress)


def live_tuning_button(**defaults):
    """A button that runs :func:`run_live_tuning` with a progress bar and shows the trials."""
    import ipywidgets as w
    from IPython.display import display

    strategy = w.Dropdown(options=["bayes", "random"], value=defaults.pop("strategy", "bayes"), description="strategy")
    budget = w.IntSlider(value=defaults.pop("budget", 8), min=2, max=30, description="trials", continuous_update=False)
    def run():
        search = run_live_tuning(strategy.value, budget.value, **defaults)
        display(search.history_.round(4))
        print(f"best validation error {search.best_value_:.3f} with {search.best_params_}")
        return search

    return button("tune live", run, controls=[strategy, budget])


def dashboard(**kwargs):
    """One widget for HPO: grid cost, the BO step-through and the cached MNIST-1D tuning."""
    pages = {"grid cost": grid_cost_widget(), "BO step by step": bo_stepper()}
    if (DATA / "mnist1d_tuning.json").exists():
        pages["MNIST-1D tuning"] = figure(plot_tuning, load("mnist1d_tuning"))
    return tabs(pages)
