"""The house stays walkable: no module of the package over 400 lines, no class over 200 (a room
that grows past that has taken on a second job — split it by job)."""

from __future__ import annotations

import ast
from pathlib import Path

import mediasync

PACKAGE = Path(mediasync.__file__).resolve().parent
MAX_FILE_LINES = 400
MAX_CLASS_LINES = 200


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_found():
    assert len(modules()) > 50


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_no_class_is_over_200_lines():
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert long == {}
