"""Progress of long CLI runs (`reconcile`, `queue process`), read from the services' log records so
the services stay free of display code. On a terminal one line is redrawn in place (a bar when the
total is known); otherwise — a pipe, a file, CI — each step is a plain timestamped line. Progress
goes to stderr: stdout keeps the result (and stays valid JSON under `--json`)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

BAR_WIDTH = 24


class ProgressHandler(logging.Handler):
    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        super().__init__(logging.INFO)
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self.done = 0
        self.drawn = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            claimed = record.args[0] if isinstance(record.args, tuple) and record.args else None
            if message.startswith("cleanup batch:") and isinstance(claimed, int):
                self.done += claimed  # entries claimed in this batch
            self._draw(message)
        except Exception:  # noqa: BLE001 - progress output must never break the command
            self.handleError(record)

    def _draw(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        rate = f"{self.done / elapsed:.1f}/s" if self.done and elapsed > 0 else ""
        if not self.interactive:
            self.stream.write(f"mediasync: {time.strftime('%H:%M:%S')} {self.label}: {message}\n")
            self.stream.flush()
            return
        if self.total:
            filled = min(BAR_WIDTH, int(BAR_WIDTH * self.done / self.total))
            line = f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} {rate}"
        else:
            line = f"{self.label} {elapsed:5.0f}s {rate} {message}"
        self.stream.write("\r\033[K" + line[:200])
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.interactive and self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[ProgressHandler]:
    """Show the mediasync services' INFO records as progress while the block runs."""
    handler = ProgressHandler(label, total)
    logger = logging.getLogger("mediasync")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.finish()
