"""Named SQL, shipped inside the package: `mediasync/sql/queries/<group>.sql`.

A queries file is a sequence of blocks, each headed by `-- name: <query_name>` and an optional
comment line; repositories ask for `query("queue", "claim")` instead of building SQL in Python.
Files are read with `importlib.resources`, so an installed wheel works like a checkout.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def sql_root() -> Traversable:
    """The package's sql/ directory: numbered migrations, and named queries in queries/."""
    return files("mediasync") / "sql"


@cache
def _queries(group: str) -> dict[str, str]:
    text = (sql_root() / "queries" / f"{group}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def query(group: str, name: str) -> str:
    """The named query `name` from sql/queries/<group>.sql."""
    try:
        return _queries(group)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in sql/queries/{group}.sql") from None
