"""What an undo can give back, decided from the journal and the queue, and Cloudinary's backups asked
for the assets that are already gone.

A journaled row comes back when its asset is still there (its entry was cancelled in time, is still
held, failed, or was skipped because a live row used the asset) or Cloudinary restored it from a
backup. A row that was already soft-deleted when it was removed comes back as it was, asset or not.
Everything else is reported with the reason, and its row stays deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from mediasync.db import Row
from mediasync.services.deletions.models import NotRestorable, UndoResult
from mediasync.store import AssetRestorer, RestoreOutcome

AssetKey = tuple[str, str, str]  # public_id, resource_type, type
AssetState = Literal["kept", "gone", "not_needed"]
GONE_OUTCOMES = (None, "deleted", "not_found")


def _asset_state(entry_status: str | None, entry_outcome: str | None) -> AssetState:
    """Whether the batch's deletion reached Cloudinary: only a completed entry (other than one
    skipped because a live row used the asset) deleted it; cancelled, held, failed entries did not."""
    if entry_status == "completed" and entry_outcome in GONE_OUTCOMES:
        return "gone"
    return "kept"


@dataclass(frozen=True)
class Candidate:
    """A journaled row (or, for a batch with no rows, a queued asset) and its asset's state."""

    key: AssetKey
    asset_id: str | None
    media_file_id: UUID | None
    state: AssetState


@dataclass
class UndoPlan:
    candidates: list[Candidate] = field(default_factory=list)
    blocked: list[NotRestorable] = field(default_factory=list)

    @classmethod
    def of(cls, batch: Row, journaled: Sequence[Row], without_rows: Sequence[Row]) -> UndoPlan:
        plan = cls()
        soft = batch["operation"] == "UPDATE"
        for row in journaled:
            key: AssetKey = (row["public_id"], row["resource_type"], row["type"])
            if row["deleted_again_by"] is not None:
                plan._block(key, row["id"], f"removed again by deletion batch {row['deleted_again_by']}; "
                                            "undo that batch first")
                continue
            if soft and not row["row_exists"]:
                plan._block(key, row["id"], "the row was permanently deleted since; undo that deletion first")
                continue
            if (soft and row["current_status"] != "deleted") or (not soft and row["row_exists"]):
                continue  # already back (an earlier, interrupted undo; or restored by hand)
            state: AssetState = ("not_needed" if row["journaled_status"] == "deleted"
                                 else _asset_state(row["entry_status"], row["entry_outcome"]))
            plan.candidates.append(Candidate(key, row["asset_id"], row["id"], state))
        for entry in without_rows:
            key = (entry["public_id"], entry["resource_type"], entry["type"])
            plan.candidates.append(Candidate(key, None, None, _asset_state(entry["status"], entry["outcome"])))
        return plan

    def _block(self, key: AssetKey, media_file_id: UUID | None, reason: str) -> None:
        self.blocked.append(NotRestorable(public_id=key[0], resource_type=key[1], type=key[2],
                                          media_file_id=media_file_id, reason=reason))

    @property
    def gone(self) -> list[Candidate]:
        return [c for c in self.candidates if c.state == "gone"]

    def rows_to_restore(self, recovered: dict[AssetKey, RestoreOutcome]) -> list[UUID]:
        return [c.media_file_id for c in self.candidates if c.media_file_id is not None
                and (c.state != "gone" or recovered.get(c.key, _NOT_ASKED).restored)]

    def result(self, batch: Row, cancelled: int, recovered: dict[AssetKey, RestoreOutcome],
               restored_rows: set[UUID]) -> UndoResult:
        not_restorable = list(self.blocked)
        for c in self.gone:
            outcome = recovered.get(c.key, _NOT_ASKED)
            if not outcome.restored:
                not_restorable.append(NotRestorable(
                    public_id=c.key[0], resource_type=c.key[1], type=c.key[2], media_file_id=c.media_file_id,
                    reason=f"the asset was deleted from Cloudinary and could not be restored: {outcome.message}"))
        for c in self.candidates:
            if c.media_file_id is not None and c.media_file_id not in restored_rows and (
                    c.state != "gone" or recovered.get(c.key, _NOT_ASKED).restored):
                not_restorable.append(NotRestorable(
                    public_id=c.key[0], resource_type=c.key[1], type=c.key[2], media_file_id=c.media_file_id,
                    reason="another row now holds this row's id, public_id or asset_id"))
        return UndoResult(
            batch_id=batch["id"], decided_by=batch["decided_by"], decided_at=batch["decided_at"],
            rows_restored=len(restored_rows), entries_cancelled=cancelled,
            assets_kept=sum(c.state == "kept" for c in self.candidates),
            assets_restored=sum(o.restored for o in recovered.values()),
            not_restorable=not_restorable)


_NOT_ASKED = RestoreOutcome(restored=False, message="not asked")


class AssetRecovery:
    """Asks Cloudinary's backups for the assets an undo needs back: by asset_id where the row knew
    it (it survives renames), else by public_id per resource type and delivery type."""

    def __init__(self, store: object) -> None:
        self.store = store

    def recover(self, plan: UndoPlan) -> dict[AssetKey, RestoreOutcome]:
        gone = plan.gone
        if not gone:
            return {}
        if not isinstance(self.store, AssetRestorer):
            unable = RestoreOutcome(restored=False, message="the Cloudinary connection cannot restore from backups")
            return {c.key: unable for c in gone}
        outcomes: dict[AssetKey, RestoreOutcome] = {}
        by_asset_id = {c.asset_id: c.key for c in gone if c.asset_id}
        if by_asset_id:
            answers = self.store.restore_by_asset_ids(list(by_asset_id))
            for asset_id, key in by_asset_id.items():
                outcomes[key] = answers.get(asset_id, RestoreOutcome(False, "Cloudinary did not answer for it"))
        by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
        for c in gone:
            if not c.asset_id:
                by_kind[(c.key[1], c.key[2])].append(c.key[0])
        for (resource_type, type_), public_ids in by_kind.items():
            answers = self.store.restore(public_ids, resource_type, type_)
            for public_id in public_ids:
                outcomes[(public_id, resource_type, type_)] = answers.get(
                    public_id, RestoreOutcome(False, "Cloudinary did not answer for it"))
        return outcomes
