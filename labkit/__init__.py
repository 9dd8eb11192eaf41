"""labkit: the working parts of the Efficient Neural Networks course lab.

The core (:mod:`labkit.data`, :mod:`labkit.models`, :mod:`labkit.train`, :mod:`labkit.metrics`,
:mod:`labkit.cache`) knows no lecture topic; one package or module per topic (pruning, distillation,
hyper-parameter optimization, architecture search, quantization) builds on it; the teaching layer
(:mod:`labkit.checks`, :mod:`labkit.widgets`) serves the notebooks. See CONTRIBUTING.md for the map.
"""
from . import cache, data, errors, metrics, models, train  # noqa: F401

__version__ = "0.1.0"
