"""Instructor demo mode: ``./demo.sh`` serves the dashboards with Voila as an app without code.

The browser test starts ``demo.sh efficiency`` on a free port, checks that the page shows the tab,
a slider and a figure and no code, moves the slider, waits for the figure to change, and saves
``test-artifacts/browser/demo.png``. The headless tests of ``labkit.widgets.demo.tabs`` are in tests/test_widgets.py.
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
