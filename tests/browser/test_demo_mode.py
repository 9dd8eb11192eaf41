"""Instructor demo mode: ``./demo.sh`` serves the dashboards with Voila as an app without code.

The browser test starts ``demo.sh efficiency`` on a free port, checks that the page shows the tab,
a slider and a figure and no code, moves the slider, waits for the figure to change, and saves
``test-artifacts/browser/demo.png``. The headless tests cover ``labkit.widgets.demo.tabs``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, _free_port
from labkit.errors import ParameterError
from labkit.widgets import demo


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


@pytest.fixture
def voila_demo(tmp_path):
    port = _free_port()
    log = open(tmp_path / "voila.log", "w")
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "MPLBACKEND")}
    proc = subprocess.Popen(["bash", str(ROOT / "demo.sh"), "efficiency", "--", "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "api/kernelspecs", timeout=5):
                break
        except urllib.error.HTTPError:
            break  # Voila answers (it serves no API to anonymous requests): it is up
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"demo.sh did not serve {url}:\n{(tmp_path / 'voila.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


def test_demo_sh_serves_the_dashboards_without_code(page, voila_demo, artifacts):
    page.set_default_timeout(180_000)
    page.goto(voila_demo)
    slider = page.locator(".widget-slider").first
    slider.wait_for()
    figure = page.locator(".widget-output img").first
    figure.wait_for()
    assert page.locator(".jp-InputArea, .jp-Cell-inputWrapper").count() == 0, "Voila shows code"
    assert "00 Efficiency" in page.locator(".widget-tab, .jupyter-widget-tab").first.inner_text()
    before = figure.get_attribute("src")
    slider.locator(".noUi-handle").press("ArrowRight")
    page.wait_for_function("(before) => { const img = document.querySelector('.widget-output img');"
                           " return img && img.src !== before; }", arg=before, timeout=120_000)
    time.sleep(0.5)
    page.screenshot(path=str(artifacts / "demo.png"))


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
