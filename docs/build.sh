#!/usr/bin/env bash
# Build the HTML documentation with warnings as errors. Installs nothing:
# run it in an environment with the package and its "docs" extra
# (pip install -e ".[docs]"). The gallery executes examples/plot_*.py;
# SPHINX_GALLERY_PLOT=False skips their execution for a quick build.
# Usage: docs/build.sh [sphinx-build]   (default: sphinx-build on PATH)
#
# The build also fails when its log mentions a deprecation: some extensions
# (sphinx-gallery among them) report a deprecated option only as an
# informational message, which -W does not turn into an error.
set -euo pipefail
cd "$(dirname "$0")"
SPHINX_BUILD="${1:-sphinx-build}"
export MPLBACKEND=Agg
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
"$SPHINX_BUILD" -W --keep-going -b html . _build/html 2>&1 | tee "$log" || status=$?
if grep -i "deprecat" "$log" >&2; then
    echo "docs/build.sh: the build log reports a deprecation (lines above);" \
         "the build fails on it." >&2
    status=1
fi
exit "$status"
