"""SQL lives in files: numbered migrations in sql/, named queries in sql/queries/*.sql.

A queries file is a sequence of blocks, each headed by `-- name: <query_name>` and an optional
comment line; repositories call `query("queue", "claim")` instead of building SQL in Python.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def sql_dir() -> Path:
    """The project's sql/ directory (MEDIASYNC_SQL_DIR overrides, for unusual installs)."""
    override = os.environ.get("MEDIASYNC_SQL_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "sql"


@cache
def _queries(group: str) -> dict[str, str]:
    text = (sql_dir() / "queries" / f"{group}.sql").read_text()
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def query(group: str, name: str) -> str:
    """The named query `name` from sql/queries/<group>.sql."""
    try:
        return _queries(group)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in sql/queries/{group}.sql") from None
