"""`mediasync deletions`: the delete brake from the command line — list and show deletion batches,
release a held one, undo any one within MEDIASYNC_UNDO_DAYS. Entry point only."""

from __future__ import annotations

from typing import Any

import typer

from mediasync.cli_support import cli_errors, cli_services, cli_user, emit, key_values

deletions_app = typer.Typer(help="Deletion batches: what was deleted, held, released or undone.", no_args_is_help=True)


def _one_batch(b: dict[str, Any]) -> str:
    entries = ", ".join(f"{n} {status}" for status, n in sorted((b.get("entries") or {}).items())) or "no entries"
    line = f"{b['id']:>6}  {b['status']:<8}  {b['summary']}  [{entries}]"
    if b.get("hold_reason") and b["status"] == "held":
        line += f"\n        held: {b['hold_reason']}"
    if b.get("decided_by"):
        line += f"\n        {b['status']} by {b['decided_by']} at {b['decided_at']}"
    return line


@deletions_app.command("list")
def deletions_list(
    status: str | None = typer.Option(None, "--status", help="flowing, held, released or undone (default: all)."),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="Newest first, this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent deletion batches, newest first: who deleted what, when, how many, and their status."""
    with cli_errors():
        page = cli_services().deletions.list_batches(status=status, limit=limit)
        emit(page, as_json, lambda p: "\n".join(_one_batch(b) for b in p["items"]) or "no deletion batches")


@deletions_app.command("show")
def deletions_show(batch_id: int = typer.Argument(..., help="The batch's id."),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One batch: who issued it (database user, application, address, backend pid, transaction),
    why it is held, what became of its queue entries, and a sample of what it removed."""
    with cli_errors():
        detail = cli_services().deletions.get(batch_id)

        def render(d: dict[str, Any]) -> str:
            head = {k: d[k] for k in ("id", "status", "summary", "hold_reason", "source", "operation", "reason",
                                      "db_user", "application_name", "client_addr", "backend_pid", "transaction_id",
                                      "requested_by", "rows_affected", "assets", "queued", "entries", "created_at",
                                      "available_at", "decided_by", "decided_at", "undo_until") if d.get(k) not in
                    (None, "", {})}
            sample = [f"  {s['resource_type']}/{s['type']}/{s['public_id']}" for s in d["sample"]]
            return key_values(head) + ("\nsample:\n" + "\n".join(sample) if sample else "")

        emit(detail, as_json, render)


@deletions_app.command("release")
def deletions_release(batch_id: int = typer.Argument(..., help="The held batch's id."),
                      as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Let a held batch flow: its assets are deleted from Cloudinary by the next drain."""
    with cli_errors():
        result = cli_services().deletions.release(batch_id, cli_user())
        emit(result, as_json, lambda r: (
            f"batch {batch_id} was already released by {r['batch']['decided_by']}" if r["already_released"]
            else f"batch {batch_id} released: {r['released_entries']} deletions will be sent to Cloudinary"))


@deletions_app.command("undo")
def deletions_undo(batch_id: int = typer.Argument(..., help="The batch's id (held or not)."),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Undo a batch: rows back exactly as they were (tags and usage included), open deletions
    cancelled, assets already deleted restored from Cloudinary's backups where it keeps them."""
    with cli_errors():
        result = cli_services().deletions.undo(batch_id, cli_user())

        def render(r: dict[str, Any]) -> str:
            lines = [f"batch {batch_id} {'was already undone' if r['already_undone'] else 'undone'} "
                     f"(by {r['decided_by']}): {r['rows_restored']} rows restored, {r['assets_kept']} assets kept, "
                     f"{r['assets_restored']} restored from backups, {r['entries_cancelled']} deletions cancelled"]
            lines += [f"  not restored: {n['resource_type']}/{n['type']}/{n['public_id']}: {n['reason']}"
                      for n in r["not_restorable"]]
            return "\n".join(lines)

        emit(result, as_json, render)
        if result.not_restorable:
            raise typer.Exit(1)
