"""Dashboards and plots for the notebooks: one module per notebook.

Each topic module offers ``dashboard(...)`` returning one ipywidgets widget, so an instructor can show
a topic from any notebook (``from labkit.widgets import pruning; pruning.dashboard()``). Callbacks are
thin shells over plain functions that the tests call; heavy results come from caches in ``data/``.
"""
from __future__ import annotations

import importlib

TOPICS = ("efficiency", "pruning", "distill", "hpo", "nas", "neat", "darts", "quantize")  # pruning covers 01 and 02


def dashboard(topic: str, **kwargs):
    """The dashboard widget of ``topic`` (one of :data:`TOPICS` that exists in this checkout)."""
    from ..errors import check_choice

    check_choice(topic, TOPICS, "topic", "dashboard")
    try:
        module = importlib.import_module(f"{__name__}.{topic}")
    except ModuleNotFoundError:
        raise ValueError(f"The 'topic' parameter of dashboard names {topic!r}, whose widgets are not in this checkout.") from None
    return module.dashboard(**kwargs)
