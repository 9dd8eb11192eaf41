"""The lab in a real browser: JupyterLab on a temporary copy of the notebooks, driven by headless Chromium.

These tests are run by ``./test-browser.sh``, not by ``./test.sh``: they need Debian's ``chromium`` and
the packages of ``requirements-browser.txt``, and take minutes. ``pytest tests`` skips this folder
(see :func:`pytest_ignore_collect`); it is collected when ``LAB_BROWSER=1`` is set or when the folder
or one of its files is named on the command line (``pytest tests/browser``).

Nothing here imports Playwright at module level, so the plain test run works without it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")


def _named_on_command_line(config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    # Only asked about paths inside this folder: keep them out of the plain `pytest tests` run.
    if os.environ.get("LAB_BROWSER") == "1" or _named_on_command_line(config):
        return None
    return True


def pytest_collection_modifyitems(config, items):
    # pytest-playwright 0.10's base_url fixture trips a deprecation of pytest 9: not ours to fix.
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"))


# --- JupyterLab on a temporary copy of the notebooks ---------------------------------------------------

_SETTINGS = {
    # Cells outside the viewport stay in the DOM, so every widget can be found and photographed.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    # No "would you like news?" toast over the notebook.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false}',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server on 127.0.0.1 serving ``root``; ``url(name)`` opens a notebook in it."""

    def __init__(self, root: Path, workdir: Path):
        self.root, self.port = root, _free_port()
        settings = workdir / "user-settings"
        for rel, text in _SETTINGS.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(text)
        self.log_path = workdir / "jupyterlab.log"
        env = dict(os.environ)
        env.pop("TQDM_DISABLE", None)  # students see progress bars; so does the browser test
        env.pop("MPLBACKEND", None)    # figures must come from the inline backend, as in class
        args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                "--port-retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
                f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
                f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workdir / 'workspaces'}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")  # JupyterLab refuses to start as root without it (CI runs as root)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=root, env=env,
                                     start_new_session=True)
        self._wait_until_up(timeout=float(os.environ.get("LAB_SERVER_TIMEOUT", 180)))

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?reset"

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_up(self, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status", timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer on port {self.port} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A temporary copy of solutions/: the browser saves and runs notebooks there, never in the repo."""
    root = tmp_path_factory.mktemp("lab") / "root"
    shutil.copytree(ROOT / "solutions", root / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="session")
def lab_server(lab_root, tmp_path_factory):
    server = LabServer(lab_root, tmp_path_factory.mktemp("lab-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# --- pytest-playwright: Debian's chromium, never a downloaded browser -----------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) "
                    "or set LAB_CHROMIUM; never `playwright install`.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--disable-gpu", "--disable-dev-shm-usage"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1000}}
