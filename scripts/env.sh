# Sourced by lab.sh and test.sh: make sure .venv exists and holds requirements.txt and labkit.
# Installs on first use and again whenever requirements.txt or pyproject.toml change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LAB_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "The lab needs Python 3.10 or newer; '$PY' is $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the lab's environment in $VENV ..."
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.lab-env-stamp"
want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the lab's packages (first time: a few minutes; torch is large) ..."
  extra=()
  # On a laptop without a GPU, LAB_TORCH_INDEX=https://download.pytorch.org/whl/cpu fetches the small CPU build.
  if [ -n "${LAB_TORCH_INDEX:-}" ]; then extra=(--extra-index-url "$LAB_TORCH_INDEX"); fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${extra[@]}" -r "$ROOT/requirements.txt"
  "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
