-- Named queries of the operator's views: runs with who started them, run requests from Airflow,
-- and the series the page's charts draw. Read-only except for the request/attribution bookkeeping.

-- name: record_request
-- A run was asked for (page, Airflow UI, schedule, CLI): remember who asked, before the run row exists.
INSERT INTO mediasync.reconciliation_requests (dag_id, dag_run_id, requested_by, conf)
VALUES (%(dag_id)s, %(dag_run_id)s, %(requested_by)s, %(conf)s)
ON CONFLICT (dag_id, dag_run_id) DO NOTHING;

-- name: requester
SELECT requested_by FROM mediasync.reconciliation_requests WHERE dag_id = %(dag_id)s AND dag_run_id = %(dag_run_id)s;

-- name: attribute_run
-- The task knows its run id now: tie the run to its DAG run and to who asked for it.
WITH linked AS (
    UPDATE mediasync.reconciliation_requests SET run_id = %(run_id)s
     WHERE dag_id = %(dag_id)s AND dag_run_id = %(dag_run_id)s
)
UPDATE mediasync.reconciliation_runs
   SET triggered_by = %(triggered_by)s, dag_id = %(dag_id)s, dag_run_id = %(dag_run_id)s
 WHERE id = %(run_id)s;

-- name: runs_with_requests
-- Recorded runs and, first, requests whose task has not recorded a run yet (the last day's only: a
-- request whose DAG run never started is not news forever).
SELECT * FROM (
    SELECT r.id, r.mode, r.kind, r.status, r.counts, r.message, r.listing_complete, r.assets_listed, r.params,
           r.started_at, r.finished_at, r.report_url,
           coalesce(r.triggered_by, q.requested_by) AS triggered_by, r.dag_id, r.dag_run_id
      FROM mediasync.reconciliation_runs r
      LEFT JOIN mediasync.reconciliation_requests q ON q.run_id = r.id
    UNION ALL
    SELECT NULL, CASE WHEN (q.conf ->> 'apply')::boolean THEN 'apply' ELSE 'dry_run' END,
           coalesce(q.conf ->> 'kind', 'auto'), 'requested',
           '{}'::jsonb, 'waiting for Airflow to run it', false, 0, q.conf, q.requested_at, NULL, NULL,
           q.requested_by, q.dag_id, q.dag_run_id
      FROM mediasync.reconciliation_requests q
     WHERE q.run_id IS NULL AND q.requested_at > now() - interval '1 day'
       AND NOT EXISTS (SELECT 1 FROM mediasync.reconciliation_runs r
                        WHERE r.dag_id = q.dag_id AND r.dag_run_id = q.dag_run_id)
) runs
ORDER BY started_at DESC, id DESC NULLS FIRST
LIMIT %(limit)s;

-- name: run
SELECT id, mode, kind, status, counts, message, listing_complete, assets_listed, params, started_at, finished_at,
       report_url, triggered_by, dag_id, dag_run_id
  FROM mediasync.reconciliation_runs WHERE id = %(run_id)s;

-- name: run_of_dag_run
SELECT id FROM mediasync.reconciliation_runs WHERE dag_id = %(dag_id)s AND dag_run_id = %(dag_run_id)s
 ORDER BY id DESC LIMIT 1;

-- name: queue_series
-- Per hour over the last %(hours)s hours: entries enqueued, completed, failed, and the backlog (open
-- entries) at the end of the hour. Failed entries stop counting as backlog when they failed.
WITH hours AS (
    SELECT generate_series(date_trunc('hour', now()) - (%(hours)s - 1) * interval '1 hour',
                           date_trunc('hour', now()), interval '1 hour') AS hour
), recent AS (
    SELECT created_at, status, completed_at, updated_at FROM public.cloudinary_cleanup_queue
     WHERE created_at >= now() - %(hours)s * interval '1 hour' - interval '1 hour'
        OR mediasync.is_open_entry(status)
        OR completed_at >= now() - %(hours)s * interval '1 hour' - interval '1 hour'
        OR (status = 'failed' AND updated_at >= now() - %(hours)s * interval '1 hour' - interval '1 hour')
)
SELECT h.hour,
       count(*) FILTER (WHERE r.created_at >= h.hour AND r.created_at < h.hour + interval '1 hour') AS enqueued,
       count(*) FILTER (WHERE r.completed_at >= h.hour AND r.completed_at < h.hour + interval '1 hour') AS completed,
       count(*) FILTER (WHERE r.status = 'failed' AND r.updated_at >= h.hour
                          AND r.updated_at < h.hour + interval '1 hour') AS failed,
       count(*) FILTER (WHERE r.created_at < h.hour + interval '1 hour'
                          AND NOT (r.status = 'completed' AND r.completed_at < h.hour + interval '1 hour')
                          AND NOT (r.status IN ('failed', 'cancelled') AND r.updated_at < h.hour + interval '1 hour')) AS backlog
  FROM hours h LEFT JOIN recent r ON true
 GROUP BY h.hour ORDER BY h.hour;

-- name: drift_series
-- Drift per class of the last %(limit)s finished runs whose listing completed, oldest first.
SELECT id, mode, status, started_at, counts FROM (
    SELECT id, mode, status, started_at, counts FROM mediasync.reconciliation_runs
     WHERE listing_complete AND status IN ('completed', 'aborted')
     ORDER BY started_at DESC, id DESC LIMIT %(limit)s
) last ORDER BY started_at, id;

-- name: record_operation
-- A queue drain or retention purge was asked for: who asked and with what (090).
INSERT INTO mediasync.operation_requests (operation, requested_by, dag_run_id, params)
VALUES (%(operation)s, %(requested_by)s, %(dag_run_id)s, %(params)s)
RETURNING id;

-- name: finish_operation
UPDATE mediasync.operation_requests SET finished_at = now(), result = %(result)s WHERE id = %(id)s;

-- name: operation_requests
SELECT id, operation, requested_by, dag_run_id, params, requested_at, finished_at, result
  FROM mediasync.operation_requests WHERE operation = %(operation)s
 ORDER BY requested_at DESC, id DESC LIMIT %(limit)s;

-- name: purge_operation_requests
-- Retention: requests older than its horizon go with the queue entries they drained.
DELETE FROM mediasync.operation_requests WHERE requested_at < %(cutoff)s;
