"""Pictures of architectures: a cell as a DAG, a chain as a row of layers (notebook 05).

A cell is drawn as NAS-Bench-201 draws it: nodes 0 .. n-1 left to right (0 = the cell's input, the last
= its output), one arrow per edge coloured by its operation; 'none' edges are left out.
"""
from __future__ import annotations

import networkx as nx

OP_COLOURS = {"skip": "#7f7f7f", "conv1": "#1f77b4", "conv3": "#d62728", "avgpool3": "#2ca02c", "none": "#dddddd"}


def cell_graph(space, arch) -> nx.MultiDiGraph:
    """The cell as a graph: nodes are states, each edge carries ``op``.

    >>> from labkit.nas.space import CellSpace
    >>> cell_graph(CellSpace(), ("conv3",) * 6).number_of_edges()
    6
    """
    arch = space.validate(arch)
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(space.nodes))
    for (i, j), op in zip(space.edges(), arch):
        if op != "none":
            g.add_edge(i, j, op=op)
    return g


def draw_cell(space, arch, ax=None, title: str | None = None):
    """Draw a cell on ``ax`` (a new figure if None); returns the axes."""
    import matplotlib.pyplot as plt

    g = cell_graph(space, arch)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 2.6))
    n = space.nodes
    pos = {k: (k, 0.0) for k in range(n)}
    for i, j, data in g.edges(data=True):
        rad = 0.0 if j == i + 1 else 0.35 + 0.15 * (j - i - 2)   # longer jumps arc higher
        ax.annotate("", xy=pos[j], xytext=pos[i],
                    arrowprops=dict(arrowstyle="-|>", color=OP_COLOURS.get(data["op"], "k"), lw=2,
                                    shrinkA=12, shrinkB=12, connectionstyle=f"arc3,rad={-rad}"))
        mid = ((i + j) / 2, 0.0 if j == i + 1 else 0.16 + 0.11 * (j - i - 1))
        ax.text(*mid, data["op"], ha="center", va="bottom", fontsize=8, color=OP_COLOURS.get(data["op"], "k"))
    for k in range(n):
        label = "in" if k == 0 else ("out" if k == n - 1 else str(k))
        ax.scatter(*pos[k], s=500, color="white", edgecolor="black", zorder=3)
        ax.text(*pos[k], label, ha="center", va="center", zorder=4, fontsize=9)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(-0.3, 0.7)
    ax.axis("off")
    ax.set_title(title or space.to_string(arch), fontsize=8)
    return ax


def draw_chain(space, arch, ax=None, title: str | None = None):
    """Draw a chain: input, one box per layer (operation and width), the linear head."""
    import matplotlib.pyplot as plt

    arch = space.validate(arch)
    labels = ["input\n(1 x 40)"] + [f"{op}\n{w} ch" for op, w in arch] + ["linear\n10 classes"]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * len(labels), 1.4))
    for k, text in enumerate(labels):
        ax.text(k, 0, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="#e8f0fe" if 0 < k < len(labels) - 1 else "white", ec="black"))
        if k:
            ax.annotate("", xy=(k - 0.42, 0), xytext=(k - 0.58, 0), arrowprops=dict(arrowstyle="-|>"))
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(-0.6, 0.6)
    ax.axis("off")
    ax.set_title(title or space.to_string(arch), fontsize=8)
    return ax
