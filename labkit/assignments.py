"""Student and solution notebooks from one source, a freshness check, and a grader.

Each notebook has one source, ``nbsrc/NN_name.py``, in percent format: ``# %%`` starts a code cell,
``# %% [markdown]`` a markdown cell (its lines start with ``# ``). A header may carry options::

    # %% exercise="saliency"         the cell holds an exercise (tag ``exercise-saliency``)
    # %% check="saliency"            the cell checks it (tag ``check-saliency``; the grader reads it)
    # %% tags=["nbval-skip"]         any other cell tags, e.g. nbval's

Inside a cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are the answer. The
solution notebook keeps them (markers dropped); the student notebook replaces them by a stub at the
same indentation, ``raise NotImplementedError(...)`` in code and a prompt in markdown. Cell ids are
numbered, so regenerated files are byte-identical and ``check`` can compare them.

Command line::

    python -m labkit.assignments build [nbsrc/01_pruning.py ...]   write notebooks/ and solutions/
    python -m labkit.assignments check                             fail if they are out of date
    python -m labkit.assignments grade notebooks/01_pruning.ipynb  run it, report each exercise
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .cache import REPO_DIR, atomic_write_bytes

SOURCE_DIR = REPO_DIR / "nbsrc"
STUDENT_DIR = REPO_DIR / "notebooks"
SOLUTION_DIR = REPO_DIR / "solutions"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<opts>.*)$")
_OPTION = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\[[^\]]*\])')
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


@dataclass
class Cell:
    kind: str                      # "code" | "markdown"
    lines: list[str]
    tags: list[str] = field(default_factory=list)
    exercise: str | None = None
    check: str | None = None


def parse(text: str, origin: str = "<source>") -> list[Cell]:
    """Split a percent-format source into cells.

    >>> [c.kind for c in parse('# %% [markdown]\\n# Hi\\n\\n# %%\\nx = 1\\n')]
    ['markdown', 'code']
    """
    cells: list[Cell] = []
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            cell = Cell("markdown" if m["md"] else "code", [])
            for key, raw in _OPTION.findall(m["opts"]):
                value = json.loads(raw)
                if key == "tags":
                    cell.tags += list(value)
                elif key in ("exercise", "check"):
                    setattr(cell, key, value)
                    cell.tags.append(f"{key}-{value}")
                else:
                    raise ValueError(f"{origin}:{number}: unknown cell option {key!r} (known: exercise, check, tags)")
            cells.append(cell)
        elif cells:
            cells[-1].lines.append(line)
    for cell in cells:
        while cell.lines and not cell.lines[-1].strip():
            cell.lines.pop()
        while cell.lines and not cell.lines[0].strip():
            cell.lines.pop(0)
        if cell.kind == "markdown":
            cell.lines = [l[2:] if l.startswith("# ") else l.lstrip("#") for l in cell.lines]
    return cells


def render(cell: Cell, student: bool) -> str:
    """The cell's text for the solution (``student=False``) or the student notebook."""
    out, inside = [], False
    for line in cell.lines:
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ValueError(f"nested {BEGIN!r} in cell: {cell.lines[:2]}")
            inside = True
            if student:
                indent = line[: len(line) - len(line.lstrip())]
                if cell.kind == "code":
                    name = cell.exercise or "this exercise"
                    out += [f"{indent}# YOUR CODE HERE",
                            f'{indent}raise NotImplementedError("Exercise {name}: write your solution here")']
                else:
                    out.append(f"{indent}*Your answer here.*")
            continue
        if stripped.startswith(END):
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in cell: {cell.lines[:2]}")
            inside = False
            continue
        if not (inside and student):
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in cell: {cell.lines[:2]}")
    return "\n".join(out)


def to_notebook(cells: list[Cell], student: bool) -> str:
    """The ``.ipynb`` text (byte-stable: numbered ids, sorted keys)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for i, cell in enumerate(cells):
        source = render(cell, student)
        new = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        nb_cell = new(source, id=str(i))
        if cell.tags:
            nb_cell.metadata["tags"] = list(cell.tags)
        nb.cells.append(nb_cell)
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def targets(source: Path) -> dict[Path, str]:
    """The two notebooks a source produces, with their text."""
    cells = parse(source.read_text(), str(source))
    name = source.stem + ".ipynb"
    return {SOLUTION_DIR / name: to_notebook(cells, student=False),
            STUDENT_DIR / name: to_notebook(cells, student=True)}


def sources(paths=None) -> list[Path]:
    found = [Path(p).resolve() for p in paths] if paths else sorted(SOURCE_DIR.glob("[0-9][0-9]_*.py"))
    for p in found:
        if not p.exists():
            raise FileNotFoundError(f"no notebook source {p}")
    return found


def build(paths=None) -> list[Path]:
    """Write the student and solution notebooks of the given sources (default: all)."""
    written = []
    for src in sources(paths):
        for path, text in targets(src).items():
            if not path.exists() or path.read_text() != text:
                atomic_write_bytes(path, text.encode())
            written.append(path)
    return written


def check(paths=None) -> list[str]:
    """Problems that make the committed notebooks differ from their sources (empty when fresh)."""
    problems = []
    expected = set()
    for src in sources(paths):
        for path, text in targets(src).items():
            expected.add(path)
            if not path.exists():
                problems.append(f"{path.relative_to(REPO_DIR)} is missing")
            elif path.read_text() != text:
                problems.append(f"{path.relative_to(REPO_DIR)} differs from {src.relative_to(REPO_DIR)}")
    if not paths:
        for folder in (STUDENT_DIR, SOLUTION_DIR):
            for nb in folder.glob("*.ipynb"):
                if nb.resolve() not in expected:
                    problems.append(f"{nb.relative_to(REPO_DIR)} has no source in nbsrc/")
    return problems


def grade(notebook: Path, timeout: int = 600) -> dict[str, str]:
    """Run a student's notebook to the end and return ``{exercise: "passed" | "failed: ..." | "not run"}``."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(notebook).resolve().parent)}})
    client.execute()
    results: dict[str, str] = {}
    for cell in nb.cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith("exercise-"):
                results.setdefault(tag[len("exercise-"):], "not run")
            if tag.startswith("check-") and cell.cell_type == "code":
                name = tag[len("check-"):]
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errors:
                    results[name] = f"failed: {errors[0]['ename']}: {errors[0]['evalue']}"[:300]
                elif cell.get("execution_count") is not None and not results.get(name, "").startswith("failed"):
                    results[name] = "passed"
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.assignments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="write notebooks/ and solutions/ from nbsrc/").add_argument("sources", nargs="*")
    sub.add_parser("check", help="fail if notebooks/ or solutions/ are out of date").add_argument("sources", nargs="*")
    g = sub.add_parser("grade", help="run a student's notebook and report each exercise")
    g.add_argument("notebook")
    g.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in build(args.sources):
            print(f"wrote {path.relative_to(REPO_DIR)}")
        return 0
    if args.command == "check":
        problems = check(args.sources)
        for p in problems:
            print(p)
        if problems:
            print("Run `python -m labkit.assignments build` and commit the notebooks.")
            return 1
        print("notebooks/ and solutions/ match nbsrc/")
        return 0
    results = grade(Path(args.notebook), args.timeout)
    width = max((len(k) for k in results), default=8)
    for name, status in results.items():
        print(f"{name:<{width}}  {status}")
    n_pass = sum(s == "passed" for s in results.values())
    print(f"grade: {n_pass} of {len(results)} exercises passed")
    return 0 if n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
