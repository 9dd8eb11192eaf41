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


# --- the four shapes every dashboard is made of ---------------------------------------------------------

def show():
    """Show the figures drawn since the last call inside an Output, then close them (no pile-up)."""
    import matplotlib.pyplot as plt

    for number in plt.get_fignums():
        plt.figure(number)
        plt.show()
        plt.close(number)


def panel(controls, draw, rows=None):
    """Controls above an Output; ``draw()`` reruns inside it whenever a control's value changes.

    ``rows`` lays the controls out (a list of widgets, default: ``controls`` in one row). The box gets
    ``update()`` (redraw now, returns what ``draw`` returned) and ``result`` (the last such value), which
    tests and notebooks read instead of pixels (tests/test_widgets.py shows it at work).
    """
    import ipywidgets as w

    out = w.Output()
    box = w.VBox([*(rows or [w.HBox(list(controls))]), out])

    def update(_=None):
        with out:
            out.clear_output(wait=True)
            box.result = draw()
            show()
        return box.result

    for control in controls:
        control.observe(update, names="value")
    box.update = update
    update()
    return box


def button(description: str, run, controls=()):
    """A button over an Output: a click runs ``run()`` inside it (real training behind a progress bar).

    ``controls`` (widgets whose values ``run`` reads) sit in a row before the button. The box's ``click()`` does the same as a plain call and returns ``run``'s result, so a notebook or a
    test can exercise the button's work on a tiny budget: ``box.click(epochs=1)``.
    """
    import ipywidgets as w

    knob, out = w.Button(description=description, icon="play"), w.Output()
    box = w.VBox([w.HBox([*controls, knob]) if controls else knob, out])

    def click(_=None, **kwargs):
        with out:
            out.clear_output(wait=True)
            box.result = run(**kwargs)
            show()
        return box.result

    knob.on_click(lambda _: click())
    box.click = click
    return box


def figure(plot, *args):
    """An Output holding the figure ``plot(*args)`` draws (a cached result shown once)."""
    import ipywidgets as w

    out = w.Output()
    with out:
        plot(*args)
        show()
    return out


def tabs(pages: dict):
    """A Tab widget with one titled page per item of ``pages`` (title -> widget)."""
    import ipywidgets as w

    return w.Tab(children=list(pages.values()), titles=tuple(pages))
