"""What every `mediasync` command shares: one-line errors with documented exit codes, one-line
warnings on stderr, the JSON-or-text output, and the services wired from the environment."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from mediasync.errors import ConfigError, InvalidInput, MediasyncError
from mediasync.results import Result

if TYPE_CHECKING:
    from mediasync.db import Database
    from mediasync.runtime import Services

RUN_FAILED = 3  # a reconciliation that failed, aborted or could not complete (README)


@contextmanager
def cli_errors(exit_code: int = 1) -> Iterator[None]:
    """Turn failures into one line on stderr and `exit_code` (1 unless documented otherwise):
    expected ones as they are, anything else with its type (MEDIASYNC_DEBUG=1 shows the traceback)."""
    try:
        yield
    except MediasyncError as exc:
        typer.echo(f"mediasync: error: {one_line(str(exc))}", err=True)
        refused = isinstance(exc, InvalidInput | ConfigError)  # the request itself was wrong: always 1
        raise typer.Exit(1 if refused else exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if tracebacks_wanted():
            raise
        typer.echo(f"mediasync: unexpected error: {type(exc).__name__}: {one_line(str(exc))} "
                   f"(MEDIASYNC_DEBUG=1 shows the traceback)", err=True)
        raise typer.Exit(1) from None


def one_line(text: str) -> str:
    return " ".join(text.split())


class _OneLineWarnings(logging.Handler):
    """What the services log as warnings, one line each on stderr, never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"mediasync: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                line += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            sys.stderr.write(one_line(line) + "\n")
        except Exception:  # noqa: BLE001 - a log line must never break the command
            self.handleError(record)


def tracebacks_wanted() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
               for name in ("MEDIASYNC_DEBUG", "MEDIASYNC_LOG_TRACEBACKS"))


def setup_logging() -> None:
    if tracebacks_wanted():
        return
    logger = logging.getLogger("mediasync")
    if not any(isinstance(h, _OneLineWarnings) for h in logger.handlers):
        handler = _OneLineWarnings(logging.WARNING)
        logger.addHandler(handler)
        logger.propagate = False


@contextmanager
def silent_logs() -> Iterator[None]:
    """For `verify`: its table is the whole output; what the scenarios log on purpose (simulated
    outages, retries) would only alarm."""
    logger = logging.getLogger("mediasync")
    handlers, logger.handlers = logger.handlers, [logging.NullHandler()]
    try:
        yield
    finally:
        logger.handlers = handlers


def emit(result: Result, as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """The result as its one JSON form (`--json`), or rendered for people."""
    data = result.as_dict()
    typer.echo(json.dumps(data, sort_keys=True) if as_json else render(data))


def key_values(result: dict[str, Any]) -> str:
    width = max((len(k) for k in result), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in result.items())


def cli_database() -> Database:
    from mediasync.config import Settings
    from mediasync.db import Database, database_url_from_env

    return Database(database_url_from_env(), max_attempts=Settings.from_env().max_attempts)


def cli_services(*, pooled: bool = False) -> Services:
    """The services wired from the environment; `pooled` for a command that runs many transactions
    (one pool serves them all instead of a connection each)."""
    from mediasync.runtime import services_from_env

    return services_from_env(pooled=pooled)


def cli_user() -> str:
    import getpass
    import socket

    try:
        return f"{getpass.getuser()}@{socket.gethostname()} (CLI)"
    except (KeyError, OSError):
        return "CLI"
