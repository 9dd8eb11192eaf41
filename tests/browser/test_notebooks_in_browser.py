"""Every solved notebook, as students meet it: JupyterLab in headless Chromium, Run All, move each widget's slider
(or dropdown).

Notebooks are discovered from ``solutions/NN_*.ipynb``, so a new topic notebook is tested here without
touching this file. For each one the test saves, under ``test-artifacts/browser/``:
``NN_name.png`` (the page at the first widget) and ``NN_name-cellK-before.png`` / ``-after.png`` (each
widget before and after its control moved).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from lab_driver import exercise_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_widgets_work_in_the_browser(notebook, page, lab_server, artifacts):
    results = exercise_notebook(page, lab_server.url(f"solutions/{notebook}"), notebook, artifacts)
    summary = [{"cell": r.cell, r.kind: r.label, "changed": r.changed, "note": r.note, "seconds": round(r.seconds, 1)}
               for r in results]
    (artifacts / f"{Path(notebook).stem}.json").write_text(json.dumps(summary, indent=1))
    print(notebook, json.dumps(summary))
    if not results:  # not a failure (a notebook may only have buttons), but the lead should know
        warnings.warn(f"{notebook} shows no widget with a slider or dropdown: nothing was moved", UserWarning)
    for r in results:
        assert r.changed or r.note, f"{notebook}: widget with {r.kind} '{r.label}' in cell {r.cell} did not change"
