"""Drive one notebook in JupyterLab as a student would: open it, run all cells, move every widget's control.

:func:`exercise_notebook` is the whole check. It fails with :class:`NotebookBroken` when a cell raises
during "Run All", and with :class:`WidgetBroken` when moving a widget's main control (its first
slider, else its first dropdown) makes its callback raise or leaves the widget's figure/table/text
unchanged. Both messages name the notebook and the cell (counted from 1, as JupyterLab's status bar
counts); ``WidgetBroken`` names each widget by its control's label. Errors are seen the way the
kernel reports them to the page: every ``error`` message on the kernel's IOPub channel, whether the
traceback lands in a widget's Output area or (for callbacks outside ``with out:``) only in the log
console, where a student would never see it.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

RUN_ALL_TIMEOUT_S = float(os.environ.get("LAB_RUN_ALL_TIMEOUT", 600))   # the whole notebook, "Run All"
WIDGET_TIMEOUT_S = float(os.environ.get("LAB_WIDGET_TIMEOUT", 120))     # one control moved -> new output

_KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"

_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(k && k.status === 'idle' && w.content && w.content.widgets.length);
}"""

# Record every error the kernel reports, with what caused it (execute_request = a cell, comm_msg = a widget).
_LISTEN = f"""() => {{
  window.__labErrors = [];
  window.__labCommDone = 0;
  {_KERNEL}.iopubMessage.connect((_, msg) => {{
    // The kernel is done with a message from a widget (a slider's new value): its callback has run.
    if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle' &&
        msg.parent_header.msg_type === 'comm_msg') window.__labCommDone += 1;
    if (msg.header.msg_type === 'error') {{
      window.__labErrors.push({{cause: msg.parent_header.msg_type || '', ename: msg.content.ename,
                                evalue: msg.content.evalue,
                                traceback: (msg.content.traceback || []).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '')}});
    }}
  }});
  window.__labRunAll = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => {{ window.__labRunAll = {{ok: ok}}; }}, e => {{ window.__labRunAll = {{ok: false, error: String(e)}}; }});
}}"""

# Cells whose outputs hold an error, by index (after Run All stopped).
_ERROR_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map((c, i) => [i, c]).filter(
  ([i, c]) => c.model.type === 'code' && c.model.outputs.toJSON().some(o => o.output_type === 'error')).map(
  ([i, c]) => ({index: i + 1, source: c.model.sharedModel.getSource(),
               expected: (c.model.getMetadata('tags') || []).includes('raises-exception')}))"""

# Tag each top-level widget view that has a slider or dropdown, so Playwright can find it again; describe it.
_FIND_WIDGETS = """() => {
  const found = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    if (!area) return;
    area.querySelectorAll(':scope > .jp-OutputArea-child > .jp-OutputArea-output').forEach((out, j) => {
      // The main control: the first slider on screen (one in a closed tab or accordion can't be moved),
      // else the first dropdown on screen.
      const onScreen = sel => Array.from(out.querySelectorAll(sel)).find(e => e.getClientRects().length > 0);
      let control = onScreen('.jupyter-widgets .widget-slider'), kind = 'slider';
      if (!control) { control = onScreen('.jupyter-widgets.widget-dropdown'); kind = 'dropdown'; }
      if (!control) return;
      const id = `cell${i}-output${j}`;
      out.setAttribute('data-lab-test', id);
      control.setAttribute('data-lab-test-control', id);
      const label = control.querySelector('.widget-label');
      const button = out.querySelector('.widget-button');
      found.push({id, cell: i + 1, source: cell.model.sharedModel.getSource(), kind,
                  label: (label && label.textContent.trim()) || `(unlabelled ${kind})`,
                  button: button ? button.textContent.trim() || '(unlabelled button)' : ''});
    });
  });
  return found;
}"""

# Widget outputs of the model that the page did not render (a missing front-end extension, a bad model).
_UNRENDERED = """() => {
  const bad = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const outs = cell.node.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output');
    cell.model.outputs.toJSON().forEach((o, j) => {
      if (!(o.data && o.data['application/vnd.jupyter.widget-view+json'])) return;
      // A closed widget (a finished tqdm bar) leaves an empty output: fine. Its text repr instead of the
      // widget means no front-end extension; the other two texts, a model the page never got.
      const node = outs[j];
      const text = node ? node.innerText : '';
      if (!node || node.getAttribute('data-mime-type') === 'text/plain' ||
          ['Error displaying widget', 'Loading widget'].some(t => text.includes(t)))
        bad.push({cell: i + 1, source: cell.model.sharedModel.getSource(), text: text.slice(0, 200)});
    });
  });
  return bad;
}"""

# What a student looks at in a widget: its figures, tables and printed/HTML text (not the slider readouts).
_SIGNATURE = """(root) => ({
  figure: Array.from(root.querySelectorAll('img')).map(e => e.src)
          .concat(Array.from(root.querySelectorAll('.widget-output svg')).map(e => e.outerHTML)),
  table: Array.from(root.querySelectorAll('table')).map(e => e.innerText),
  text: Array.from(root.querySelectorAll('.widget-output .jp-RenderedText, .widget-html-content, .widget-htmlmath-content'))
          .map(e => e.innerText),
})"""


class NotebookBroken(AssertionError):
    """A cell raised while the notebook ran top to bottom in the browser."""


class WidgetBroken(AssertionError):
    """A widget's callback raised, or its output did not change when its control moved."""


@dataclass
class WidgetResult:
    notebook: str
    cell: int
    kind: str      # the control moved: "slider" or "dropdown"
    label: str     # its description, as the student reads it
    changed: list[str] = field(default_factory=list)   # "figure", "table", "text"
    error: str = ""
    note: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


def _first_line(source: str) -> str:
    line = next((l for l in source.splitlines() if l.strip() and not l.startswith("#")), "")
    return line if len(line) <= 70 else line[:67] + "..."


def _describe(error: dict) -> str:
    last = [l for l in error["traceback"].splitlines() if l.strip()][-6:]
    return f"{error['ename']}: {error['evalue']}\n      " + "\n      ".join(last)


def open_and_run(page, url: str, notebook: str) -> float:
    """Open ``url``, wait for an idle kernel, Run All, wait for the end; return the seconds it took."""
    t0 = time.monotonic()
    page.goto(url)
    # Without waiting for the kernel, "Run All" sometimes ran before the widget manager was ready.
    page.wait_for_function(_KERNEL_IDLE, timeout=180_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the notebook's full width, as projected
    page.evaluate(_LISTEN)
    page.wait_for_function("() => window.__labRunAll !== undefined", timeout=RUN_ALL_TIMEOUT_S * 1000,
                           polling=500)
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    run = page.evaluate("window.__labRunAll")
    errors = [e for e in page.evaluate("window.__labErrors") if e["cause"] != "comm_msg"]
    cells = page.evaluate(_ERROR_CELLS)
    # A cell tagged "raises-exception" is meant to raise: Run All goes on past it (as nbval does) but
    # still reports failure, so judge by the cells' errors.
    expected = sum(c["expected"] for c in cells)
    cells = [c for c in cells if not c["expected"]]
    if cells or len(errors) > expected or (not run["ok"] and not expected):
        where = "; ".join(f"cell {c['index']} (`{_first_line(c['source'])}`)" for c in cells) or "a cell"
        detail = "\n    ".join(_describe(e) for e in errors) or run.get("error", "Run All reported failure")
        raise NotebookBroken(f"{notebook}: Run All failed in the browser at {where}:\n    {detail}")
    return time.monotonic() - t0


def _dropdown_moves(dropdown):
    """Choose the next option, then the one after (a figure may look the same for two neighbours)."""
    select = dropdown.locator("select").first
    for _ in range(2):
        index, count = select.evaluate("e => [e.selectedIndex, e.options.length]")
        if count < 2:
            yield "its dropdown has a single option"
            return
        select.scroll_into_view_if_needed()
        select.select_option(index=(index + 1) % count)
        yield ""


def _slider_moves(slider):
    """One step right (left at the maximum), then a jump to the far end (Home/End), for a slider
    whose neighbouring values draw the same picture (a NEAT champion that did not change)."""
    handle, readout = slider.locator(".noUi-handle").first, slider.locator(".widget-readout").first

    def press(keys):
        before = readout.inner_text()
        handle.scroll_into_view_if_needed()
        for key in keys:
            handle.press(key)
            for _ in range(20):
                if readout.inner_text() != before:
                    return ""
                time.sleep(0.1)
        return f"its slider did not move with the keys {'/'.join(keys)} (readout stayed {before!r}; disabled?)"

    yield press(("ArrowRight", "ArrowLeft"))   # ArrowRight does nothing at the maximum
    yield press(("Home", "End"))               # the far end from wherever it is now


def _wait_for_redraw(page, root, before, n_errors, n_done, deadline, result) -> bool:
    """After one move: True when the widget redrew or raised (``result`` says which) or the time ran
    out, False when the kernel handled the move without changing anything (try the next move)."""
    while time.monotonic() < deadline:
        errors = page.evaluate("window.__labErrors")[n_errors:]
        after = root.evaluate(_SIGNATURE)
        idle = page.evaluate(_KERNEL_IDLE)
        result.changed = [k for k in before if after[k] != before[k]]
        if (errors or result.changed) and idle:
            time.sleep(0.5)  # let the redraw finish (clear_output(wait=True), then the new figure)
            errors = page.evaluate("window.__labErrors")[n_errors:]
            if errors:
                result.error = "its callback raised " + "\n    ".join(_describe(e) for e in errors)
            return True
        if idle and page.evaluate("window.__labCommDone") > n_done:
            time.sleep(1.0)  # the callback is done; give the page a moment to show its output
            if root.evaluate(_SIGNATURE) == before and not page.evaluate("window.__labErrors")[n_errors:]:
                return False
        time.sleep(0.25)
    return True


def exercise_widgets(page, notebook: str, screenshot_dir: Path | None = None) -> list[WidgetResult]:
    """Move the main control of every widget in the open notebook; raise :class:`WidgetBroken` on failures.

    The main control is a widget's first visible slider (arrow keys on its handle), or, for a widget
    without one, its first visible dropdown (the next option). When a move leaves the picture as it
    was, a second, larger move follows (the slider's far end, the option after). A widget whose
    control only sets a parameter of a run button passes without a redraw, with a note; the button
    is not clicked (it runs live training).
    """
    deadline = time.monotonic() + 60
    while (unrendered := page.evaluate(_UNRENDERED)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if unrendered:
        where = "; ".join(f"cell {u['cell']} (`{_first_line(u['source'])}`) shows {u['text']!r}" for u in unrendered)
        raise WidgetBroken(f"{notebook}: widgets did not render in the browser: {where}")
    widgets = page.evaluate(_FIND_WIDGETS)
    results = []
    for w in widgets:
        root = page.locator(f'[data-lab-test="{w["id"]}"]')
        result = WidgetResult(notebook, w["cell"], w["kind"], w["label"])
        stem = f"{Path(notebook).stem}-cell{w['cell']:02d}"
        if screenshot_dir is not None:
            root.screenshot(path=str(screenshot_dir / f"{stem}-before.png"))
        n_errors = len(page.evaluate("window.__labErrors"))
        before = root.evaluate(_SIGNATURE)
        t0 = time.monotonic()
        control = page.locator(f'[data-lab-test-control="{w["id"]}"]')
        moves = _slider_moves(control) if w["kind"] == "slider" else _dropdown_moves(control)
        deadline = t0 + WIDGET_TIMEOUT_S
        n_done = page.evaluate("window.__labCommDone")  # read before each move: a fast callback is done at once
        for why_not in moves:
            if why_not:
                result.error = why_not
                break
            if _wait_for_redraw(page, root, before, n_errors, n_done, deadline, result):
                break
            n_done = page.evaluate("window.__labCommDone")
        if not result.error and not result.changed:
            if w["button"]:   # the control only sets a parameter of a run button, not clicked here
                result.note = f"sets a parameter of the button '{w['button']}' (not clicked: it runs live work)"
            else:
                result.error = (f"its figure, table and text did not change when its control moved (waited up "
                                f"to {WIDGET_TIMEOUT_S:.0f} s; figures {len(before['figure'])}, tables {len(before['table'])})")
        result.seconds = time.monotonic() - t0
        if screenshot_dir is not None:
            root.screenshot(path=str(screenshot_dir / f"{stem}-after.png"))
        results.append((w, result))
    failures = [(w, r) for w, r in results if not r.ok]
    if failures:
        lines = [f"{notebook}: {len(failures)} of {len(results)} widgets broken in the browser:"]
        for w, r in failures:
            lines.append(f"  widget with {r.kind} '{r.label}' in cell {r.cell} (`{_first_line(w['source'])}`): {r.error}")
        raise WidgetBroken("\n".join(lines))
    return [r for _, r in results]


def exercise_notebook(page, url: str, notebook: str, screenshot_dir: Path | None = None) -> list[WidgetResult]:
    """Open, Run All, and move every widget's control; a screenshot of the page ends up in ``screenshot_dir``."""
    page.set_default_timeout(60_000)
    try:
        open_and_run(page, url, notebook)
        return exercise_widgets(page, notebook, screenshot_dir)
    finally:
        if screenshot_dir is not None:  # also when it failed: the page shows the error
            first = page.locator("[data-lab-test]").first
            if first.count():
                first.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot_dir / f"{Path(notebook).stem}.png"))
        # Free the kernel's memory (torch and data) before the next notebook opens its own.
        page.evaluate("() => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
                      " window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
