"""CI's floors job tests the lower bounds that pyproject.toml declares."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _release(version):
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def declared_floors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for req in project["dependencies"] + project["optional-dependencies"]["test"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([a-z,]+)\])?>=([0-9.]+)", req)
        assert m, f"no plain lower bound in {req!r}"
        name, extras, bound = m.groups()
        floors[name.lower()] = bound
        for extra in (extras or "").split(","):
            if extra:  # dask[distributed]: distributed is released in step
                floors[extra] = bound
    return floors


def pinned_floors():
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_floors_pin_every_lower_bound():
    floors, pins = declared_floors(), pinned_floors()
    assert set(pins) == set(floors)
    for name, bound in floors.items():
        assert _release(pins[name]) == _release(bound), name


def test_ci_runs_the_floors_job():
    ci = (ROOT / ".ci" / "run").read_text()
    assert '-e ".[test]" -c .ci/floors.txt' in ci
