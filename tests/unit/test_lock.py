"""The lock (requirements/constraints.txt) covers every dependency pyproject.toml names, so every
install (`make install`, `.ci/run`, deploy/Dockerfile) is pinned. Added a dependency? Run `make lock`."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "constraints.txt"


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(r) for r in extra]
    return [r for r in requirements if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_every_dependency_in_pyproject_is_pinned_in_the_lock():
    pins = locked()
    missing = sorted(r.name for r in declared() if canonicalize_name(r.name) not in pins)
    assert not missing, f"not in {LOCK.relative_to(REPO)}: {', '.join(missing)} — run `make lock` and commit the lock"


def test_the_lock_satisfies_the_ranges_in_pyproject():
    pins = locked()
    stale = [f"{r} (locked {pins[canonicalize_name(r.name)]})" for r in declared()
             if canonicalize_name(r.name) in pins and not r.specifier.contains(pins[canonicalize_name(r.name)],
                                                                                prereleases=True)]
    assert not stale, f"the lock is stale for: {'; '.join(stale)} — run `make lock` and commit the lock"


def test_the_lock_pins_the_supported_airflow_release():
    pin = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements" / "constraints.in").read_text(), re.M)
    assert pin and locked()["apache-airflow"] == pin.group(1)
