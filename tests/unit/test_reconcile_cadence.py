"""The reconciliation's cadence: which runs list in full and which only what changed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mediasync.clients.cloudinary import search_expression
from mediasync.errors import InvalidInput
from mediasync.scope import ManagedScope
from mediasync.services.reconcile.cadence import INCREMENTAL_OVERLAP, plan_run

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


def history(full_days_ago: float | None, last_days_ago: float | None = 1.0, **counts: int) -> dict:
    return {"last_full_started_at": None if full_days_ago is None else NOW - timedelta(days=full_days_ago),
            "last_complete_started_at": None if last_days_ago is None else NOW - timedelta(days=last_days_ago),
            "last_complete_counts": counts}


def test_the_first_run_of_an_inventory_lists_in_full():
    plan = plan_run("auto", history(None, None), WEEK, NOW)
    assert (plan.kind, plan.uploaded_after) == ("full", None)
    assert "no complete full listing" in plan.reason


def test_between_full_listings_a_run_lists_what_was_uploaded_since_the_last_complete_run():
    plan = plan_run("auto", history(3, 1, stuck_queue=4, undeleted_asset=2), WEEK, NOW)
    assert plan.kind == "incremental"
    assert plan.uploaded_after == NOW - timedelta(days=1) - INCREMENTAL_OVERLAP
    assert plan.rows_created_after == NOW - timedelta(days=1)  # stuck or undeleted: not a missed notification


def test_a_week_after_the_last_full_listing_the_run_is_full_again():
    plan = plan_run("auto", history(7, 1), WEEK, NOW)
    assert plan.kind == "full" and "7.0 days ago" in plan.reason


@pytest.mark.parametrize("kind", ["orphan_asset", "missing_asset", "metadata_mismatch"])
def test_drift_the_notifications_missed_makes_the_next_run_full(kind):
    plan = plan_run("auto", history(2, 1, **{kind: 1}), WEEK, NOW)
    assert plan.kind == "full" and "notifications let drift through" in plan.reason


def test_full_every_zero_means_every_auto_run_is_full():
    assert plan_run("auto", history(0.5, 0.5), timedelta(0), NOW).kind == "full"


def test_asked_kinds_are_obeyed_and_incremental_needs_an_earlier_full_listing():
    assert plan_run("full", history(0.1, 0.1), WEEK, NOW).kind == "full"
    assert plan_run("incremental", history(30, 1, orphan_asset=9), WEEK, NOW).kind == "incremental"
    with pytest.raises(InvalidInput, match="run kind=full"):
        plan_run("incremental", history(None, None), WEEK, NOW)
    with pytest.raises(InvalidInput, match="kind must be one of"):
        plan_run("weekly", history(1, 1), WEEK, NOW)


@pytest.mark.parametrize(("mode", "folder_term"), [("fixed", "folder:main-uploads/*"),
                                                   ("dynamic", "asset_folder:main-uploads/*")])
def test_an_incremental_source_is_a_search_over_its_folder_since_a_moment(mode, folder_term):
    since = datetime(2026, 11, 24, 2, 0, 30, 999, tzinfo=timezone(timedelta(hours=1)))
    (source,) = ManagedScope(("main-uploads",), mode).sources(("video",), since)
    assert search_expression(source) == (f'{folder_term} AND resource_type:video AND type:upload AND '
                                         f'uploaded_at>"2026-11-24T01:00:30Z"')  # UTC with Z: Cloudinary's form
    assert source.key.endswith(":uploaded_after:2026-11-24T01:00:30Z")
    (full,) = ManagedScope(("main-uploads",), mode).sources(("video",))
    assert full.key != source.key  # a full listing's checkpoint is never resumed as an incremental one


def test_an_incremental_whole_account_search_has_no_folder_term():
    since = datetime(2026, 11, 24, tzinfo=timezone.utc)
    (source,) = ManagedScope(("main-uploads",), "fixed", whole_account=True).sources(("image",), since)
    assert search_expression(source) == 'resource_type:image AND type:upload AND uploaded_at>"2026-11-24T00:00:00Z"'
