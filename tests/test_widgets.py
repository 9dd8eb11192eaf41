"""Dashboards: every topic returns one widget, and the demo tabs build them lazily and say when one fails."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from labkit import widgets
from labkit.errors import ParameterError
from labkit.widgets import demo


@pytest.mark.parametrize("topic", widgets.TOPICS)
def test_every_topic_dashboard_is_one_widget(topic):
    import ipywidgets as W

    board = widgets.dashboard(topic)
    plt.close("all")
    assert isinstance(board, W.Widget)


def test_unknown_topic_is_named():
    with pytest.raises(ParameterError, match="The 'topic' parameter of dashboard must be one of 'efficiency'"):
        widgets.dashboard("lottery_typo")


def test_tabs_builds_the_first_dashboard_at_once_and_the_others_when_opened(monkeypatch):
    import ipywidgets as W

    built = []
    monkeypatch.setattr(demo, "dashboard", lambda topic: built.append(topic) or W.Label(topic))
    topics = list(demo.TOPICS)  # every topic, whether or not its widgets exist yet
    monkeypatch.setattr(demo, "available_topics", lambda: topics)
    tab = demo.tabs()
    assert tab.titles == tuple(demo.TITLES.get(t, t) for t in topics)
    assert built == topics[:1] and tab.children[0].children[0].value == topics[0]
    tab.selected_index = 2
    assert built == [topics[0], topics[2]] and tab.children[2].children[0].value == topics[2]
    tab.selected_index = 0  # opened before: not built again
    assert built == [topics[0], topics[2]]


def test_the_efficiency_dashboard_opens_in_the_demo_tabs():
    tab = demo.tabs(["efficiency"])
    assert tab.titles == ("00 Efficiency",) and "sliders" in dir(tab.dashboards["efficiency"])


@pytest.mark.parametrize("topics, match", [
    ("efficiency", r"The 'topics' parameter of tabs must be a list of topic names. Got 'efficiency'"),
    ([], r"The 'topics' parameter of tabs must be a non-empty list of 'efficiency'"),
    (["pruning_typo"], r"The 'topics' parameter of tabs must be one of 'efficiency'.*Got 'pruning_typo'"),
])
def test_tabs_rejects_bad_topics(topics, match):
    with pytest.raises(ParameterError, match=match):
        demo.tabs(topics)


def test_a_dashboard_that_fails_when_its_tab_opens_says_so_in_the_tab(monkeypatch):
    import ipywidgets as W

    def board(topic):
        if topic == "pruning":
            raise FileNotFoundError("data/pruning/sweep.json is missing")
        return W.Label(topic)

    monkeypatch.setattr(demo, "dashboard", board)
    monkeypatch.setattr(demo, "available_topics", lambda: ["efficiency", "pruning"])
    tab = demo.tabs()
    tab.selected_index = 1
    assert "The pruning dashboard failed: FileNotFoundError: data/pruning/sweep.json is missing" in \
        tab.children[1].children[0].value
    assert "pruning" not in tab.dashboards


def test_a_panel_redraws_when_a_control_moves_and_keeps_what_draw_returned():
    import ipywidgets as W

    slider, drawn = W.IntSlider(2), []

    def draw():
        plt.plot([0, slider.value])
        drawn.append(slider.value)
        return slider.value ** 2

    box = widgets.panel([slider], draw)
    slider.value = 3
    assert drawn == [2, 3] and box.result == 9 and box.update() == 9
    assert plt.get_fignums() == []  # every figure shown is closed: sliding does not pile them up


def test_a_button_runs_its_work_as_a_plain_call_with_a_budget():
    box = widgets.button("train", lambda epochs=5: {"epochs": epochs})
    assert box.click(epochs=1) == {"epochs": 1} and box.result == {"epochs": 1}
    assert box.children[0].description == "train"


def test_tabs_title_their_pages_in_order():
    import ipywidgets as W

    tab = widgets.tabs({"one": W.Label("1"), "two": widgets.figure(plt.plot, [0, 1])})
    assert tab.titles == ("one", "two") and plt.get_fignums() == []
