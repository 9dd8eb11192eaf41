#!/usr/bin/env bash
# Instructor demo mode: the lab's widgets as a clean app without code, served by Voila.
#   ./demo.sh                              every topic's dashboard, one tab per notebook
#   ./demo.sh efficiency pruning           these topics only (names: labkit.widgets.TOPICS)
#   ./demo.sh solutions/00_efficiency.ipynb   one whole notebook, run top to bottom, code hidden
# Voila's own options follow "--", e.g.  ./demo.sh efficiency -- --port=8867 --no-browser
# It prints the address to open (http://localhost:8866/ by default).
source "$(dirname "$0")/scripts/env.sh"
targets=() voila_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; voila_args=("$@"); break; fi
  targets+=("$1"); shift
done
if [ "${#targets[@]}" -eq 1 ] && [[ "${targets[0]}" == *.ipynb ]]; then
  notebook="${targets[0]}"
  [ -f "$notebook" ] || { echo "No notebook $notebook (try solutions/00_efficiency.ipynb)." >&2; exit 1; }
else
  # A one-cell notebook showing labkit.widgets.demo.tabs(topics), written outside the repository.
  dir="$(mktemp -d "${TMPDIR:-/tmp}/lab-demo.XXXXXX")"
  notebook="$dir/lab_demo.ipynb"
  python - "$notebook" "${targets[@]}" <<'PY'
import sys
import nbformat
from labkit.widgets import demo

path, topics = sys.argv[1], sys.argv[2:] or None
if topics is not None:  # check the names now, before Voila starts, for a clear message
    for topic in topics:
        try:
            demo.check_choice(topic, demo.available_topics(), "topics", "demo.sh")
        except ValueError as error:
            sys.exit(str(error))
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.cells = [nbformat.v4.new_code_cell("from labkit.widgets import demo\n"
                                      f"demo.tabs({topics!r})")]
nbformat.write(nb, path)
PY
fi
# Standalone Voila runs as root as is (it has no --allow-root, and rejects it).
exec voila "$notebook" --strip_sources=True "${voila_args[@]}"
