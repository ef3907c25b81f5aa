-- Named queries of the cleanup queue (public.cloudinary_cleanup_queue). See docs/queue.md for the states.

-- name: enqueue
-- Queue one asset as part of deletion batch %(batch_id)s (held when the batch is, after its trash
-- window); a no-op (returning the open entry) when one is already pending, processing or held.
WITH batch AS (
    SELECT id, status, available_at FROM mediasync.deletion_batches WHERE id = %(batch_id)s
), inserted AS (
    INSERT INTO public.cloudinary_cleanup_queue
           (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
    SELECT %(public_id)s, %(resource_type)s, %(type)s, %(media_file_id)s, %(reason)s, %(max_attempts)s, b.id,
           CASE WHEN b.status = 'held' THEN 'held' ELSE 'pending' END, b.available_at
      FROM batch b
    ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING
    RETURNING id
)
SELECT id FROM inserted
UNION ALL
SELECT id FROM public.cloudinary_cleanup_queue
 WHERE public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
   AND mediasync.is_open_entry(status)
LIMIT 1;

-- name: open_entry_for_asset
SELECT id, status, batch_id FROM public.cloudinary_cleanup_queue
 WHERE public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
   AND mediasync.is_open_entry(status);

-- name: open_entry_with_batch
SELECT q.id, q.status, q.available_at, q.batch_id, b.status AS batch_status, b.hold_reason, now() AS now
  FROM public.cloudinary_cleanup_queue q
  LEFT JOIN mediasync.deletion_batches b ON b.id = q.batch_id
 WHERE q.public_id = %(public_id)s AND q.resource_type = %(resource_type)s AND q.type = %(type)s
   AND mediasync.is_open_entry(q.status);

-- name: serialize_claims
-- Claims take turns: a transaction-scoped lock held until the claim commits (milliseconds). Each
-- claim then sees what the previous one took, so batches stay whole: two drains claiming the last
-- rows of the queue at once would interleave their row locks and split batches, and every partial
-- chunk costs a whole Admin API call. SKIP LOCKED still passes rows other work holds.
SELECT pg_advisory_xact_lock(hashtext('mediasync.cleanup_queue'), hashtext('claim'));

-- name: claim
-- Take up to %(limit)s due entries; SKIP LOCKED lets any number of processors run at once. Whether
-- an active row uses the asset again is asked by the guard that deletes the chunk, under its locks.
WITH picked AS (
    SELECT id FROM public.cloudinary_cleanup_queue
     WHERE status = 'pending' AND available_at <= now()
       AND (%(ids)s::bigint[] IS NULL OR id = ANY (%(ids)s::bigint[]))
     ORDER BY available_at, id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE public.cloudinary_cleanup_queue q
   SET status = 'processing',
       attempts = q.attempts + 1,
       locked_until = now() + make_interval(secs => %(lease_seconds)s),
       updated_at = now()
  FROM picked
 WHERE q.id = picked.id
RETURNING q.id, q.public_id, q.resource_type, q.type, q.media_file_id, q.reason, q.attempts, q.max_attempts;

-- name: lock_claimed
-- The guard around one deletion: lock the entries this processor still holds (same attempt, still
-- processing) for as long as Cloudinary is called. A restore or a new row for one of these assets
-- waits for the lock (020's trigger), so ownership can be re-checked and cannot change meanwhile.
SELECT q.id
  FROM public.cloudinary_cleanup_queue q
  JOIN unnest(%(ids)s::bigint[], %(attempts)s::int[]) AS u(id, attempt) ON q.id = u.id AND q.attempts = u.attempt
 WHERE q.status = 'processing'
 ORDER BY q.id
   FOR UPDATE OF q;

-- name: assets_in_use
-- Entries whose asset an active media_files row uses. Run after lock_claimed, in its own
-- statement, so the snapshot sees every restore that committed before the locks were granted.
SELECT q.id
  FROM public.cloudinary_cleanup_queue q
 WHERE q.id = ANY (%(ids)s::bigint[])
   AND EXISTS (SELECT 1 FROM public.media_files m
                WHERE m.public_id = q.public_id AND m.resource_type = q.resource_type
                  AND m.type = q.type AND m.status = 'active');

-- name: statistics_staleness
-- Rows the queue table gained since the planner last counted it, against that count: right after a
-- bulk DELETE into a queue the planner thinks tiny, every claim sorts the whole backlog. Updates
-- (claims, outcomes) do not count: they never make the planner's picture of the table wrong.
SELECT greatest(coalesce(s.n_live_tup, 0) - greatest(c.reltuples, 0), 0)::bigint AS grown,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
  FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.oid = 'public.cloudinary_cleanup_queue'::regclass;

-- name: analyze
ANALYZE public.cloudinary_cleanup_queue;

-- name: complete
-- Mark claimed entries done with what Cloudinary answered (`deleted`, `not_found`, `skipped_in_use`:
-- undo needs to know which assets are gone). Matching on the attempt number means a processor whose
-- lease was rescued (and re-claimed by another) cannot overwrite the newer claim.
UPDATE public.cloudinary_cleanup_queue q
   SET status = 'completed', completed_at = now(), locked_until = NULL, updated_at = now(),
       last_error = NULL, outcome = u.outcome,
       errors = CASE WHEN u.note IS NULL THEN q.errors
                     ELSE q.errors || jsonb_build_array(jsonb_build_object(
                          'attempt', q.attempts, 'at', now(), 'note', u.note)) END
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(notes)s::text[], %(outcomes)s::text[])
       AS u(id, attempt, note, outcome)
 WHERE q.id = u.id AND q.attempts = u.attempt AND q.status = 'processing';

-- name: fail
-- Record one failed attempt per entry: back to pending after its backoff, or failed when out of attempts.
UPDATE public.cloudinary_cleanup_queue q
   SET status = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'pending' END,
       available_at = CASE WHEN q.attempts >= q.max_attempts THEN q.available_at
                           ELSE now() + make_interval(secs => u.delay_seconds) END,
       locked_until = NULL, updated_at = now(),
       last_error = u.error,
       errors = q.errors || jsonb_build_array(jsonb_build_object(
                'attempt', q.attempts, 'at', now(), 'error', u.error, 'kind', u.kind))
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(errors)s::text[], %(kinds)s::text[],
              %(delays)s::float8[]) AS u(id, attempt, error, kind, delay_seconds)
 WHERE q.id = u.id AND q.attempts = u.attempt AND q.status = 'processing'
RETURNING q.id, q.status;

-- name: defer_rate_limited
-- The store refused for rate limiting: give the attempt back and wait until the limit resets.
UPDATE public.cloudinary_cleanup_queue q
   SET status = 'pending', attempts = q.attempts - 1, locked_until = NULL, updated_at = now(),
       available_at = greatest(now(), %(available_at)s::timestamptz),
       last_error = %(error)s::text,
       errors = q.errors || jsonb_build_array(jsonb_build_object(
                'attempt', q.attempts, 'at', now(), 'error', %(error)s::text, 'kind', 'rate_limited'))
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[]) AS u(id, attempt)
 WHERE q.id = u.id AND q.attempts = u.attempt AND q.status = 'processing';

-- name: rescue_expired
-- Entries whose processor died (lease expired) go back to pending, or to failed when out of attempts.
WITH expired AS (
    SELECT id FROM public.cloudinary_cleanup_queue
     WHERE status = 'processing' AND locked_until < now()
     ORDER BY locked_until
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE public.cloudinary_cleanup_queue q
   SET status = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'pending' END,
       available_at = now(), locked_until = NULL, updated_at = now(),
       last_error = 'rescued after lease expiry (processor stopped before recording an outcome)',
       errors = q.errors || jsonb_build_array(jsonb_build_object(
                'attempt', q.attempts, 'at', now(), 'kind', 'lease_expired',
                'error', 'rescued after lease expiry (processor stopped before recording an outcome)'))
  FROM expired
 WHERE q.id = expired.id
RETURNING q.id, q.status;

-- name: retry_failed
-- Failed entries get a fresh attempt budget; their error history is kept. An entry whose asset
-- already has a newer open entry stays failed (the newer one does the work).
UPDATE public.cloudinary_cleanup_queue q
   SET status = 'pending', attempts = 0, available_at = now(), updated_at = now()
 WHERE q.status = 'failed'
   AND (%(ids)s::bigint[] IS NULL OR q.id = ANY (%(ids)s::bigint[]))
   AND NOT EXISTS (SELECT 1 FROM public.cloudinary_cleanup_queue o
                    WHERE o.public_id = q.public_id AND o.resource_type = q.resource_type
                      AND o.type = q.type AND mediasync.is_open_entry(o.status))
RETURNING q.id;

-- name: counts_by_status
SELECT s.status, coalesce(c.n, 0) AS n
  FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed', 'held', 'cancelled']) AS s(status)
  LEFT JOIN (SELECT status, count(*) AS n FROM public.cloudinary_cleanup_queue GROUP BY status) c
         ON c.status = s.status;

-- name: pending_summary
SELECT count(*) FILTER (WHERE available_at <= now())                          AS due,
       extract(epoch FROM now() - min(created_at))::float8                     AS oldest_pending_age_seconds,
       min(available_at) FILTER (WHERE available_at > now())                   AS next_retry_at
  FROM public.cloudinary_cleanup_queue WHERE status = 'pending';

-- name: due_work
-- What a cleanup run would act on now: due pending entries, expired leases, and held batches no run
-- has reported yet (what the queue's Airflow trigger checks between notifications, so retries,
-- lost notifications and new holds wake the DAG).
SELECT (SELECT count(*) FROM public.cloudinary_cleanup_queue WHERE status = 'pending' AND available_at <= now())
     + (SELECT count(*) FROM public.cloudinary_cleanup_queue WHERE status = 'processing' AND locked_until < now())
     + (SELECT count(*) FROM mediasync.deletion_batches WHERE status = 'held' AND alerted_at IS NULL)
       AS n;

-- name: backlog
-- What a drain has ahead of it (the CLI's progress total): pending entries, and failed ones when the
-- drain revives them. Both counts read partial indexes: the completed history is never scanned.
SELECT (SELECT count(*) FROM public.cloudinary_cleanup_queue WHERE status = 'pending')
     + CASE WHEN %(include_failed)s
            THEN (SELECT count(*) FROM public.cloudinary_cleanup_queue WHERE status = 'failed') ELSE 0 END
       AS n;

-- name: expired_leases
SELECT count(*) AS n FROM public.cloudinary_cleanup_queue WHERE status = 'processing' AND locked_until < now();

-- name: recent_failures
SELECT id, public_id, resource_type, type, reason, attempts, last_error, updated_at
  FROM public.cloudinary_cleanup_queue WHERE status = 'failed'
 ORDER BY updated_at DESC LIMIT %(limit)s;

-- name: purge_completed
-- One bounded batch of retention (completed entries, and entries an undo cancelled); the caller
-- loops until a short batch.
DELETE FROM public.cloudinary_cleanup_queue
 WHERE id IN (SELECT id FROM public.cloudinary_cleanup_queue
               WHERE status = 'completed' AND completed_at < %(cutoff)s
               ORDER BY completed_at, id
               LIMIT %(limit)s)
    OR id IN (SELECT id FROM public.cloudinary_cleanup_queue
               WHERE status = 'cancelled' AND updated_at < %(cutoff)s
               ORDER BY updated_at, id
               LIMIT %(limit)s);

-- name: get
SELECT * FROM public.cloudinary_cleanup_queue WHERE id = %(id)s;

-- name: latest_for_asset
SELECT * FROM public.cloudinary_cleanup_queue
 WHERE public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
 ORDER BY id DESC LIMIT 1;
