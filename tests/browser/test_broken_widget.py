"""The browser suite catches what students would see broken: a widget whose callback raises, a cell that raises.

Temporary notebooks in the server's folder (never in the repository): one with a healthy widget and
three broken ones (one raising outside its Output area, where the traceback reaches only the log
console, one raising inside it, one whose output never changes) and a healthy dropdown, and one whose
second cell raises.
"""
from __future__ import annotations

import nbformat
import pytest

import lab_driver
from lab_driver import NotebookBroken, WidgetBroken, exercise_notebook

SETUP = "import ipywidgets as W\nimport matplotlib.pyplot as plt\n"

WIDGET = '''{name} = W.IntSlider(3, 0, 10, description="{label}", continuous_update=False)
{name}_out = W.Output()

def {name}_redraw(change=None):
    {outside}
    with {name}_out:
        {name}_out.clear_output(wait=True)
        {inside}
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.plot(range({name}.value + 1), marker="o")
        ax.set(xlabel="step", ylabel="value")
        plt.show()
        plt.close(fig)

{name}.observe({name}_redraw, names="value")
{name}_redraw()
W.VBox([{name}, {name}_out])'''

FAIL = 'if {name}.value != 3: raise RuntimeError("{label} breaks on purpose")'


def _widget(name, label, where=None):
    fail = FAIL.format(name=name, label=label)
    return WIDGET.format(name=name, label=label, outside=fail if where == "outside" else "pass",
                         inside=fail if where == "inside" else "pass")


def _write(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


FROZEN = """frozen = W.IntSlider(3, 0, 10, description="frozen knob", continuous_update=False)
frozen_out = W.Output()
with frozen_out:
    print("drawn once, never again")
W.VBox([frozen, frozen_out])"""

DROPDOWN = """choice = W.Dropdown(options=["a", "b", "c"], description="healthy choice")
choice_out = W.Output()

def choice_redraw(change=None):
    with choice_out:
        choice_out.clear_output(wait=True)
        print("chosen:", choice.value)

choice.observe(choice_redraw, names="value")
choice_redraw()
W.VBox([choice, choice_out])"""


def test_a_raising_widget_callback_fails_naming_notebook_and_widget(page, lab_server, lab_root, artifacts,
                                                                     monkeypatch):
    monkeypatch.setattr(lab_driver, "WIDGET_TIMEOUT_S", 15)  # the frozen widget waits this long
    _write(lab_root / "broken" / "broken_widget.ipynb",
           [SETUP, _widget("healthy", "healthy knob"), _widget("outer", "raises outside", "outside"),
            _widget("inner", "raises inside", "inside"), FROZEN, DROPDOWN])
    with pytest.raises(WidgetBroken) as info:
        exercise_notebook(page, lab_server.url("broken/broken_widget.ipynb"), "broken_widget.ipynb", artifacts)
    message = str(info.value)
    print(message)
    assert message.startswith("broken_widget.ipynb: 3 of 5 widgets broken")
    assert "slider 'raises outside' in cell 3" in message and "raises outside breaks on purpose" in message
    assert "slider 'raises inside' in cell 4" in message and "raises inside breaks on purpose" in message
    assert "slider 'frozen knob' in cell 5" in message and "did not change when its control moved (waited up to 15 s" in message
    assert "healthy knob" not in message and "healthy choice" not in message


def test_a_raising_cell_fails_naming_notebook_and_cell(page, lab_server, lab_root):
    _write(lab_root / "broken" / "broken_cell.ipynb", [SETUP, "x = 1 / 0", "print('never')"])
    with pytest.raises(NotebookBroken, match=r"(?s)broken_cell\.ipynb: Run All failed .* cell 2 \(`x = 1 / 0`\).*ZeroDivisionError"):
        exercise_notebook(page, lab_server.url("broken/broken_cell.ipynb"), "broken_cell.ipynb")


def test_a_cell_tagged_raises_exception_may_raise(page, lab_server, lab_root):
    path = lab_root / "broken" / "expected_raise.ipynb"
    _write(path, [SETUP, "raise ValueError('shown to students on purpose')", "print('after')"])
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].metadata["tags"] = ["raises-exception"]
    nbformat.write(nb, path)
    assert exercise_notebook(page, lab_server.url("broken/expected_raise.ipynb"), "expected_raise.ipynb") == []
