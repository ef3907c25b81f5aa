"""Reconciliation reports: CSV of every drift item and an HTML summary (pandas), rendered from
the database in one place (`render_reports`: the run that wrote them and the API server that
serves them read the same rows), optionally copied to Supabase Storage so people can open them
without access to the Airflow workers."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from mediasync.db import Database
from mediasync.errors import NotFound
from mediasync.repository.operations import OperationsRepository
from mediasync.repository.reconciliation import ReconciliationRepository

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

HTML_ITEM_LIMIT = 1000
SIGNED_URL_SECONDS = 7 * 24 * 3600
COLUMNS = ["kind", "action", "public_id", "resource_type", "type", "media_file_id", "queue_id", "details"]
_TEMPLATES = Environment(loader=PackageLoader("mediasync.services.reconcile", "templates"),
                         autoescape=select_autoescape(["html", "j2"]), trim_blocks=False)


@dataclass(frozen=True)
class ReportFiles:
    csv: Path
    html: Path


def render_reports(db: Database, run_id: int, directory: Path) -> ReportFiles:
    """The recorded run's reports, written into `directory` from its row and its items (streamed
    through a server-side cursor: flat memory for big drifts)."""
    with db.session() as conn, conn.transaction():
        run = OperationsRepository().run(conn, run_id)
        if run is None:
            raise NotFound(f"no reconciliation run {run_id}")
        finished = run["finished_at"]
        summary = {"run_id": run_id, "mode": run["mode"], "status": run["status"], "message": run["message"] or "",
                   "assets_listed": run["assets_listed"],
                   "duration_seconds": round((finished - run["started_at"]).total_seconds(), 3) if finished else 0.0}
        return write_reports(directory, summary, run["counts"], ReconciliationRepository().report_items(conn, run_id))


def write_reports(directory: Path, run: dict[str, Any], counts: dict[str, Any],
                  item_chunks: Iterable[list[dict[str, Any]]]) -> ReportFiles:
    """Stream items into the CSV chunk by chunk; the HTML shows the counts and the first items."""
    import pandas as pd  # at the end of a run only: a run's start (and every other command) skips its 0.4 s import

    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / f"reconciliation-{run['run_id']}.csv"
    html_path = directory / f"reconciliation-{run['run_id']}.html"
    preview: list[pd.DataFrame] = []
    shown = 0
    with csv_path.open("w", newline="") as out:
        pd.DataFrame(columns=COLUMNS).to_csv(out, index=False)
        for chunk in item_chunks:
            frame = pd.DataFrame(chunk, columns=COLUMNS)
            csv_safe(frame).to_csv(out, index=False, header=False)
            if shown < HTML_ITEM_LIMIT:
                preview.append(frame.head(HTML_ITEM_LIMIT - shown))
                shown += len(preview[-1])
    items = pd.concat(preview, ignore_index=True) if preview else pd.DataFrame(columns=COLUMNS)
    html_path.write_text(_render_html(run, counts, items))
    return ReportFiles(csv_path, html_path)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe
    (OWASP's advice against CSV injection); public_ids and error messages come from outside."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell of the frame escaped with `csv_cell` (the HTML report escapes on its own)."""
    return frame.map(csv_cell)


def _render_html(run: dict[str, Any], counts: dict[str, Any], items: pd.DataFrame) -> str:
    """The HTML summary, rendered by a template (escaping is the template engine's job)."""
    rows = items.astype(object).where(items.notna(), None).to_dict("records")
    return _TEMPLATES.get_template("report.html.j2").render(
        run=run, counts=sorted(counts.items()), columns=COLUMNS, items=rows,
        truncated=len(rows) >= HTML_ITEM_LIMIT, limit=HTML_ITEM_LIMIT)


class SupabaseReportStore:
    """Uploads report files to a private Supabase Storage bucket and returns a signed URL."""

    def __init__(self, url: str, service_role_key: str, bucket: str = "mediasync-reports",
                 http_client: Any = None) -> None:
        from supabase import create_client
        from supabase.lib.client_options import SyncClientOptions

        options = SyncClientOptions(httpx_client=http_client) if http_client is not None else None
        self.client = create_client(url, service_role_key, options=options) if options else create_client(
            url, service_role_key)
        self.bucket = bucket

    def upload(self, path: Path, object_name: str, content_type: str) -> str:
        """Upload (overwriting) and return a signed URL valid for a week."""
        from storage3.exceptions import StorageApiError

        files = self.client.storage.from_(self.bucket)
        options: Any = {"content-type": content_type, "upsert": "true"}
        try:
            files.upload(object_name, path.read_bytes(), options)
        except StorageApiError as exc:
            if "not found" not in str(exc).lower():
                raise
            log.info("creating private Supabase Storage bucket %s", self.bucket)
            self.client.storage.create_bucket(self.bucket, options={"public": False})
            files.upload(object_name, path.read_bytes(), options)
        signed = files.create_signed_url(object_name, SIGNED_URL_SECONDS).get("signedURL")
        if not signed:
            raise RuntimeError(f"Supabase Storage returned no signed URL for {object_name}")
        return str(signed)
