#!/usr/bin/env bash
# Run the whole test suite (creates .venv and installs everything on first use):
# unit tests and docstring examples of labkit, the notebook generator's freshness check, every student notebook stopping at
# its first exercise, and every solved notebook run top to bottom under nbval.
source "$(dirname "$0")/scripts/env.sh"
export PYTHONHASHSEED=0
python -m labkit.assignments check
python -m pytest labkit --doctest-modules -p no:cacheprovider -q   # the docstrings' examples
python -m pytest tests solutions --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
  -p no:cacheprovider -q -rfEs "$@"
