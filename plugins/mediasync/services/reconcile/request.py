"""What a reconciliation may be asked for: the one declaration of its parameters.

The `mediasync_reconcile` DAG's Params, `mediasync reconcile`'s options and the body of
`POST /api/v1/reconciliation/runs` are generated from this model (`mediasync.operation_requests`);
`Reconciler.run` takes it. A run a schedule starts applies (the DAG says so); every other run is a
dry run unless `apply`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mediasync.operation_requests import OperationRequest, from_setting
from mediasync.public_ids import folder_problem

ListingKind = Literal["auto", "full", "incremental"]


class ReconcileRequest(OperationRequest):
    """One reconciliation, as asked for from Airflow, the CLI or the page."""

    apply: bool = Field(False, title="Apply repairs",
                        description="Repair drift (queue deletions, update rows); off: a dry run that only reports.")
    folder: str | None = Field(None, title="Folder", max_length=255,
                               description="Only this managed folder: narrows the scope, never widens it. "
                                           "Empty: every managed folder.")
    scope: Literal["managed", "account"] = Field(
        "managed", title="Scope",
        description="managed: only MEDIASYNC_MANAGED_FOLDERS (other apps' assets are never touched). account: the "
                    "whole Cloudinary account, an explicit opt-in; deletions still respect the cap unless force.")
    kind: ListingKind = Field(
        "auto", title="Listing",
        description="auto: a full listing every MEDIASYNC_RECONCILE_FULL_EVERY_DAYS days and whenever the last run "
                    "found drift Cloudinary's notifications missed; in between only the assets uploaded since the "
                    "last complete run (Search API). full or incremental: that listing.")
    force: bool = Field(False, title="Force", description="Allow deletions above the safety cap.")
    max_delete_fraction: float | None = from_setting(
        "reconcile_max_delete_fraction", "MEDIASYNC_RECONCILE_MAX_DELETE_FRACTION",
        "Abort when deletions exceed max(100, this × assets listed).", ge=0, le=1, title="Max delete fraction")
    grace_minutes: int | None = from_setting(
        "reconcile_grace_minutes", "MEDIASYNC_RECONCILE_GRACE_MINUTES",
        "Assets younger than this many minutes are not orphans yet (an upload whose row is on its way).",
        ge=0, title="Grace minutes")

    @field_validator("folder")
    @classmethod
    def _safe_folder(cls, folder: str | None) -> str | None:
        if not folder or not folder.strip("/"):
            return None
        if problem := folder_problem(folder.strip("/")):
            raise ValueError(f"folder {problem}")
        return folder.strip("/")
