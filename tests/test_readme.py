"""The README is what a new user reads first: its Quickstart is what CI
runs, its Python example runs as written, and its links lead somewhere."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quickstart_commands():
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_quickstart_has_exactly_two_commands():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "examples/quickstart.py" in commands[0]
    assert (ROOT / "examples" / "quickstart.py").exists()
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quickstart_commands()[1] in ci


def test_python_example_runs_as_written():
    blocks = python_blocks()
    assert len(blocks) == 1
    code = blocks[0]
    # The example of a Pipeline with StandardScaler, against LinearSVC.
    for name in ("Pipeline", "StandardScaler", "LinearSVC"):
        assert name.lower() in code.lower()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "LinearSVC",
        "DiagonalLinearClassifier",
    ]
    # Neither model stops short (no ConvergenceWarning of the flow or of
    # LinearSVC's solver).
    assert "Warning" not in proc.stderr, proc.stderr[-4000:]


def test_relative_links_exist():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (ROOT / link).exists(), link


def test_figure_is_small():
    figure = ROOT / "docs" / "_static" / "kernel_to_rich.png"
    assert "docs/_static/kernel_to_rich.png" in README
    assert figure.stat().st_size < 150_000
    assert (ROOT / "docs" / "make_readme_figure.py").exists()


def test_no_measured_numbers_in_prose():
    # Measurements live in benchmarks/RESULTS.md, with their machine: the
    # README's prose quotes none (no timings, ratios or counts of
    # evaluations). Code, version numbers and the references aside, it has
    # no decimal numbers and no thousands.
    prose = re.sub(r"```.*?```", "", README, flags=re.S).split("## References")[0]
    prose = re.sub(r"Python \d+\.\d+", "", prose)
    assert not re.search(r"\d\.\d|\d,\d{3}|\d\s*(ms|s|x)\b|%", prose)
    assert "evaluations" not in prose
