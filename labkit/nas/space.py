"""Search spaces: which networks a NAS method may choose from (lecture 6, "Пространство поиска").

Two families from the lecture's slide:

* **Chain-structured networks** (:class:`ChainSpace`): ``layer_1 -> layer_2 -> ... -> head``; an
  architecture picks the number of layers ``L`` and, for every layer, an operation and a width.
  The space holds ``sum_L (|ops| * |widths|)^L`` networks.
* **Cell-based networks** (:class:`CellSpace`, NAS-Bench-201's design, Dong & Yang 2020): one small
  DAG cell is searched and the network stacks copies of it. Node ``j`` of the cell sums an operation
  applied to every earlier node:

      x_j = sum_{i < j} o_(i,j)(x_i),     o_(i,j) in {none, skip, conv1, conv3, ...}

  With 4 nodes the cell has 6 edges, so ``|ops|^6`` cells (729 for three operations). Many cells
  compute the same function (an edge off every input-to-output path does nothing; the order of the
  two inner nodes does not matter): :meth:`CellSpace.canonical` names the distinct ones.

An architecture is a plain tuple: of ``(op, width)`` pairs for a chain, of op names (one per edge,
in :meth:`CellSpace.edges` order) for a cell. Both spaces sample, mutate, encode as a one-hot vector
(for Bayesian optimization and REINFORCE), build a PyTorch model that takes MNIST-1D's ``(n, 40)``
inputs, and count its parameters and MACs. New operations are one call to :func:`register_op`.
Used by notebook 05 and by ``scripts/build_nas_table.py``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import check_int, check_type, fail

# --- operations (the extension point) --------------------------------------------------------------

OpFactory = Callable[[int], nn.Module]  # channels -> module mapping (batch, C, length) to the same shape
OPS: dict[str, OpFactory] = {}


def register_op(name: str, factory: OpFactory) -> None:
    """Make ``name`` available to cell spaces: ``factory(channels)`` returns a shape-keeping module.

    >>> register_op("conv5", lambda c: conv_bn_relu(c, c, 5))
    >>> "conv5" in OPS
    True
    """
    check_type(name, str, "name", "register_op", "a str")
    if not callable(factory):
        raise fail("factory", "register_op", "a callable channels -> nn.Module", factory)
    OPS[name] = factory


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """ReLU -> Conv1d -> BatchNorm, NAS-Bench-201's convolution block (length kept when stride is 1)."""
    return nn.Sequential(nn.ReLU(), nn.Conv1d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm1d(c_out))


register_op("none", lambda c: Zero())
register_op("skip", lambda c: nn.Identity())
register_op("conv1", lambda c: conv_bn_relu(c, c, 1))
register_op("conv3", lambda c: conv_bn_relu(c, c, 3))
register_op("avgpool3", lambda c: nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False))


class Zero(nn.Module):
    """The 'none' operation: the edge is absent."""

    def forward(self, x):
        return torch.zeros_like(x)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# --- cell-based space ------------------------------------------------------------------------------

class Cell(nn.Module):
    """One DAG cell: ``x_j = sum_{i<j} o_(i,j)(x_i)``; the last node is the output."""

    def __init__(self, arch: tuple[str, ...], edges: list[tuple[int, int]], nodes: int, channels: int):
        super().__init__()
        self.arch, self.edges, self.nodes = arch, edges, nodes
        # 'none' edges get no module at all, so they cost nothing and hold no parameters
        self.ops = nn.ModuleDict({f"{i}_{j}": OPS[op](channels) for (i, j), op in zip(edges, arch) if op != "none"})

    def forward(self, x):  # x: (batch, C, length)
        states = [x] + [None] * (self.nodes - 1)
        for i, j in self.edges:
            key = f"{i}_{j}"
            if key in self.ops and states[i] is not None:
                out = self.ops[key](states[i])
                states[j] = out if states[j] is None else states[j] + out
        return states[-1] if states[-1] is not None else torch.zeros_like(x)


@dataclass(frozen=True)
class CellSpace:
    """Networks built from one searched cell: stem -> [cell -> maxpool(2)] x stages -> linear.

    The defaults are the lab's tabular benchmark (``labkit.nas.tabular``): 3 operations on the 6
    edges of a 4-node cell, 8 channels, a strided stem and two stages on MNIST-1D
    (length 40 -> 20 -> 10 -> 5).

    >>> space = CellSpace()
    >>> space.size
    729
    >>> arch = space.sample(seed=0)
    >>> space.build(arch)(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """

    ops: tuple[str, ...] = ("skip", "conv1", "conv3")
    nodes: int = 4                # input node, two inner nodes, output node (NAS-Bench-201)
    channels: int = 8
    stages: int = 2               # cells stacked, each followed by max-pooling that halves the length
    stem_stride: int = 2          # the stem convolution halves the length first (cheaper cells)
    input_length: int = 40        # MNIST-1D
    num_classes: int = 10

    def __post_init__(self):
        owner = "CellSpace"
        check_int(self.nodes, "nodes", owner, low=2, high=8)
        check_int(self.channels, "channels", owner, low=1)
        check_int(self.stages, "stages", owner, low=1)
        check_int(self.stem_stride, "stem_stride", owner, low=1, high=2)
        check_int(self.input_length, "input_length", owner, low=self.stem_stride * 2 ** self.stages)
        check_int(self.num_classes, "num_classes", owner, low=2)
        if not isinstance(self.ops, tuple) or len(self.ops) < 2 or len(set(self.ops)) != len(self.ops):
            raise fail("ops", owner, "a tuple of at least two distinct operation names", self.ops)
        for op in self.ops:
            if op not in OPS:
                raise fail("ops", owner, f"names registered in labkit.nas.space.OPS ({', '.join(OPS)})", op)

    # the encoding
    def edges(self) -> list[tuple[int, int]]:
        """Edges ``(i, j)``, ``i < j``, grouped by target node: (0,1), (0,2), (1,2), (0,3), ..."""
        return [(i, j) for j in range(1, self.nodes) for i in range(j)]

    @property
    def size(self) -> int:
        """Number of cells, ``|ops| ** |edges|``."""
        return len(self.ops) ** len(self.edges())

    def validate(self, arch) -> tuple[str, ...]:
        """Return ``arch`` as a tuple, or raise ParameterError if it is not a cell of this space."""
        n = len(self.edges())
        if not isinstance(arch, (tuple, list)) or len(arch) != n:
            raise fail("arch", "CellSpace", f"a tuple of {n} operation names, one per edge", arch)
        for op in arch:
            if op not in self.ops:
                raise fail("arch", "CellSpace", f"operations from {self.ops}", op)
        return tuple(arch)

    def index(self, arch) -> int:
        """Position of ``arch`` in :meth:`all` (its digits in base ``|ops|``)."""
        idx = 0
        for op in self.validate(arch):
            idx = idx * len(self.ops) + self.ops.index(op)
        return idx

    def arch_at(self, index: int) -> tuple[str, ...]:
        """The cell at position ``index`` (inverse of :meth:`index`)."""
        check_int(index, "index", "CellSpace.arch_at", low=0, high=self.size - 1)
        digits = []
        for _ in self.edges():
            index, d = divmod(index, len(self.ops))
            digits.append(self.ops[d])
        return tuple(reversed(digits))

    def all(self):
        """Every cell of the space, in index order."""
        return itertools.product(self.ops, repeat=len(self.edges()))

    def encode(self, arch) -> np.ndarray:
        """One-hot vector ``(|edges| * |ops|,)``: the input of surrogate models and controllers."""
        arch = self.validate(arch)
        x = np.zeros((len(arch), len(self.ops)), dtype=np.float32)
        x[np.arange(len(arch)), [self.ops.index(op) for op in arch]] = 1.0
        return x.ravel()

    def decode(self, vector) -> tuple[str, ...]:
        """The cell of a one-hot (or score) vector: the arg-max operation of every edge."""
        v = np.asarray(vector, dtype=float)
        n = len(self.edges()) * len(self.ops)
        if v.shape != (n,):
            raise fail("vector", "CellSpace.decode", f"an array of shape ({n},)", v.shape)
        return tuple(self.ops[k] for k in v.reshape(len(self.edges()), len(self.ops)).argmax(1))

    # search moves
    def sample(self, seed=None) -> tuple[str, ...]:
        """A uniformly random cell; ``seed`` is an int or a ``numpy.random.Generator``."""
        rng = _rng(seed)
        return tuple(self.ops[k] for k in rng.integers(len(self.ops), size=len(self.edges())))

    def mutate(self, arch, seed=None) -> tuple[str, ...]:
        """Real et al. (2019)'s op mutation: one random edge gets a different operation."""
        arch, rng = list(self.validate(arch)), _rng(seed)
        e = int(rng.integers(len(arch)))
        arch[e] = self.ops[int(rng.choice([k for k, op in enumerate(self.ops) if op != arch[e]]))]
        return tuple(arch)

    def neighbours(self, arch) -> list[tuple[str, ...]]:
        """All cells one mutation away (``|edges| * (|ops| - 1)`` of them)."""
        arch = self.validate(arch)
        return [arch[:e] + (op,) + arch[e + 1:] for e in range(len(arch)) for op in self.ops if op != arch[e]]

    # what a cell computes
    def prune(self, arch) -> tuple[str, ...]:
        """Set to 'none' every edge that lies on no input-to-output path (it cannot change the output)."""
        arch = self.validate(arch)
        edges = [(i, j) for (i, j), op in zip(self.edges(), arch) if op != "none"]
        reach_in, reach_out = {0}, {self.nodes - 1}
        for i, j in edges:  # edges are sorted by target node, so one forward pass suffices
            if i in reach_in:
                reach_in.add(j)
        for i, j in sorted(edges, key=lambda e: -e[0]):
            if j in reach_out:
                reach_out.add(i)
        return tuple(op if i in reach_in and j in reach_out else "none" for (i, j), op in zip(self.edges(), arch))

    def canonical(self, arch) -> str:
        """A name shared by cells that compute the same function with the same parameters.

        Sums are flattened through 'skip' edges and sorted, so the two inner nodes can swap; the
        parameter count separates a shared convolution counted twice from two separate ones.
        """
        arch = self.prune(arch)
        terms = {0: ["x"]}
        for j in range(1, self.nodes):
            node = []
            for (i, jj), op in zip(self.edges(), arch):
                if jj != j or op == "none" or not terms[i]:
                    continue
                node += terms[i] if op == "skip" else [f"{op}({'+'.join(terms[i])})"]
            terms[j] = sorted(node)
        return f"{'+'.join(terms[self.nodes - 1]) or 'zero'}#{self.count_params(arch)}"

    def is_connected(self, arch) -> bool:
        """Whether the output depends on the input at all."""
        return any(op != "none" for op in self.prune(arch))

    def build(self, arch) -> nn.Module:
        """The network ``(n, input_length) -> (n, num_classes)`` for ``arch``; seed with torch.manual_seed."""
        arch = self.validate(arch)
        c, length = self.channels, self.input_length
        layers: list[nn.Module] = [nn.Unflatten(1, (1, length)),  # (n, 40) -> (n, 1, 40)
                                   nn.Conv1d(1, c, 3, self.stem_stride, padding=1, bias=False), nn.BatchNorm1d(c)]
        length = (length + self.stem_stride - 1) // self.stem_stride  # (n, C, 20)
        for _ in range(self.stages):
            layers += [Cell(arch, self.edges(), self.nodes, c), nn.MaxPool1d(2)]
            length //= 2
        layers += [nn.Flatten(), nn.Linear(c * length, self.num_classes)]  # (n, C * L) -> (n, classes)
        return nn.Sequential(*layers)

    def count_params(self, arch) -> int:
        """Trainable parameters of :meth:`build` (arithmetic, no model is built).

        >>> space = CellSpace()
        >>> arch = space.sample(1)
        >>> space.count_params(arch) == sum(p.numel() for p in space.build(arch).parameters())
        True
        """
        arch, c = self.validate(arch), self.channels
        if any(op not in ("none", "skip", "avgpool3") and not (op.startswith("conv") and op[4:].isdigit())
               for op in arch):  # an operation registered by the user: count on the built model
            return sum(p.numel() for p in self.build(arch).parameters())
        per_cell = sum(c * c * int(op[4:]) + 2 * c for op in arch if op.startswith("conv"))  # conv + BN
        length = (self.input_length + self.stem_stride - 1) // self.stem_stride // 2 ** self.stages
        return 3 * c + 2 * c + self.stages * per_cell + c * length * self.num_classes + self.num_classes

    def count_macs(self, arch) -> int:
        """Multiply-accumulates of one forward pass of one sample (``labkit.metrics`` conventions)."""
        from .. import metrics

        return metrics.count_macs(self.build(arch), (self.input_length,))

    def to_string(self, arch) -> str:
        """NAS-Bench-201's notation: ``|op~i|`` per edge, nodes separated by ``+``."""
        arch = self.validate(arch)
        groups = [[] for _ in range(self.nodes - 1)]
        for (i, j), op in zip(self.edges(), arch):
            groups[j - 1].append(f"|{op}~{i}|")
        return "+".join("".join(g) for g in groups)


# --- chain-structured space ------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainSpace:
    """Chain-structured 1-D CNNs: ``L`` layers, each an operation and a width, then a linear head.

    Operations: ``conv3``/``conv5``/``conv7`` keep the length, the ``s2`` variants halve it.

    >>> space = ChainSpace()
    >>> arch = (("conv5s2", 32), ("conv3", 16))
    >>> space.build(arch)(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """

    ops: tuple[str, ...] = ("conv3", "conv5", "conv7", "conv3s2", "conv5s2")
    widths: tuple[int, ...] = (8, 16, 32, 64)
    depths: tuple[int, ...] = (1, 2, 3, 4)
    input_length: int = 40
    num_classes: int = 10

    def __post_init__(self):
        owner = "ChainSpace"
        for op in self.ops:
            if _chain_op(op) is None:
                raise fail("ops", owner, "names conv<k> or conv<k>s2 with an odd kernel k", op)
        for name in ("widths", "depths"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                                                  for v in values):
                raise fail(name, owner, "a non-empty tuple of positive ints", values)
        check_int(self.input_length, "input_length", owner, low=1)
        check_int(self.num_classes, "num_classes", owner, low=2)

    @property
    def size(self) -> int:
        """Number of chains: ``sum_L (|ops| * |widths|) ** L``."""
        return sum((len(self.ops) * len(self.widths)) ** d for d in self.depths)

    def validate(self, arch) -> tuple[tuple[str, int], ...]:
        """Return ``arch`` as a tuple of ``(op, width)`` pairs, or raise ParameterError."""
        accepts = f"a tuple of (op, width) pairs, {min(self.depths)} to {max(self.depths)} of them"
        if not isinstance(arch, (tuple, list)) or len(arch) not in self.depths:
            raise fail("arch", "ChainSpace", accepts, arch)
        for layer in arch:
            if not isinstance(layer, (tuple, list)) or len(layer) != 2:
                raise fail("arch", "ChainSpace", accepts, arch)
            if layer[0] not in self.ops:
                raise fail("arch", "ChainSpace", f"operations from {self.ops}", layer[0])
            if layer[1] not in self.widths:
                raise fail("arch", "ChainSpace", f"widths from {self.widths}", layer[1])
        return tuple((str(op), int(w)) for op, w in arch)

    def sample(self, seed=None) -> tuple[tuple[str, int], ...]:
        """A random chain: depth, then every layer's operation and width, uniformly."""
        rng = _rng(seed)
        depth = int(rng.choice(self.depths))
        return tuple((self.ops[int(rng.integers(len(self.ops)))], int(rng.choice(self.widths))) for _ in range(depth))

    def mutate(self, arch, seed=None) -> tuple[tuple[str, int], ...]:
        """Change one thing: a layer's operation or width, or add or remove a layer."""
        arch, rng = list(self.validate(arch)), _rng(seed)
        moves = ["op", "width"] + (["add"] if len(arch) + 1 in self.depths else []) \
            + (["remove"] if len(arch) - 1 in self.depths else [])
        move, k = moves[int(rng.integers(len(moves)))], int(rng.integers(len(arch)))
        if move == "op" and len(self.ops) > 1:
            arch[k] = (str(rng.choice([o for o in self.ops if o != arch[k][0]])), arch[k][1])
        elif move == "width" and len(self.widths) > 1:
            arch[k] = (arch[k][0], int(rng.choice([w for w in self.widths if w != arch[k][1]])))
        elif move == "add":
            arch.insert(k, (self.ops[int(rng.integers(len(self.ops)))], int(rng.choice(self.widths))))
        elif move == "remove":
            arch.pop(k)
        return tuple(arch)

    def encode(self, arch) -> np.ndarray:
        """Fixed-length vector: per layer slot a present flag, one-hot op and one-hot width."""
        arch = self.validate(arch)
        slot = 1 + len(self.ops) + len(self.widths)
        x = np.zeros((max(self.depths), slot), dtype=np.float32)
        for k, (op, w) in enumerate(arch):
            x[k, 0] = 1.0
            x[k, 1 + self.ops.index(op)] = 1.0
            x[k, 1 + len(self.ops) + self.widths.index(w)] = 1.0
        return x.ravel()

    def build(self, arch) -> nn.Module:
        """The chain ``(n, input_length) -> (n, num_classes)``; seed with torch.manual_seed."""
        arch = self.validate(arch)
        layers: list[nn.Module] = [nn.Unflatten(1, (1, self.input_length))]  # (n, 40) -> (n, 1, 40)
        c_in, length = 1, self.input_length
        for op, width in arch:
            kernel, stride = _chain_op(op)
            layers += [nn.Conv1d(c_in, width, kernel, stride, padding=kernel // 2, bias=False),
                       nn.BatchNorm1d(width), nn.ReLU()]
            c_in, length = width, (length + stride - 1) // stride
        layers += [nn.Flatten(), nn.Linear(c_in * length, self.num_classes)]  # (n, C * L) -> (n, classes)
        return nn.Sequential(*layers)

    def count_params(self, arch) -> int:
        """Trainable parameters of :meth:`build`."""
        return sum(p.numel() for p in self.build(arch).parameters())

    def count_macs(self, arch) -> int:
        """Multiply-accumulates of one forward pass of one sample."""
        from .. import metrics

        return metrics.count_macs(self.build(arch), (self.input_length,))

    def to_string(self, arch) -> str:
        """``conv5s2-32 > conv3-16``."""
        return " > ".join(f"{op}-{w}" for op, w in self.validate(arch))


def _chain_op(op) -> tuple[int, int] | None:
    """``'conv5s2'`` -> (kernel 5, stride 2); None for a name that is not a chain operation."""
    if not isinstance(op, str) or not op.startswith("conv"):
        return None
    body, stride = (op[4:-2], 2) if op.endswith("s2") else (op[4:], 1)
    return (int(body), stride) if body.isdigit() and int(body) % 2 == 1 else None
