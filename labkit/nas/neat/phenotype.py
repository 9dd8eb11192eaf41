"""From genome to network: a batched feed-forward phenotype (numpy) and its export to PyTorch.

Concept: the genome only lists genes; to score it NEAT decodes it into a network. The enabled links
form a directed acyclic graph; taken in topological order, each node computes, for a whole batch
of inputs at once (the four XOR rows, a grid for a decision boundary)::

    a_j = f(sum_i w_ij a_i),    f(z) = 1 / (1 + exp(-4.9 z)) for the paper's sigmoid

:func:`to_torch` groups the nodes into layers by depth (inputs and the bias at 0, a node one deeper
than its deepest source) and builds one masked matrix product per layer, as an ``nn.Module`` whose
weights are trainable and whose missing links stay zero, so an evolved network can be fine-tuned
with backprop and written back with :meth:`NEATModule.to_genome`. Used by notebook 06.

Extension point: ``ACTIVATIONS[name] = f(z, xp)`` with ``xp`` the ``numpy`` or ``torch`` module.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from labkit.nas.neat.config import NEATConfig
from labkit.nas.neat.genome import ConnectionGene, Genome

ACTIVATIONS = {
    "sigmoid": lambda z, xp: 1.0 / (1.0 + xp.exp(-z)),      # z already multiplied by the slope 4.9
    "tanh": lambda z, xp: xp.tanh(z),
    "relu": lambda z, xp: z * (z > 0),
    "identity": lambda z, xp: z,
    "sin": lambda z, xp: xp.sin(z),
    "gauss": lambda z, xp: xp.exp(-z * z),
}


class FeedForwardNetwork:
    """The phenotype of a genome, evaluated on a batch with numpy.

    >>> from labkit.nas.neat.genome import ConnectionGene
    >>> g = Genome({0: "input", 1: "input", 2: "bias", 3: "output"},
    ...            {0: ConnectionGene(0, 0, 3, 1.0), 1: ConnectionGene(1, 1, 3, 1.0)})
    >>> net = FeedForwardNetwork(g, NEATConfig())
    >>> net(np.array([[0.0, 0.0], [1.0, 1.0]])).round(3).tolist()
    [[0.5], [1.0]]
    """

    def __init__(self, genome: Genome, config: NEATConfig):
        self.num_inputs = config.num_inputs
        self.slope = config.sigmoid_slope
        links = [c for c in genome.connections.values() if c.enabled]
        depth = _depths(genome, links)
        first = config.num_inputs + 1                               # inputs and bias: ids below this
        act = {n: (config.output_activation if k == "output" else config.activation)
               for n, k in genome.nodes.items() if n >= first}
        # column order: inputs, bias, then the other nodes by depth (a topological order)
        self.order = list(range(first)) + sorted(act, key=lambda n: (depth[n], act[n], n))
        self.depth = [depth[n] for n in self.order]
        self.activations = [None] * first + [act[n] for n in self.order[first:]]
        column = {n: i for i, n in enumerate(self.order)}
        sources: dict[int, list] = {j: [] for j in range(first, len(self.order))}
        weights: dict[int, list] = {j: [] for j in range(first, len(self.order))}
        for c in links:
            sources[column[c.dst]].append(column[c.src])
            weights[column[c.dst]].append(c.weight)
        # one step per node: a_j = f(sum_i w_ij a_i), over the whole batch at once
        self.steps = [(j, np.array(sources[j], dtype=np.intp), np.array(weights[j]), self.activations[j])
                      for j in range(first, len(self.order))]
        self.outputs = [column[n] for n in sorted(n for n, k in genome.nodes.items() if k == "output")]
        self.links = [(column[c.src], column[c.dst], c.weight, c.innovation) for c in links]

    def activate(self, z, name: str, xp):
        if name == "sigmoid":
            z = self.slope * z
        return ACTIVATIONS[name](z, xp)

    def __call__(self, X) -> np.ndarray:
        """Outputs for a batch: X (batch, num_inputs) -> (batch, num_outputs)."""
        X = np.asarray(X, dtype=np.float64)
        values = np.empty((X.shape[0], len(self.order)))           # (batch, nodes)
        values[:, :self.num_inputs] = X
        values[:, self.num_inputs] = 1.0                            # bias input
        with np.errstate(over="ignore"):
            for j, sources, weights, name in self.steps:
                values[:, j] = self.activate(values[:, sources] @ weights, name, np)   # (batch,)
        return values[:, self.outputs]

    def layers(self) -> list[tuple]:
        """Nodes grouped by depth, for the PyTorch export: (start column, end column,
        [(activation, start, end) runs inside the layer], W (start, end - start), mask)."""
        out, start = [], self.num_inputs + 1
        while start < len(self.order):
            end = start
            while end < len(self.order) and self.depth[end] == self.depth[start]:
                end += 1
            runs, r0 = [], start
            for i in range(start + 1, end + 1):
                if i == end or self.activations[i] != self.activations[r0]:
                    runs.append((self.activations[r0], r0 - start, i - start))
                    r0 = i
            w = np.zeros((start, end - start))                      # (columns before, layer width)
            mask = np.zeros((start, end - start), dtype=bool)       # which entries are genes
            for src, dst, weight, _ in self.links:
                if start <= dst < end:
                    w[src, dst - start], mask[src, dst - start] = weight, True
            out.append((start, end, runs, w, mask))
            start = end
        return out


def _depths(genome: Genome, links) -> dict[int, int]:
    """Longest-path depth of every node over the enabled links (inputs and bias 0, others at least 1)."""
    waiting = {n: 0 for n in genome.nodes}                          # unprocessed incoming links
    targets: dict[int, list[int]] = {n: [] for n in genome.nodes}
    for c in links:
        targets[c.src].append(c.dst)
        waiting[c.dst] += 1
    depth = {n: 0 if kind in ("input", "bias") else 1 for n, kind in genome.nodes.items()}
    ready = [n for n, k in waiting.items() if k == 0]
    while ready:                                                    # Kahn's topological order
        n = ready.pop()
        for m in targets[n]:
            depth[m] = max(depth[m], depth[n] + 1)
            waiting[m] -= 1
            if waiting[m] == 0:
                ready.append(m)
    return depth


class NEATModule(nn.Module):
    """The phenotype as a PyTorch module: one masked dense layer per depth, trainable weights.

    >>> cfg = NEATConfig()
    >>> from labkit.nas.neat.genome import ConnectionGene
    >>> g = Genome({0: "input", 1: "input", 2: "bias", 3: "output"}, {0: ConnectionGene(0, 0, 3, 1.0)})
    >>> to_torch(g, cfg)(torch.tensor([[1.0, 0.0]])).shape
    torch.Size([1, 1])
    """

    def __init__(self, net: FeedForwardNetwork, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.net = net
        layers = net.layers()
        self.layers = [(start, end, runs) for start, end, runs, _, _ in layers]
        self.weights = nn.ParameterList()
        for i, (start, end, runs, w, mask) in enumerate(layers):
            self.weights.append(nn.Parameter(torch.tensor(w, dtype=dtype)))
            self.register_buffer(f"mask{i}", torch.tensor(mask, dtype=dtype))
        self.register_buffer("output_columns", torch.tensor(net.outputs, dtype=torch.long))

    def forward(self, x):                                           # x (batch, num_inputs)
        cols = [x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)]
        for i, (start, end, runs) in enumerate(self.layers):
            values = torch.cat(cols, dim=1)                         # (batch, start)
            z = values @ (self.weights[i] * getattr(self, f"mask{i}"))   # (batch, layer width)
            cols.append(torch.cat([self.net.activate(z[:, a:b], name, torch) for name, a, b in runs], dim=1))
        return torch.cat(cols, dim=1)[:, self.output_columns]     # (batch, num_outputs)

    def to_genome(self, genome: Genome) -> Genome:
        """A copy of ``genome`` carrying this module's (fine-tuned) weights."""
        child = genome.copy()
        for src, dst, _, innovation in self.net.links:
            for i, (start, end, _) in enumerate(self.layers):
                if start <= dst < end:
                    child.connections[innovation].weight = float(self.weights[i][src, dst - start].detach())
        return child


def to_torch(genome: Genome, config: NEATConfig, dtype: torch.dtype = torch.float32) -> NEATModule:
    """Export a genome as a trainable ``nn.Module`` with the same outputs as its phenotype
    (to rounding in float32, to the last bit or so in float64)."""
    return NEATModule(FeedForwardNetwork(genome, config), dtype)


def fine_tune(genome: Genome, config: NEATConfig, X, y, *, steps: int = 300, lr: float = 0.05,
              seed: int = 0) -> tuple[Genome, list[float]]:
    """Backprop on an evolved network's weights (its topology fixed): binary cross-entropy, Adam.

    Returns the genome with the tuned weights and the loss per step.

    >>> from labkit.nas.neat import tasks
    >>> cfg, t = NEATConfig(), tasks.xor()
    >>> g = Genome({0: "input", 1: "input", 2: "bias", 3: "output"}, {0: ConnectionGene(0, 0, 3, 0.1)})
    >>> tuned, losses = fine_tune(g, cfg, t.X, t.y, steps=5)
    >>> len(losses)
    5
    """
    from labkit.errors import check_int, check_positive
    check_int(steps, "steps", "fine_tune", low=1)
    check_positive(lr, "lr", "fine_tune")
    torch.manual_seed(seed)
    module = to_torch(genome, config)
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)            # (n, num_inputs)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float32).reshape(-1)  # (n,)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        p = module(X)[:, 0].clamp(1e-6, 1 - 1e-6)                     # P(class 1)
        loss = nn.functional.binary_cross_entropy(p, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return module.to_genome(genome), losses
