"""The verification's own namespace — a folder and a tag of its own — and its removal.

Everything `mediasync verify` creates is found again by the folder prefix (rows, assets, queue
entries, listing state) or was recorded as it was made (its reconciliation run and that run's
report files); `remove()` deletes exactly that, so the history, the queue counts and the
Cloudinary listing outside the namespace are left as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mediasync.errors import MediasyncError
from mediasync.repository.media import MediaRepository
from mediasync.repository.operations import VerifyRepository
from mediasync.scope import ManagedScope, ResolvedFolderMode
from mediasync.store import DELIVERY_TYPE, RESOURCE_TYPES

if TYPE_CHECKING:
    from mediasync.runtime import Services

log = logging.getLogger(__name__)

ROOT = "mediasync-verify"
TAG = "mediasync-verify"


class VerifyNamespace:
    def __init__(self, services: Services, token: str) -> None:
        self.s = services
        self.folder = f"{ROOT}/{token}"
        self.prefix = f"{self.folder}/"
        self.runs: list[int] = []  # reconciliation runs the verification recorded
        self.public_ids: set[str] = set()  # assets it created (dynamic folders: public_ids carry no folder)
        self.repo = VerifyRepository()
        self.media_repo = MediaRepository()

    def process_own_queue(self) -> None:
        """Process the namespace's pending queue entries, and only those."""
        with self.s.db.transaction() as conn:
            ids = self.repo.pending_entry_ids(conn, self.prefix, sorted(self.public_ids))
        if ids:
            self.s.queue.process_batch(len(ids), ids=ids)

    def remove(self, assets: Callable[[str], set[str]], mode: Callable[[], ResolvedFolderMode]) -> None:
        """Delete rows, assets, queue entries, listing state, runs and report files of the namespace.
        A failure is logged and leaves only namespace leftovers, which the next `verify` ignores."""
        try:
            with self.s.db.transaction() as conn:
                self.media_repo.delete_under_prefix(conn, self.prefix)  # the trigger queues their assets
            for resource_type in RESOURCE_TYPES:
                if ids := sorted(assets(resource_type)):
                    self.s.store.delete_many(ids, resource_type, DELIVERY_TYPE)
            with self.s.db.transaction() as conn:
                self.repo.delete_queue_entries(conn, self.prefix, sorted(self.public_ids))
                self.repo.delete_listing_state(conn, ManagedScope((self.folder,), mode()).inventory_key)
                for run_id in self.runs:
                    for path in self.repo.report_paths(conn, run_id):
                        Path(path).unlink(missing_ok=True)
                    self.repo.delete_run(conn, run_id)
        except MediasyncError as exc:
            log.warning("verify cleanup incomplete (%s): leftovers stay under %s", exc, self.folder)
