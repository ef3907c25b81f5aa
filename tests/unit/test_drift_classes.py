"""Drift classes are declared once (mediasync.drift): what counts as drift, what is only reported
beside it, and where the page gets the kinds (the API, never a list of its own)."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.resources import files

from mediasync.drift import DRIFT_CLASSES, DRIFT_KINDS, ITEM_KINDS, OUTCOME_KINDS, drift_total, missed_by_notifications
from mediasync.services.reconcile.run import ReconciliationRun


def test_identity_filled_is_an_outcome_not_drift():
    assert OUTCOME_KINDS == ("identity_filled",)
    assert "identity_filled" not in DRIFT_KINDS and set(ITEM_KINDS) == set(DRIFT_KINDS) | set(OUTCOME_KINDS)
    counts = {"identity_filled": 1000, "metadata_mismatch": 2, "assets_listed": 1002}
    assert drift_total(counts) == 2 and missed_by_notifications(counts) == 2
    filled = next(c for c in DRIFT_CLASSES if c.kind == "identity_filled")
    assert (filled.action, filled.notified, filled.drift) == ("update_row", False, False)


def test_a_run_carries_its_drift_total_for_the_page():
    run = ReconciliationRun(id=1, mode="dry_run", status="completed", started_at=datetime.now(timezone.utc),
                            counts={"orphan_asset": 3, "identity_filled": 40, "assets_listed": 50})
    assert run.as_dict()["drift_total"] == 3


def test_the_page_takes_the_drift_kinds_from_the_api():
    static = files("mediasync.api").joinpath("static")
    page = "".join(static.joinpath(name).read_text() for name in ("index.html", "page.js"))
    assert [kind for kind in ITEM_KINDS if kind in page] == []
    assert "drift.kinds" in page and "r.drift_total" in page
