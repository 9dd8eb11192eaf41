"""One source makes both notebooks; the committed ones are fresh; student notebooks stop at exercise 1."""

import nbformat
import pytest

from labkit import assignments as asg

SOURCE = '''# %% [markdown]
# # Title
# Prose.

# %%
import math

# %% exercise="square"
def square(x):
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION

# %% check="square"
assert square(3) == 9

# %% [markdown]
# Why?
# ### BEGIN SOLUTION
# Because.
# ### END SOLUTION
'''


def test_solution_keeps_the_answer_and_student_gets_a_stub_at_the_same_indentation():
    cells = asg.parse(SOURCE)
    assert [c.kind for c in cells] == ["markdown", "code", "code", "code", "markdown"]
    solved = asg.render(cells[2], student=False)
    student = asg.render(cells[2], student=True)
    assert solved == "def square(x):\n    return x * x"
    assert student.splitlines()[-1] == '    raise NotImplementedError("Exercise square: write your solution here")'
    assert "x * x" not in student
    assert asg.render(cells[4], student=True) == "Why?\n*Your answer here.*"
    assert cells[2].tags == ["exercise-square"] and cells[3].tags == ["check-square"]


def test_generated_notebooks_are_byte_stable_with_numbered_ids():
    cells = asg.parse(SOURCE)
    first, second = asg.to_notebook(cells, student=True), asg.to_notebook(cells, student=True)
    assert first == second
    nb = nbformat.reads(first, as_version=4)
    assert [c.id for c in nb.cells] == [str(i) for i in range(5)]


@pytest.mark.parametrize("bad, match", [
    ("# %%\n### BEGIN SOLUTION\nx = 1\n", "without"),
    ("# %%\nx = 1\n### END SOLUTION\n", "without"),
    ('# %% colour="red"\nx = 1\n', "unknown cell option 'colour'"),
])
def test_malformed_sources_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        for cell in asg.parse(bad):
            asg.render(cell, student=True)


def test_committed_notebooks_match_their_sources():
    assert asg.check() == [], "run `python -m labkit.assignments build` and commit the notebooks"


def test_check_notices_a_hand_edited_notebook(tmp_path, monkeypatch):
    src = tmp_path / "nbsrc" / "99_demo.py"
    src.parent.mkdir()
    src.write_text(SOURCE)
    monkeypatch.setattr(asg, "SOURCE_DIR", src.parent)
    monkeypatch.setattr(asg, "STUDENT_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(asg, "SOLUTION_DIR", tmp_path / "solutions")
    monkeypatch.setattr(asg, "REPO_DIR", tmp_path)
    asg.build()
    assert asg.check() == []
    nb = tmp_path / "solutions" / "99_demo.ipynb"
    nb.write_text(nb.read_text().replace("x * x", "x ** 2"))
    assert asg.check() == ["solutions/99_demo.ipynb differs from nbsrc/99_demo.py"]


def test_grader_reports_each_exercise(tmp_path):
    source = SOURCE + ('\n# %% exercise="cube"\ndef cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n'
                       '    ### END SOLUTION\n\n# %% check="cube"\nassert cube(2) == 8\n')
    text = asg.to_notebook(asg.parse(source), student=True)
    answered = text.replace('raise NotImplementedError(\\"Exercise cube: write your solution here\\")', "return x * x * x")
    assert answered != text
    student = tmp_path / "student.ipynb"
    student.write_text(answered)
    results = asg.grade(student)
    assert results["cube"] == "passed"
    assert results["square"].startswith("failed: NotImplementedError: Exercise square")


STUDENT_NOTEBOOKS = sorted(p.stem for p in asg.sources() if "BEGIN SOLUTION" in p.read_text())


@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_student_notebook_stops_at_its_first_exercise(name):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = asg.STUDENT_DIR / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    first_exercise = next(i for i, c in enumerate(nb.cells) if any(t.startswith("exercise-") for t in c.metadata.get("tags", [])))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "NotImplementedError"
    name_ = next(t for t in nb.cells[first_exercise].metadata["tags"] if t.startswith("exercise-"))[len("exercise-"):]
    its_check = [i for i, c in enumerate(nb.cells) if f"check-{name_}" in c.metadata.get("tags", [])]
    failed = [i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    # the stub raises where it runs: in the exercise cell itself, or in its check when it defines a function
    assert len(failed) == 1 and failed[0] in [first_exercise] + its_check, failed
