"""Held deletion batches reach an operator: the cleanup DAG run that finds one fails on purpose
(red in the grid) and its task's `on_failure_callback` calls the notifier the operator configured.

`MEDIASYNC_ALERT_NOTIFIER` names any Airflow notifier by dotted path — a class (instantiated with
the JSON object in `MEDIASYNC_ALERT_NOTIFIER_KWARGS`, which may use Jinja templates as Airflow's
notifiers do) or a ready instance or function in a module of the operator's — e.g.
`airflow.providers.smtp.notifications.smtp.SmtpNotifier` with
`{"to": "ops@example.com", "subject": "mediasync: {{ ti.task_id }} held deletions"}`. It is imported
when a run fails, never at DAG parse; a notifier that cannot be loaded or fails is logged, and the
run stays red either way.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from mediasync.config import Settings
from mediasync.errors import ConfigError

log = logging.getLogger(__name__)


def held_batches_message(batches: Sequence[Any]) -> str:
    """Which batches are held, why, and the one command (or click) that decides each."""
    lines = [f"{len(batches)} deletion batch{'es' if len(batches) != 1 else ''} held by the delete brake "
             "(no Cloudinary call is made for them until someone decides):"]
    for b in batches:
        lines.append(f"  batch {b.id}: {b.summary} — {b.hold_reason}")
        lines.append(f"    release: mediasync deletions release {b.id}   undo: mediasync deletions undo {b.id}   "
                     f"(or the Media Library page, or POST /mediasync/api/v1/deletions/{b.id}/release|undo)")
    return "\n".join(lines)


def _import(dotted_path: str) -> Any:
    """The object `package.module.Name` names."""
    module_name, _, name = dotted_path.rpartition(".")
    if not module_name:
        raise ImportError(f"{dotted_path!r} is not a dotted path (package.module.Name)")
    return getattr(importlib.import_module(module_name), name)


def notify_operator(context: dict[str, Any]) -> None:
    """A task's on_failure_callback: hand the failure to the operator's notifier, if one is set."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        log.error("alert not sent: %s", exc)
        return
    if not settings.alert_notifier:
        log.info("no MEDIASYNC_ALERT_NOTIFIER configured; the failed run in the grid is the alert")
        return
    try:
        target = _import(settings.alert_notifier)
        if isinstance(target, type):
            target = target(**json.loads(settings.alert_notifier_kwargs))
        target(context)
        log.info("alert sent through %s", settings.alert_notifier)
    except Exception:  # a broken notifier must not hide the failure it reports
        log.exception("the notifier %s failed; the failed run in the grid is the alert", settings.alert_notifier)
