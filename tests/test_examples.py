"""Every script in ``examples/`` runs to completion, as a user would run it.

Each script runs in its own interpreter with the non-interactive matplotlib
backend, from the repository root. The scripts are the small-size runs of
the documentation gallery: what they print is what the docs show. Scripts
that take more than about 10 s on an idle two-core machine are marked slow
(the documentation build, ``docs/build.sh``, runs them all).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Measured (gallery build, idle machine): 10-25 s each.
SLOW = {
    "plot_cv_regimes.py",
    "plot_deep_alignment.py",
    "plot_kernel_to_rich.py",
    "plot_memory_effect.py",
    "plot_regime_map.py",
}


def _param(path):
    marks = [pytest.mark.slow] if path.name in SLOW else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_examples_found():
    names = {path.name for path in EXAMPLES}
    assert "quickstart.py" in names
    assert len(names) >= 8
    # Every slow mark names an existing script (no stale entries).
    assert SLOW <= names


@pytest.mark.parametrize("script", [_param(path) for path in EXAMPLES])
def test_example_runs(script):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
    )
    # The scripts print the numbers the documentation quotes.
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    # The examples choose their targets inside the reachable range: a
    # ConvergenceWarning would mean a figure built on an unfinished fit.
    assert "ConvergenceWarning" not in proc.stderr, proc.stderr[-4000:]
