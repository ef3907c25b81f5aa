"""A reconciliation run as it is recorded: the one model the page, the API, the CLI and the
reports read. What one call of `Reconciler.run` returns is that run (`ReconcileResult`), with the
few facts only the call knows: why it listed as it did, how long it took, when it may go on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, computed_field

from mediasync.drift import drift_total
from mediasync.results import Result


class ReconciliationRun(Result):
    """A recorded run, or a request Airflow has not run yet (`id` None, status `requested`)."""

    id: int | None
    mode: Literal["dry_run", "apply"]
    kind: Literal["full", "incremental", "auto"] = Field("full", description="full listing, or only the assets "
                                                         "uploaded since the previous complete run (incremental)")
    listed_since: datetime | None = Field(None, description="incremental: the assets uploaded after this were listed")
    status: str
    counts: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    listing_complete: bool = False
    assets_listed: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    finished_at: datetime | None = None
    triggered_by: str | None = Field(None, description="who or what started it: a user and where, or the schedule")
    dag_id: str | None = None
    dag_run_id: str | None = None
    report_url: str | None = Field(default=None, description="copy in Supabase Storage (signed URL), where configured")
    report_html: str | None = Field(default=None, description="the HTML report (from the API: its link on the plugin)")
    report_csv: str | None = Field(default=None, description="every item as CSV (from the API: its link on the plugin)")

    @computed_field(description="items over every drift class (mediasync.drift); outcomes such as "  # type: ignore[prop-decorator]
                                "identity_filled are counted beside it, not in it")
    @property
    def drift_total(self) -> int:
        return drift_total(self.counts)


class ReconcileResult(ReconciliationRun):
    """The run one call of `Reconciler.run` made, as it ended."""

    id: int
    message: str = ""
    kind_reason: str = ""
    duration_seconds: float = 0.0
    resume_at: datetime | None = None  # an incomplete listing can go on then (Cloudinary's allowance resets)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def run_id(self) -> int:
        """The run's id, as the task log, `--json` and the XCom name it."""
        return self.id
