#!/usr/bin/env bash
# Open the lab in JupyterLab (creates .venv and installs everything on first use).
source "$(dirname "$0")/scripts/env.sh"
extra=()
# Jupyter refuses to start as root (a Docker container, a cloud VM's default user) without this flag.
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec jupyter lab --ServerApp.root_dir="$ROOT" --LabApp.default_url=/lab/tree/notebooks "${extra[@]}" "$@"
