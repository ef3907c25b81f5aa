-- Named queries of deletion batches (mediasync.deletion_batches), their queue entries and the undo
-- journal. See docs/deletions.md.

-- name: say_who
-- The triggers read these for the batch the next statements open (transaction-local).
SELECT set_config('mediasync.delete_source', %(source)s, true),
       set_config('mediasync.requested_by', coalesce(%(requested_by)s::text, ''), true);

-- name: open_batch
-- A batch for a path that queues deletions itself (reconciliation, upload compensation, the API's
-- re-queue of an asset whose earlier cleanup failed): the brake decides as for a statement.
SELECT * FROM mediasync.open_deletion_batch(%(operation)s, %(reason)s, %(rows)s, %(assets)s, 0,
                                            %(source)s, %(requested_by)s, %(library)s);

-- name: set_queued
UPDATE mediasync.deletion_batches SET queued = queued + %(queued)s WHERE id = %(id)s;

-- name: list
-- Newest first (or just batch %(id)s), with what became of each batch's queue entries.
SELECT b.*, e.entries
  FROM mediasync.deletion_batches b
  LEFT JOIN LATERAL (
       SELECT jsonb_object_agg(status, n) AS entries
         FROM (SELECT status, count(*) AS n FROM public.cloudinary_cleanup_queue q
                WHERE q.batch_id = b.id GROUP BY status) s) e ON true
 WHERE (%(status)s::text IS NULL OR b.status = %(status)s::text)
   AND (%(before_id)s::bigint IS NULL OR b.id < %(before_id)s::bigint)
   AND (%(id)s::bigint IS NULL OR b.id = %(id)s::bigint)
 ORDER BY b.id DESC
 LIMIT %(limit)s;

-- name: sample
-- A few of what the batch removed: its journaled rows, or (reconciliation) its queued assets.
SELECT public_id, resource_type, type, id AS media_file_id, status AS row_status
  FROM mediasync.deleted_media_files WHERE batch_id = %(id)s
UNION ALL
SELECT public_id, resource_type, type, media_file_id, NULL
  FROM public.cloudinary_cleanup_queue
 WHERE batch_id = %(id)s AND NOT EXISTS (SELECT 1 FROM mediasync.deleted_media_files WHERE batch_id = %(id)s)
 LIMIT %(limit)s;

-- name: lock
SELECT * FROM mediasync.deletion_batches WHERE id = %(id)s FOR UPDATE;

-- name: release
-- A held batch flows: its held entries become pending (not before the trash window ends).
WITH batch AS (
    UPDATE mediasync.deletion_batches
       SET status = 'released', decided_by = %(who)s, decided_at = now()
     WHERE id = %(id)s AND status = 'held'
    RETURNING id, available_at
), released AS (
    UPDATE public.cloudinary_cleanup_queue q
       SET status = 'pending', available_at = greatest(now(), b.available_at), updated_at = now()
      FROM batch b
     WHERE q.batch_id = b.id AND q.status = 'held'
    RETURNING q.id
)
SELECT (SELECT count(*) FROM batch) AS batches, (SELECT count(*) FROM released) AS entries;

-- name: announce
-- The page's live updates: a batch was released or undone (another operator's page updates too).
SELECT pg_notify('mediasync_deletion_batches', json_build_object('op', %(op)s::text, 'batch', %(id)s::bigint)::text);

-- name: wake_cleanup
SELECT pg_notify('mediasync_cleanup_queue', json_build_object('queued', %(queued)s::bigint)::text);

-- name: take_undo_lease
-- The batch is being undone by this caller until the lease ends (a crashed undo is taken over after
-- it). The first undo records who decided; a later one (resuming) leaves that as it is.
UPDATE mediasync.deletion_batches
   SET status = 'undone', decided_by = CASE WHEN status = 'undone' THEN decided_by ELSE %(who)s END,
       decided_at = CASE WHEN status = 'undone' THEN decided_at ELSE now() END,
       undo_lease_until = now() + make_interval(secs => %(lease_seconds)s)
 WHERE id = %(id)s AND undo_finished_at IS NULL
   AND (undo_lease_until IS NULL OR undo_lease_until < now())
RETURNING *;

-- name: cancel_entries
-- Take back the batch's open entries (mediasync.is_open_entry). A pending or held entry is never
-- sent; a processing one whose guard is in Cloudinary right now is waited for (its lock), and then
-- is no longer open.
UPDATE public.cloudinary_cleanup_queue
   SET status = 'cancelled', locked_until = NULL, updated_at = now(), outcome = 'cancelled',
       errors = errors || jsonb_build_array(jsonb_build_object('at', now(), 'note', %(note)s::text))
 WHERE batch_id = %(id)s AND mediasync.is_open_entry(status)
RETURNING id;

-- name: journaled_rows
-- Each row the batch removed, how it was journaled, what is there now, and what became of its asset:
-- its entry in this batch (cancelled, completed with Cloudinary's answer, failed), or an open entry of
-- another batch. `deleted_again_by`: a later batch removed the same row (undo that one instead).
SELECT j.id, j.public_id, j.resource_type, j.type, j.asset_id, j.status AS journaled_status,
       m.id IS NOT NULL AS row_exists, m.status AS current_status,
       e.status AS entry_status, e.outcome AS entry_outcome,
       EXISTS (SELECT 1 FROM public.cloudinary_cleanup_queue o
                WHERE o.public_id = j.public_id AND o.resource_type = j.resource_type AND o.type = j.type
                  AND mediasync.is_open_entry(o.status)) AS open_elsewhere,
       (SELECT min(l.batch_id) FROM mediasync.deleted_media_files l
         WHERE l.batch_id > j.batch_id AND l.id = j.id) AS deleted_again_by
  FROM mediasync.deleted_media_files j
  LEFT JOIN public.media_files m ON m.id = j.id
  LEFT JOIN public.cloudinary_cleanup_queue e
         ON e.batch_id = j.batch_id AND e.public_id = j.public_id AND e.resource_type = j.resource_type
        AND e.type = j.type
 WHERE j.batch_id = %(id)s
 ORDER BY j.public_id;

-- name: assets_without_rows
-- The batch's entries that no journaled row accounts for (reconciliation's orphans, compensations).
SELECT q.id, q.public_id, q.resource_type, q.type, q.status, q.outcome
  FROM public.cloudinary_cleanup_queue q
 WHERE q.batch_id = %(id)s
   AND NOT EXISTS (SELECT 1 FROM mediasync.deleted_media_files j
                    WHERE j.batch_id = q.batch_id AND j.public_id = q.public_id
                      AND j.resource_type = q.resource_type AND j.type = q.type);

-- name: restore_rows
SELECT media_file_id FROM mediasync.restore_journaled_rows(%(id)s, %(ids)s::uuid[]);

-- name: finish_undo
UPDATE mediasync.deletion_batches
   SET undo_finished_at = now(), undo_lease_until = NULL, undo_result = %(result)s::jsonb
 WHERE id = %(id)s
RETURNING *;

-- name: take_new_holds
-- Held batches no cleanup run has reported yet; reported by this one.
UPDATE mediasync.deletion_batches SET alerted_at = now()
 WHERE status = 'held' AND alerted_at IS NULL
RETURNING *;

-- name: held_summary
SELECT count(*) AS batches, coalesce(sum(assets), 0) AS assets
  FROM mediasync.deletion_batches WHERE status = 'held';

-- name: purge_journals
-- One bounded batch of the undo journal past the undo horizon; the caller loops until a short one.
WITH old AS (
    SELECT id, transaction_id FROM mediasync.deletion_batches
     WHERE created_at < %(cutoff)s AND journal_purged_at IS NULL
     ORDER BY id LIMIT %(limit)s
), rows AS (
    DELETE FROM mediasync.deleted_media_files j USING old WHERE j.batch_id = old.id
), tags AS (
    DELETE FROM mediasync.deleted_media_tags c USING old WHERE c.transaction_id = old.transaction_id
), usage AS (
    DELETE FROM mediasync.deleted_media_usage c USING old WHERE c.transaction_id = old.transaction_id
)
UPDATE mediasync.deletion_batches b SET journal_purged_at = now() FROM old WHERE b.id = old.id;

-- name: drop_undo_lease
-- An undo that stopped (Cloudinary failed): the next one may resume at once.
UPDATE mediasync.deletion_batches SET undo_lease_until = NULL WHERE id = %(id)s AND undo_finished_at IS NULL;
