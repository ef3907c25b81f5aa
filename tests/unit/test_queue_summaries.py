"""The one-line summaries the DAG task logs and the CLI print: every count, no hand-written format."""

from __future__ import annotations

from datetime import datetime, timezone

from mediasync.config import Settings
from mediasync.services.queue import ProcessResult, QueueConfig, QueueStats
from mediasync.services.queue.results import AnalyzeResult, RescueResult, ReviveResult
from mediasync.services.retention import PurgeResult


def test_a_drain_summary_is_one_line_with_every_count():
    result = ProcessResult(claimed=250, deleted=240, not_found=5, skipped_in_use=1, retrying=2, failed=1,
                           rate_limited=1, admin_calls=3, upload_api_calls=7, deleted_via_admin=238,
                           deleted_via_upload_api=7, rescued=4, retried_failed=0, analyzed=True, batches=3,
                           stopped_by="rate_limited", duration_seconds=1.234)
    line = result.summary()
    assert "\n" not in line
    assert line == ("cleanup queue: claimed=250 deleted=240 not_found=5 skipped_in_use=1 retrying=2 failed=1 "
                    "rate_limited=1 via_admin=238 (admin_calls=3) via_upload_api=7 (upload_api_calls=7) "
                    "rescued=4 retried_failed=0 analyzed=yes batches=3 stopped_by=rate_limited in 1.23s")


def test_the_statistics_summary_names_held_and_failed_work():
    stats = QueueStats(pending=2, processing=1, completed=9, failed=1, held=3, cancelled=0, held_batches=1, due=2,
                       expired_leases=0, oldest_pending_age_seconds=12.6, next_retry_at=None, recent_errors=[])
    assert stats.summary() == ("cleanup queue: pending=2 processing=1 held=3 held_batches=1 failed=1 completed=9 "
                               "cancelled=0 due=2 expired_leases=0 oldest_pending=13s recent_errors=0")


def test_maintenance_and_retention_summaries():
    assert RescueResult(rescued=3).summary() == "cleanup rescuer: 3 entries whose lease expired returned"
    assert ReviveResult(revived=2).summary() == "cleanup retry: 2 failed entries back to pending"
    assert AnalyzeResult(analyzed=False, changes=10, estimated_rows=100).summary() == (
        "cleanup analyzer: statistics still fresh (10 rows more than the planner's 100)")
    purge = PurgeResult(retention_days=30, cutoff=datetime(2026, 1, 1, tzinfo=timezone.utc), deleted=5, batches=1,
                        undo_days=30, undo_journals_purged=2, duration_seconds=0.5)
    assert purge.summary() == ("retention: deleted 5 completed entries older than 30 days in 1 batches, "
                               "2 undo journals past 30 days purged (0.50s)")


def test_the_queue_config_is_built_from_the_settings_and_the_environment():
    config = QueueConfig.from_settings(Settings.from_env({"MEDIASYNC_MAX_ATTEMPTS": "7",
                                                         "MEDIASYNC_CLEANUP_CONCURRENCY": "2"}))
    assert (config.max_attempts, config.concurrency, config.batch_size) == (7, 2, 100)
    assert config.with_overrides(concurrency=0, lease=None).concurrency == 1  # at least one chunk in flight
    assert QueueConfig.from_settings(Settings()).max_attempts == Settings.max_attempts
