"""DARTS, differentiable architecture search (Liu, Simonyan, Yang 2019), small enough for a CPU.

Slide "DARTS - Differentiable Neural Architecture Search": search for one cell, build the network from
copies of it, relax the choice of operation into a softmax over architecture weights alpha and optimise
alpha by gradient descent on validation data while the weights w train on training data.

    ops.py          the 1-D operation set (none, skip, pooling, separable and dilated convolutions)
    cell.py         mixed operation, search cell, search network (the continuous relaxation)
    search.py       bilevel optimisation, first and second order (unrolled step, eq. 7-8)
    genotype.py     deriving the discrete cell; derived network; random cells for the baseline
    perturb.py      DARTS-PT: deriving the cell by what removing an operation costs the supernet
    diagnostics.py  alpha trajectories, skip counts, the collapse to skip connections and its guard

Notebook 07 walks through them; ``benchmarks/darts.py`` measures them.
"""
from labkit.nas.darts.cell import MixedOp, NetworkConfig, SearchCell, SearchNetwork, mixed_op, num_edges
from labkit.nas.darts.genotype import DerivedNetwork, Genotype, derive, random_genotype
from labkit.nas.darts.ops import OPS, PRIMITIVES, make_op
from labkit.nas.darts.perturb import PerturbationSelection
from labkit.nas.darts.search import DartsSearch, SearchConfig, unrolled_alpha_grad

__all__ = ["OPS", "PRIMITIVES", "make_op", "mixed_op", "MixedOp", "NetworkConfig", "SearchCell",
           "SearchNetwork", "num_edges", "Genotype", "derive", "random_genotype", "DerivedNetwork",
           "DartsSearch", "SearchConfig", "unrolled_alpha_grad", "PerturbationSelection"]
