"""Every `MEDIASYNC_*` variable the package reads is in the configuration table of
docs/operations.md ("every setting"): a setting nobody can find is a setting nobody can use."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "mediasync"
REFERENCE = REPO / "docs" / "operations.md"
NAME = re.compile(r"\bMEDIASYNC_[A-Z0-9_]*[A-Z0-9]\b")  # a trailing `_` is a prefix in prose (`MEDIASYNC_DELETE_*`)


def package_variables() -> dict[str, set[str]]:
    """Names in the package's string literals (where environment lookups and their messages name
    them), with the files naming each; Python names the package defines (`MEDIASYNC_DAG_IDS`) are
    not variables."""
    found: dict[str, set[str]] = {}
    defined: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in NAME.findall(node.value):
                    found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return {name: files for name, files in found.items() if name not in defined}


def configuration_table() -> str:
    text = REFERENCE.read_text()
    start = text.index("## Configuration (every setting)")
    return text[start:text.index("\n## ", start + 1)]


def test_every_mediasync_variable_the_package_reads_is_in_the_configuration_table():
    variables = package_variables()
    documented = set(NAME.findall(configuration_table()))
    missing = {name: sorted(files) for name, files in variables.items() if name not in documented}
    assert missing == {}, f"document these in {REFERENCE.relative_to(REPO)}: {missing}"


def test_the_scan_sees_the_variables_it_must_see():
    variables = package_variables()
    for name in ("MEDIASYNC_DATABASE_URL", "MEDIASYNC_HOME", "MEDIASYNC_SETTINGS_FILE", "MEDIASYNC_AIRFLOW_HOST",
                 "MEDIASYNC_LOG_TRACEBACKS", "MEDIASYNC_EMULATOR_PORT"):
        assert name in variables
    assert "MEDIASYNC_DAG_IDS" not in variables  # a Python constant, not a variable
