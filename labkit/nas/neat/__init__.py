"""NEAT, neuroevolution of augmenting topologies (Stanley & Miikkulainen 2002): lecture 6, NAS examples.

A genetic algorithm that evolves both the weights and the architecture of a network, starting from
the smallest one (inputs wired to outputs) and adding nodes and links by mutation. Three ideas make it
work: innovation numbers align genes for crossover (:mod:`.genome`), speciation with explicit fitness
sharing protects new structure (:mod:`.population`), and minimal starting structure keeps the search
small. :mod:`.phenotype` decodes a genome into a batched network and exports it to PyTorch;
:mod:`.tasks` holds XOR and 2-D classification sets. Notebook 06.

>>> from labkit.nas.neat import NEAT, NEATConfig, tasks
>>> neat = NEAT(NEATConfig(population_size=30), seed=1).run(tasks.xor(), max_generations=2)
>>> neat.generation_
2
"""
from labkit.nas.neat import tasks
from labkit.nas.neat.config import NEATConfig
from labkit.nas.neat.genome import (ConnectionGene, Genome, InnovationTracker, align, crossover, distance,
                                    initial_genome, mutate, mutate_add_connection, mutate_add_node,
                                    mutate_toggle_enable, mutate_weights)
from labkit.nas.neat.phenotype import ACTIVATIONS, FeedForwardNetwork, NEATModule, fine_tune, to_torch
from labkit.nas.neat.population import NEAT, Species

__all__ = ["NEAT", "NEATConfig", "Species", "Genome", "ConnectionGene", "InnovationTracker", "align",
           "crossover", "distance", "initial_genome", "mutate", "mutate_weights", "mutate_add_connection",
           "mutate_add_node", "mutate_toggle_enable", "FeedForwardNetwork", "NEATModule", "to_torch", "fine_tune",
           "ACTIVATIONS", "tasks"]
