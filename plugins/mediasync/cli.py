"""The `mediasync` command line. Entry point only: parse, call a service, print; no business logic.

Every failure mediasync expects (bad setting, database down, Cloudinary error) becomes one line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import typer

from mediasync import settings_file
from mediasync.cli_deletions import deletions_app
from mediasync.cli_requests import request_options
from mediasync.cli_support import (
    RUN_FAILED,
    cli_database,
    cli_errors,
    cli_services,
    cli_user,
    emit,
    key_values,
    setup_logging,
    silent_logs,
)
from mediasync.errors import InvalidInput
from mediasync.services.maintenance_requests import ProcessQueueRequest, RetentionRequest
from mediasync.services.reconcile.request import ReconcileRequest

app = typer.Typer(help="Keep media_files, Cloudinary and the media library in sync.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
queue_app = typer.Typer(help="The Cloudinary cleanup queue.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(queue_app, name="queue")
notifications_app = typer.Typer(help="Cloudinary notifications (Cloudinary -> database).", no_args_is_help=True)
app.add_typer(notifications_app, name="notifications")
app.add_typer(deletions_app, name="deletions")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations from sql/ in order, then the changed definitions of sql/repeatable/
    (idempotent; safe to run concurrently, through any pooler)."""
    from mediasync.config import Settings
    from mediasync.db import connection_mode
    from mediasync.repository.migrations import upgrade_all

    with cli_errors():
        database = cli_database()
        result = upgrade_all(database, database_settings=Settings.from_env().database_settings())
        for version in result.migrations:
            typer.echo(f"applied {version}")
        for name in result.repeatables:  # current definitions of functions and triggers, not history
            typer.echo(f"defined {name} (sql/repeatable)")
        typer.echo(f"database is up to date ({len(result.migrations)} migration(s) applied)")
        if result.repeatables:
            typer.echo(f"{len(result.repeatables)} changed definition(s) of sql/repeatable re-applied")
        typer.echo(f"connection: {connection_mode(database).mode}; the migration lock was held by a transaction of "
                   f"its own, which holds through any pooler")


@queue_app.command("stats")
def queue_stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts per status, oldest pending age, recent errors."""
    from mediasync.services.queue import CleanupQueue

    with cli_errors():
        stats = CleanupQueue(cli_database()).stats()
        emit(stats, as_json, lambda data: f"{stats.summary()}\n{_render_stats(data)}")


def _render_stats(stats: dict[str, Any]) -> str:
    lines = [key_values({k: v for k, v in stats.items() if k != "recent_errors"})]
    for err in stats.get("recent_errors", []):
        lines.append(f"  failed {err['public_id']} ({err['attempts']} attempts): {err['last_error']}")
    return "\n".join(lines)


@queue_app.command("process")
@request_options(ProcessQueueRequest)
def queue_process(request: ProcessQueueRequest,
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Process the cleanup queue now: delete queued assets from Cloudinary in batches."""
    from mediasync.cli_progress import progress

    with cli_errors():
        services = cli_services(pooled=True)  # the drain's claims and guards share the stats' connections
        try:
            backlog = services.processor.backlog(include_failed=bool(request.retry_failed))
            with progress("queue process", total=backlog or None):
                result = services.processor.process(request, requested_by=cli_user())
        finally:
            services.db.close()
        emit(result, as_json, lambda data: f"{result.summary()}\n{key_values(data)}")


@app.command("reconcile")
@request_options(ReconcileRequest)
def reconcile(request: ReconcileRequest,
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Diff the Cloudinary listing of the managed folders against media_files; repair with --apply."""
    from mediasync.cli_progress import progress

    with cli_errors(RUN_FAILED):
        services = cli_services()
        with progress("reconcile"):
            result = services.reconciler.run(request, requested_by=cli_user())
        emit(result, as_json, _render_reconcile)
        if result.status in ("failed", "incomplete", "aborted"):
            raise typer.Exit(RUN_FAILED)


def _render_reconcile(result: dict[str, Any]) -> str:
    head = {k: result[k] for k in ("run_id", "mode", "kind", "kind_reason", "listed_since", "status", "message",
                                    "resume_at", "assets_listed", "report_csv", "report_html", "report_url")
            if result.get(k) not in (None, "")}
    return key_values(head) + "\n" + key_values({f"  {k}": v for k, v in sorted(result["counts"].items())})


@notifications_app.command("setup")
def notifications_setup(
    transport: str = typer.Option(..., "--transport", help="webhook (Cloudinary POSTs to --url) or poll "
                                                         "(Cloudinary buffers on --channel; the DAG drains it)."),
    url: str | None = typer.Option(None, "--url", help="Public URL of /mediasync/api/v1/cloudinary/notifications."),
    channel: str | None = typer.Option(None, "--channel", help="Poll channel (default MEDIASYNC_NOTIFICATION_CHANNEL "
                                                             "or 'mediasync')."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create the Cloudinary triggers for the followed event types (idempotent: existing ones are kept)."""
    with cli_errors():
        services = cli_services()
        if transport == "webhook" and url and not channel:
            result = services.notifications.setup("webhook", url)
        elif transport == "poll" and not url:
            result = services.notifications.setup("poll", channel or services.settings.notification_channel)
        else:
            raise InvalidInput("use --transport webhook --url URL, or --transport poll [--channel NAME]")
        emit(result, as_json, key_values)


@notifications_app.command("status")
def notifications_status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The triggers configured in Cloudinary and the notifications received (last one first)."""
    with cli_errors():
        emit(cli_services().notifications.status(), as_json, _render_notification_status)


def _render_notification_status(status: dict[str, Any]) -> str:
    lines = [key_values({k: v for k, v in status.items() if k not in ("triggers", "triggers_error")})]
    if status.get("triggers_error"):
        lines.append(f"triggers: could not list ({status['triggers_error']})")
    for t in status.get("triggers") or []:
        lines.append(f"  trigger {t['event_type']:<32} {t['uri_type']:<8} {t['uri']}")
    if status.get("triggers") == []:
        lines.append("no triggers: run `mediasync notifications setup`")
    return "\n".join(lines)


@notifications_app.command("poll")
def notifications_poll(
    channel: str | None = typer.Option(None, "--channel", help="Poll channel (default the configured one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Drain the poll channel once: apply each notification, acknowledge it after commit."""
    with cli_errors():
        result = cli_services().notifications.drain(channel)
        emit(result, as_json, key_values)
        if result.failed:
            raise typer.Exit(1)


@app.command("verify")
def verify() -> None:
    """End-to-end check of every sync feature against the configured database and Cloudinary."""
    from mediasync.verify import SyncVerifier

    with cli_errors(), silent_logs():
        results = SyncVerifier(cli_services()).run()
    width = max(len(r.name) for r in results)
    for r in results:
        typer.echo(f"{r.outcome}  {r.name.ljust(width)}  {r.seconds:6.2f}s  {r.detail}")
    counts = {o: sum(r.outcome == o for r in results) for o in ("PASS", "FAIL", "SKIP")}
    typer.echo(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    failed = counts["FAIL"]
    if failed:
        raise typer.Exit(1)


@app.command("retention")
@request_options(RetentionRequest)
def retention(request: RetentionRequest, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Purge completed cleanup-queue entries older than N days (and undo journals past
    MEDIASYNC_UNDO_DAYS), in batches."""
    from mediasync.config import Settings
    from mediasync.services.retention import Retention

    with cli_errors():
        purged = Retention(cli_database(), settings=Settings.from_env()).purge(request, requested_by=cli_user())
        emit(purged, as_json, lambda data: f"{purged.summary()}\n{key_values(data)}")


@app.command("emulator")
def emulator(
    host: str = typer.Option("127.0.0.1", "--host", envvar="MEDIASYNC_EMULATOR_HOST",
                             help="Address to bind; anything but loopback needs --control-token."),
    port: int = typer.Option(9444, "--port", envvar="MEDIASYNC_EMULATOR_PORT"),
    data_dir: Path = typer.Option(Path(".mediasync/emulator"), "--data-dir", envvar="MEDIASYNC_EMULATOR_DATA_DIR"),
    cloud_name: str | None = typer.Option(
        None, "--cloud-name", help="Default: MEDIASYNC_EMULATOR_CLOUD, else CLOUDINARY_URL's cloud, else demo."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Default: MEDIASYNC_EMULATOR_API_KEY, else CLOUDINARY_URL's key, else mediasync-key."),
    api_secret: str | None = typer.Option(
        None, "--api-secret",
        help="Default: MEDIASYNC_EMULATOR_API_SECRET, else CLOUDINARY_URL's secret, else mediasync-secret."),
    folder_mode: str = typer.Option("fixed", "--folder-mode", envvar="MEDIASYNC_EMULATOR_FOLDER_MODE",
                                    help="fixed (folder = public_id prefix) or dynamic (asset_folder, display_name)."),
    control_token: str | None = typer.Option(
        None, "--control-token", envvar="MEDIASYNC_EMULATOR_CONTROL_TOKEN",
        help="Token the /_emulator/* control API requires (Bearer or X-Emulator-Token); required off loopback."),
    allow_remote_fetch: bool = typer.Option(False, "--allow-remote-fetch",
                                            help="Let uploads name a remote http(s) file=URL (refused by default)."),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0, help="Added to every response."),
    fail_rate: float = typer.Option(0.0, "--fail-rate", min=0.0, max=1.0, help="Share of requests answered 500."),
    rate_limit: int = typer.Option(0, "--rate-limit", min=0, help="Admin API calls per hour (0: unlimited)."),
    backups: bool = typer.Option(False, "--backups", envvar="MEDIASYNC_EMULATOR_BACKUPS",
                                 help="Automatic backup: deleted assets leave placeholders that restore brings back."),
) -> None:
    """Run the local Cloudinary-compatible server (credentials also from CLOUDINARY_URL in its environment)."""
    from mediasync.emulator.app import serve
    from mediasync.emulator.config import FOLDER_MODES, Credentials, credentials_from_env

    if folder_mode not in FOLDER_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(FOLDER_MODES)}", param_hint="--folder-mode")
    try:
        base = credentials_from_env()
    except ValueError as exc:
        typer.echo(f"mediasync: error: {exc}", err=True)
        raise typer.Exit(1) from None
    credentials = Credentials(cloud_name or base.cloud_name, api_key or base.api_key, api_secret or base.api_secret)
    with cli_errors():
        try:
            serve(host=host, port=port, data_dir=data_dir, latency_ms=latency_ms, fail_rate=fail_rate,
                  rate_limit=rate_limit, credentials=credentials, folder_mode=folder_mode,
                  allow_remote_fetch=allow_remote_fetch, control_token=control_token, backups=backups)
        except ValueError as exc:
            typer.echo(f"mediasync: error: {exc}", err=True)
            raise typer.Exit(2) from None


def main() -> None:
    settings_file.load()  # `make run`'s .mediasync/mediasync.env, when nothing else configures mediasync
    setup_logging()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        # The process exits next: the interpreter's final collections over every imported module's
        # objects take ~70 ms and free nothing the operating system does not take back at once.
        gc.freeze()


if __name__ == "__main__":
    main()
