"""Pruning (slides "Прореживание НС"): remove the weights, neurons or channels that matter least.

Follow a sparsity from the slide to the mask in a straight line:

* :mod:`~labkit.pruning.algorithm`  Algorithm 1 (saliency -> remove min-k -> fine-tune, N rounds)
* :mod:`~labkit.pruning.saliency`   criteria: magnitude, random, Taylor |w g|, OBD h w^2/2, SNIP
* :mod:`~labkit.pruning.masks`      masks, select_min_k, the "fraction" convention, keeping masks
* :mod:`~labkit.pruning.structured` removing neurons / channels physically (BatchNorm rebuilt)
* :mod:`~labkit.pruning.allocation` uniform, global threshold, per-layer shares from a sensitivity scan
* :mod:`~labkit.pruning.schedules`  one-shot, iterative, gradual (Zhu & Gupta cubic)
* :mod:`~labkit.pruning.regrowth`   RigL / SET: dropped connections regrow during training
* :mod:`~labkit.pruning.lottery`    the lottery ticket: IMP with reset, rewinding, the two controls

For other topics (quantization): ``apply_masks(model, magnitude_masks(model, 0.5, scope="global"))``.
Notebooks 01 (pruning) and 02 (lottery ticket).
"""
from .algorithm import PruneResult, prune_and_finetune
from .allocation import Sensitivity, per_layer_removal, sensitivity_scan, shares_from_sensitivity
from .lottery import LotteryConfig, LotteryTicket, random_masks, reinitialize, train_controls
from .masks import (apply_masks, fraction_per_round, full_masks, keep_masks, layer_sparsity, magnitude_masks,
                    masks_from_model, prunable_weights, select_min_k, sparsity, sparsity_after)
from .regrowth import Regrowth, RegrowthConfig, drop_fraction
from .saliency import CRITERIA, compute_saliency_scores, criterion
from .schedules import GradualConfig, GradualPruner, cubic_sparsity, iterative, one_shot
from .structured import (all_channels, channel_links, channel_masks, channel_scores, fold_batchnorm, prune_channels,
                         remove_channels, select_channels)

__all__ = [name for name in dir() if not name.startswith("_")]
