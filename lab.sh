#!/usr/bin/env bash
# Open the lab in JupyterLab (creates .venv and installs everything on first use).
source "$(dirname "$0")/scripts/env.sh"
exec jupyter lab --ServerApp.root_dir="$ROOT" --LabApp.default_url=/lab/tree/notebooks "$@"
