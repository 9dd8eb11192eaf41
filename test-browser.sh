#!/usr/bin/env bash
# The lab in a real browser: JupyterLab in headless Chromium opens every solved notebook
# (solutions/NN_*.ipynb), runs all cells, moves each widget's slider and checks that its figure or
# table changes; a widget callback that raises fails the test, naming the notebook and the widget.
# Screenshots land in test-artifacts/browser/. Needs Debian's chromium (installed here with apt-get
# when missing, as root) and requirements-browser.txt (installed into .venv on first use).
# Extra arguments go to pytest, e.g.  ./test-browser.sh -k 00_efficiency
source "$(dirname "$0")/scripts/env.sh"
CHROMIUM="${LAB_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium (never 'playwright install': it downloads its own browsers) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "$CHROMIUM is missing: install Debian's chromium (sudo apt-get install chromium) or set LAB_CHROMIUM=/path/to/chromium." >&2
    exit 1
  fi
fi
stamp="$VENV/.lab-browser-stamp"
want="$(sha256sum "$ROOT/requirements-browser.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the browser suite's packages (playwright, pytest-playwright) ..."
  python -m pip install --quiet -r "$ROOT/requirements-browser.txt"
  echo "$want" > "$stamp"
fi
rm -rf "$ROOT/test-artifacts/browser"   # this run's screenshots only
export LAB_BROWSER=1 LAB_CHROMIUM="$CHROMIUM" PYTHONHASHSEED=0
python -m pytest tests/browser -p no:cacheprovider -q -rA \
  --screenshot only-on-failure --output test-artifacts/browser/failures "$@"
