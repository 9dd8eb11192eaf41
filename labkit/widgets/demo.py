"""Instructor demo mode: the lab's dashboards in one widget, for the projector in class.

* :func:`available_topics` lists the topics of :data:`labkit.widgets.TOPICS` whose widget module is in
  this checkout (notebooks 00-08 arrive one by one).
* :func:`tabs` puts each topic's ``dashboard()`` in one ``ipywidgets.Tab``. A tab's dashboard is built
  the first time the tab is opened, so the first one shows at once however many topics there are.

From any notebook: ``from labkit.widgets import demo; demo.tabs()``. As an app without code, served by
Voila: ``./demo.sh`` (all topics), ``./demo.sh efficiency pruning``, or ``./demo.sh solutions/01_pruning.ipynb``.
"""
from __future__ import annotations

import html
import importlib.util

from . import TOPICS, dashboard
from ..errors import check_choice, check_type, fail

# Tab titles: the notebook number and the lecture's word for the topic.
TITLES = {"efficiency": "00 Efficiency", "pruning": "01-02 Pruning, lottery ticket",
          "distill": "03 Distillation", "hpo": "04 HPO", "nas": "05 NAS", "neat": "06 NEAT",
          "darts": "07 DARTS", "quantize": "08 Quantization"}


def available_topics() -> list[str]:
    """Topics whose dashboard exists in this checkout, in the course's order.

    >>> "efficiency" in available_topics()
    True
    """
    return [t for t in TOPICS if importlib.util.find_spec(f"{__package__}.{t}") is not None]


def tabs(topics=None):
    """One ``ipywidgets.Tab`` with a dashboard per topic (default: every available topic).

    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside a front end, the dashboard's table prints
    ...     t = tabs(["efficiency"])
    >>> t.titles
    ('00 Efficiency',)
    """
    import ipywidgets as W

    available = available_topics()
    if topics is None:
        topics = available
    check_type(topics, (list, tuple), "topics", "tabs", "a list of topic names")
    if not topics:
        raise fail("topics", "tabs", f"a non-empty list of {', '.join(map(repr, available))}", topics)
    for topic in topics:
        check_choice(topic, available, "topics", "tabs")

    pages = [W.VBox(layout=W.Layout(min_height="420px")) for _ in topics]
    tab = W.Tab(children=pages, titles=tuple(TITLES.get(t, t) for t in topics))
    tab.dashboards = {}  # topic -> its dashboard widget, once opened

    def open_tab(change=None):
        index = tab.selected_index if tab.selected_index is not None else 0
        topic = topics[index]
        if topic in tab.dashboards:
            return
        try:
            tab.dashboards[topic] = dashboard(topic)
        except Exception as error:
            if change is None:  # the first tab, built in this call: the caller sees the error
                raise
            # Opened from the page: say so where the instructor looks; opening the tab again retries.
            text = f"The {topic} dashboard failed: {type(error).__name__}: {error}"
            pages[index].children = [W.HTML(f"<pre>{html.escape(text)}</pre>")]
            return
        pages[index].children = [tab.dashboards[topic]]

    tab.observe(open_tab, names="selected_index")
    tab.selected_index = 0
    open_tab()
    return tab
