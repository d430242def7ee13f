#!/usr/bin/env bash
# Build the HTML documentation with warnings as errors. Installs nothing:
# run it in an environment with the package and its "docs" extra
# (pip install -e ".[docs]"). The gallery executes examples/plot_*.py;
# SPHINX_GALLERY_PLOT=False skips their execution for a quick build.
# Usage: docs/build.sh [sphinx-build]   (default: sphinx-build on PATH)
set -euo pipefail
cd "$(dirname "$0")"
SPHINX_BUILD="${1:-sphinx-build}"
export MPLBACKEND=Agg
"$SPHINX_BUILD" -W --keep-going -b html . _build/html
