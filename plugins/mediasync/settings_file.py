"""The settings file `make run` writes (`.mediasync/mediasync.env`), read by the `mediasync` CLI
when nothing else configures it, so the CLI works against the running stack with no extra setup.

Where it is looked for, first found wins: `MEDIASYNC_SETTINGS_FILE` (empty: read none),
`$MEDIASYNC_HOME/mediasync.env`, then `.mediasync/mediasync.env` in the current directory or one
of its parents. The file holds shell-style `NAME=value` lines (so `set -a; . FILE` works too).
The environment always wins: the database settings are taken from the file only when neither
`MEDIASYNC_DATABASE_URL` nor `SUPABASE_DB_URL` is set, the Cloudinary ones only when neither
`CLOUDINARY_URL` nor `CLOUDINARY_CLOUD_NAME` is set, and any other name only when it is unset.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, MutableMapping
from pathlib import Path

FILE_NAME = "mediasync.env"
# A group is taken from the file whole or not at all: half of one configuration and half of another
# would point the CLI at a mix of two setups.
GROUPS = (
    ("MEDIASYNC_DATABASE_URL", "SUPABASE_DB_URL"),
    ("CLOUDINARY_URL", "CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET"),
)


def find(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    env = os.environ if env is None else env
    if "MEDIASYNC_SETTINGS_FILE" in env:
        explicit = env["MEDIASYNC_SETTINGS_FILE"].strip()
        return Path(explicit) if explicit and Path(explicit).is_file() else None
    if env.get("MEDIASYNC_HOME", "").strip():
        candidate = Path(env["MEDIASYNC_HOME"].strip()) / FILE_NAME
        return candidate if candidate.is_file() else None
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".mediasync" / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            words = words[1:]
        if len(words) == 1 and "=" in words[0]:
            name, value = words[0].split("=", 1)
            values[name.strip()] = value
    return values


def write(path: Path, values: Mapping[str, str], header: str = "") -> None:
    """Write `values` as a settings file, readable by the owner only (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{name}={shlex.quote(value)}" for name, value in values.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def apply(values: Mapping[str, str], env: MutableMapping[str, str]) -> list[str]:
    """Set the names from `values` that the environment does not configure; returns those set."""
    grouped = {name for group in GROUPS for name in group}
    taken = []
    for group in GROUPS:
        if any(env.get(name, "").strip() for name in group):
            continue
        for name in group:
            if values.get(name):
                env[name] = values[name]
                taken.append(name)
    for name, value in values.items():
        if name not in grouped and not env.get(name, "").strip():
            env[name] = value
            taken.append(name)
    return taken


def load(env: MutableMapping[str, str] | None = None) -> Path | None:
    """Find the settings file and apply it to `env` (default: os.environ); returns the file used."""
    env = os.environ if env is None else env
    path = find(env)
    if path is None:
        return None
    try:
        values = parse(path.read_text())
    except (OSError, ValueError):
        return None
    apply(values, env)
    return path
