"""Plots and widgets for notebook 06 (NEAT): fitness curves, species as a stacked area, the champion's
network as a graph, decision boundaries scrubbed through the generations, ablations, live evolution.

Every widget callback is a thin shell over a plain function here (``plot_*``, :func:`evolve`), and
heavy runs are read from ``data/neat/`` (written by ``scripts/precompute_neat.py``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from labkit import cache
from labkit.nas.neat import NEAT, FeedForwardNetwork, Genome, NEATConfig, tasks
from labkit.nas.neat.phenotype import _depths
from labkit.widgets import button, figure, panel, tabs

NEAT_DIR = cache.DATA_DIR / "neat"


def load_run(name: str) -> dict:
    """A precomputed run: ``{"config": {...}, "task": {...}, "history": [...], "champions": [genome dicts]}``."""
    record = cache.load_json(NEAT_DIR / f"{name}.json")
    record["config"] = NEATConfig(**record["config"])
    record["champions"] = [Genome.from_dict(g) for g in record["champions"]]
    return record


def run_record(neat: NEAT, task_name: str, **task_kwargs) -> dict:
    """What :func:`load_run` reads back, from a finished :class:`NEAT` run on ``tasks.make(task_name,
    **task_kwargs)`` (for caching with ``cache.save_json``)."""
    from dataclasses import asdict
    return {"config": asdict(neat.config_), "task": {"name": task_name, "kwargs": task_kwargs},
            "history": neat.history_, "champions": [g.to_dict() for g in neat.champions_]}


def plot_fitness(history: list[dict], ax=None, label: str = ""):
    """Best and mean fitness per generation."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    gens = [h["generation"] for h in history]
    ax.plot(gens, [h["best_fitness"] for h in history], label=f"{label}best".strip())
    ax.plot(gens, [h["mean_fitness"] for h in history], "--", label=f"{label}mean".strip())
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (XOR: (4 - sum|error|)^2, max 16)")
    ax.legend()
    return ax


def plot_species(history: list[dict], ax=None):
    """Species sizes per generation as a stacked area chart (one colour band per species)."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    keys = sorted({int(k) for h in history for k in h["species_sizes"]})
    sizes = np.array([[h["species_sizes"].get(k, h["species_sizes"].get(str(k), 0)) for h in history]
                      for k in keys])                                   # (species, generations)
    ax.stackplot([h["generation"] for h in history], sizes, linewidth=0.3, edgecolor="white")
    ax.set_xlabel("generation")
    ax.set_ylabel("genomes per species (count)")
    ax.set_title(f"{len(keys)} species over the run")
    return ax


def draw_genome(genome: Genome, config: NEATConfig, ax=None):
    """The phenotype as a layered graph: blue positive, red negative weights, width ~ |w|; disabled genes
    are left out. Node labels: x1, x2, ..., b (bias), out, hidden ids."""
    import networkx as nx
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    links = [c for c in genome.connections.values() if c.enabled]
    depth = _depths(genome, links)
    outputs = [n for n, k in genome.nodes.items() if k == "output"]
    top = max(depth.values())
    for n in outputs:
        depth[n] = top                                      # outputs on the right
    graph = nx.DiGraph()
    for n in genome.nodes:
        graph.add_node(n, layer=depth[n])
    for c in links:
        graph.add_edge(c.src, c.dst, weight=c.weight)
    pos = nx.multipartite_layout(graph, subset_key="layer")
    labels = {n: (f"x{n + 1}" if k == "input" else "b" if k == "bias" else "out" if k == "output" else str(n))
              for n, k in genome.nodes.items()}
    colors = ["tab:blue" if graph.edges[e]["weight"] > 0 else "tab:red" for e in graph.edges]
    widths = [0.5 + min(abs(graph.edges[e]["weight"]), 8) / 2 for e in graph.edges]
    nx.draw_networkx(graph, pos, ax=ax, labels=labels, node_color="lightgrey", node_size=500,
                     edge_color=colors, width=widths, arrowsize=12, font_size=9)
    ax.set_title(f"{genome.num_hidden} hidden nodes, {len(links)} enabled links")
    ax.axis("off")
    return ax


def plot_boundary(genome: Genome, config: NEATConfig, task: tasks.Task, ax=None, resolution: int = 80):
    """The network's output over the input plane, with the task's points on top."""
    ax = ax or plt.subplots(figsize=(3.6, 3.4))[1]
    lo, hi = task.X.min(0) - 0.2, task.X.max(0) + 0.2
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)                   # (resolution^2, 2)
    out = FeedForwardNetwork(genome, config)(grid)[:, 0].reshape(gx.shape)
    ax.contourf(gx, gy, out, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
    ax.contour(gx, gy, out, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(task.X[:, 0], task.X[:, 1], c=task.y, cmap="RdBu_r", edgecolors="k", s=14)
    acc = task.accuracy(FeedForwardNetwork(genome, config)(task.X))
    ax.set_title(f"accuracy {acc:.0%}, {genome.num_hidden} hidden")
    ax.set_xlabel("x1 (input units)")
    ax.set_ylabel("x2 (input units)")
    return ax


def plot_ablation(results: dict, ax=None):
    """Generations to solve XOR per variant over seeds (unsolved runs drawn at the cap, as crosses)."""
    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    cap = results["max_generations"]
    for i, (name, runs) in enumerate(results["variants"].items()):
        gens = np.array([r["generations"] if r["solved"] else cap for r in runs], dtype=float)
        solved = np.array([r["solved"] for r in runs])
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(runs))
        ax.scatter(i + jitter[solved], gens[solved], s=14, alpha=0.7)
        ax.scatter(i + jitter[~solved], gens[~solved], marker="x", color="k", s=20)
        ax.text(i, cap * 1.04, f"{solved.sum()}/{len(runs)} solved", ha="center", fontsize=8)
        if solved.any():
            ax.hlines(np.median(gens), i - 0.3, i + 0.3, color="k")
    ax.set_xticks(range(len(results["variants"])), list(results["variants"]), fontsize=8)
    ax.set_ylabel("generations to solve XOR (count)")
    ax.set_ylim(0, cap * 1.12)
    return ax


def evolve(task_name: str = "xor", generations: int = 100, seed: int = 0, population_size: int = 150,
           progress: bool = True) -> NEAT:
    """Run NEAT live (the button's work, callable on its own): the paper's settings on ``task_name``."""
    task = tasks.make(task_name)
    return NEAT(NEATConfig(population_size=population_size), seed=seed).run(
        task, max_generations=generations, progress=progress)


def boundary_scrubber(record: dict):
    """A slider over generations redrawing the champion's decision boundary and network."""
    import ipywidgets as W
    champions, config = record["champions"], record["config"]
    task = tasks.make(record["task"]["name"], **record["task"].get("kwargs", {}))
    slider = W.IntSlider(value=len(champions), min=1, max=len(champions), description="generation",
                         continuous_update=False)

    def draw():
        champion = champions[slider.value - 1]
        a, b = plt.subplots(1, 2, figsize=(8, 3.4))[1]
        plot_boundary(champion, config, task, ax=a)
        draw_genome(champion, config, ax=b)
        return champion

    return panel([slider], draw, rows=[slider])


def evolve_button(task_name: str = "xor", generations: int = 100):
    """A button that evolves live with a progress bar and then draws fitness, species and champion."""
    import ipywidgets as W
    seed = W.IntText(value=0, description="seed")

    def run():
        neat = evolve(task_name, generations, seed.value)
        axes = plt.subplots(1, 3, figsize=(12, 3.2))[1]
        plot_fitness(neat.history_, ax=axes[0])
        plot_species(neat.history_, ax=axes[1])
        draw_genome(neat.best_genome_, neat.config_, ax=axes[2])
        return neat

    return button(f"Evolve {task_name}", run, controls=[seed])


def dashboard(**kwargs):
    """NEAT in one widget: live XOR evolution, spirals through the generations, the ablations."""
    pages = {"Evolve XOR": evolve_button("xor", **kwargs)}
    if (NEAT_DIR / "spirals.json").exists():
        pages["Spirals by generation"] = boundary_scrubber(load_run("spirals"))
    if (NEAT_DIR / "ablation.json").exists():
        pages["Ablations"] = figure(plot_ablation, cache.load_json(NEAT_DIR / "ablation.json"))
    return tabs(pages)
