-- Named queries of the nightly reconciliation (schema mediasync). The Cloudinary listing is
-- streamed into mediasync.listing_snapshot with COPY; every diff below is one INSERT ... SELECT.

-- name: try_lock
-- One reconciliation per inventory at a time: taken in a lock transaction (db/locks.py) that stays
-- open for the whole run, so it holds through a transaction pooler, and released when that
-- transaction ends. Conflicts with the session lock on the same keys earlier releases took.
SELECT pg_try_advisory_xact_lock(hashtext('mediasync.reconcile'), hashtext(%(key)s)) AS locked;

-- name: create_run
-- Who asked (triggered_by) is known from the start: a run a crash ends still says who started it.
INSERT INTO mediasync.reconciliation_runs (mode, params, inventory_key, kind, listed_since, triggered_by)
VALUES (%(mode)s, %(params)s, %(key)s, %(kind)s, %(listed_since)s, %(triggered_by)s)
RETURNING id, started_at;

-- name: cadence
-- What decides a run's kind: when the inventory's last complete full listing started, and the last
-- complete run of either kind (an incremental run lists what was uploaded since it started; its
-- counts tell whether drift got past the notifications).
SELECT (SELECT max(started_at) FROM mediasync.reconciliation_runs
         WHERE inventory_key = %(key)s AND status = 'completed' AND kind = 'full') AS last_full_started_at,
       last.started_at AS last_complete_started_at, last.kind AS last_complete_kind,
       last.counts AS last_complete_counts
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (SELECT started_at, kind, counts FROM mediasync.reconciliation_runs
                      WHERE inventory_key = %(key)s AND status = 'completed'
                      ORDER BY started_at DESC, id DESC LIMIT 1) last ON true;

-- name: close_interrupted_runs
-- Runs of this inventory still `running` while we hold its lock were cut off (process killed,
-- database crashed or failed over): nobody will finish them, so say so.
UPDATE mediasync.reconciliation_runs
   SET status = 'failed', finished_at = now(),
       message = 'interrupted: the process or the database stopped before the run finished (closed by run '
                 || %(run_id)s || ')'
 WHERE status = 'running' AND inventory_key = %(key)s AND id <> %(run_id)s;

-- name: finish_run
UPDATE mediasync.reconciliation_runs
   SET status = %(status)s, counts = %(counts)s, message = %(message)s, listing_complete = %(listing_complete)s,
       assets_listed = %(assets_listed)s, finished_at = now()
 WHERE id = %(run_id)s;

-- name: set_reports
UPDATE mediasync.reconciliation_runs
   SET report_csv = %(report_csv)s, report_html = %(report_html)s, report_url = %(report_url)s
 WHERE id = %(run_id)s;

-- name: recent_runs
SELECT id, mode, kind, listed_since, status, counts, message, listing_complete, assets_listed, report_csv,
       report_html, report_url, params, started_at, finished_at
  FROM mediasync.reconciliation_runs ORDER BY started_at DESC, id DESC LIMIT %(limit)s;

-- name: get_checkpoint
SELECT cursor, complete, assets_listed, unmanaged, pages, started_at FROM mediasync.listing_checkpoints
 WHERE inventory_key = %(key)s AND source = %(source)s;

-- name: start_checkpoint
INSERT INTO mediasync.listing_checkpoints (inventory_key, source, resource_type)
VALUES (%(key)s, %(source)s, %(resource_type)s)
ON CONFLICT (inventory_key, source) DO UPDATE
   SET cursor = NULL, complete = false, assets_listed = 0, unmanaged = 0, pages = 0, started_at = now(),
       updated_at = now();

-- name: clear_snapshot_of_source
-- A source's listing starts over: forget what it stored (the snapshot row remembers its source).
DELETE FROM mediasync.listing_snapshot WHERE inventory_key = %(key)s AND source = %(source)s;

-- name: save_checkpoint
UPDATE mediasync.listing_checkpoints
   SET cursor = %(cursor)s, complete = %(complete)s, assets_listed = assets_listed + %(listed)s,
       unmanaged = unmanaged + %(unmanaged)s, pages = pages + %(pages)s, updated_at = now()
 WHERE inventory_key = %(key)s AND source = %(source)s;

-- name: listing_summary
-- Placeholders (deleted assets Cloudinary keeps a backup of) are counted apart: they are no assets,
-- so they neither count in the safety cap's base nor as listed assets. Both counted in one scan of
-- the snapshot (a million rows at 1M assets).
SELECT (SELECT min(started_at) FROM mediasync.listing_checkpoints WHERE inventory_key = %(key)s) AS started_at,
       listed.assets_listed, listed.placeholders,
       (SELECT coalesce(sum(unmanaged), 0) FROM mediasync.listing_checkpoints
         WHERE inventory_key = %(key)s)::bigint AS unmanaged
  FROM (SELECT count(*) FILTER (WHERE NOT placeholder) AS assets_listed,
               count(*) FILTER (WHERE placeholder) AS placeholders
          FROM mediasync.listing_snapshot WHERE inventory_key = %(key)s) AS listed;

-- name: clear_snapshot
DELETE FROM mediasync.listing_snapshot WHERE inventory_key = %(key)s;

-- name: clear_other_sources
-- A run lists only its own sources: a partial listing of other ones (an incremental run's window
-- that has moved on, a full listing cut short before an incremental run) must not join its diff.
DELETE FROM mediasync.listing_snapshot WHERE inventory_key = %(key)s AND NOT (source = ANY (%(sources)s::text[]));

-- name: clear_other_checkpoints
DELETE FROM mediasync.listing_checkpoints WHERE inventory_key = %(key)s AND NOT (source = ANY (%(sources)s::text[]));

-- name: clear_checkpoints
DELETE FROM mediasync.listing_checkpoints WHERE inventory_key = %(key)s;

-- name: listed_assets_by_source
-- How many assets (with an upload time) each listing or range of the inventory stored: one scan
-- for all of them (the planner sums a listing's ranges), not one per listing, empty ones included.
SELECT source, count(*) AS n FROM mediasync.listing_snapshot
 WHERE inventory_key = %(key)s AND created_at IS NOT NULL
 GROUP BY source;

-- name: save_listing_plan
-- The upload times splitting a complete listing (stored under its `parts`' keys: itself, or its
-- ranges) into shares of `step` assets (whole seconds: the Search API compares dates to the
-- second), then the second after its newest asset: what was uploaded after the listing forms the
-- last range, listed last.
WITH listed AS (
    SELECT date_trunc('second', created_at) AS t, row_number() OVER (ORDER BY created_at) AS n
      FROM mediasync.listing_snapshot
     WHERE inventory_key = %(key)s AND source = ANY (%(parts)s::text[])
       AND created_at IS NOT NULL
), bounds AS (
    SELECT t FROM listed WHERE n > 1 AND mod(n - 1, %(step)s) = 0
    UNION SELECT max(t) + interval '1 second' FROM listed
)
INSERT INTO mediasync.listing_plans (inventory_key, source, bounds, assets)
SELECT %(key)s, %(source)s, array_agg(t ORDER BY t), %(assets)s FROM bounds WHERE t IS NOT NULL
ON CONFLICT (inventory_key, source) DO UPDATE
   SET bounds = EXCLUDED.bounds, assets = EXCLUDED.assets, planned_at = now();

-- name: forget_listing_plan
DELETE FROM mediasync.listing_plans WHERE inventory_key = %(key)s AND source = %(source)s;

-- name: listing_plans
SELECT source, bounds, assets FROM mediasync.listing_plans WHERE inventory_key = %(key)s;

-- name: create_page_table
-- Gone with the transaction that needed it: nothing of it outlives the transaction on a server a
-- transaction pooler hands to other clients next. {columns}: the snapshot's asset columns and folder
-- (repository.reconciliation.PAGE_COLUMNS), typed as the snapshot types them.
CREATE TEMP TABLE IF NOT EXISTS listing_page ON COMMIT DROP AS
SELECT {columns} FROM mediasync.listing_snapshot WITH NO DATA;

-- name: copy_snapshot
-- A batch of listing pages straight into the snapshot (each asset once): the common case. When an
-- asset is already stored (the listing shifted under concurrent uploads), the key conflicts and
-- the batch goes through listing_page and merge_page instead. {columns}: SNAPSHOT_COLUMNS. Binary:
-- a million listed assets are neither formatted as text nor parsed back (snapshot_column_types).
COPY mediasync.listing_snapshot ({columns}) FROM STDIN (FORMAT binary);

-- name: copy_page
COPY listing_page ({columns}) FROM STDIN (FORMAT binary);

-- name: snapshot_column_types
-- The snapshot's types of %(columns)s, in that order: what a binary COPY must send each value as.
SELECT format_type(a.atttypid, a.atttypmod) AS type
  FROM unnest(%(columns)s::text[]) WITH ORDINALITY AS wanted(name, position)
  JOIN pg_attribute a ON a.attrelid = 'mediasync.listing_snapshot'::regclass AND a.attname = wanted.name
                     AND NOT a.attisdropped
 ORDER BY wanted.position;

-- name: merge_page
-- A listing that shifts under concurrent uploads may repeat an asset: keep the latest facts.
INSERT INTO mediasync.listing_snapshot (inventory_key, source, {columns})
SELECT DISTINCT ON (resource_type, type, public_id) %(key)s, %(source)s, {columns}
  FROM listing_page
ON CONFLICT (inventory_key, resource_type, type, public_id) DO UPDATE
   SET format = EXCLUDED.format, bytes = EXCLUDED.bytes, version = EXCLUDED.version, etag = EXCLUDED.etag,
       secure_url = EXCLUDED.secure_url, width = EXCLUDED.width, height = EXCLUDED.height,
       created_at = EXCLUDED.created_at, asset_id = EXCLUDED.asset_id, asset_folder = EXCLUDED.asset_folder,
       display_name = EXCLUDED.display_name, folder = EXCLUDED.folder, placeholder = EXCLUDED.placeholder;

-- name: analyze_snapshot
-- The snapshot was just bulk-loaded: give the planner statistics so the diff joins use hashes.
ANALYZE mediasync.listing_snapshot;

-- name: diff_memory
-- The diff joins the snapshot with media_files whole (a million rows each at 1M assets): hash
-- tables that fit in memory instead of spilling to temporary files in batches (the server default,
-- 4MB, split each of them 16 to 32 ways). For the diff's transaction only.
SET LOCAL work_mem = '128MB';

-- name: match_snapshot
-- Pair each listed live asset with its row, for this transaction's finders: by asset_id where both
-- know it (it survives renames and moves; media_files holds an asset_id once), then by name
-- (`pair_by_name`). Every listed live asset gets a line, NULL media_file_id while no row pairs with
-- it: one pass over the snapshot and media_files, and the orphans are the lines left unpaired.
-- Carries the listed facts the finders compare, so they need not join the snapshot again. A
-- placeholder (a deleted asset Cloudinary keeps a backup of) is no live asset: it has no line, so
-- its row is missing, not undeleted.
CREATE TEMP TABLE listing_match ON COMMIT DROP AS
SELECT s.public_id, s.resource_type, s.type, m.id AS media_file_id, s.bytes, s.format, s.version, s.etag, s.asset_id,
       s.asset_folder, s.display_name
  FROM mediasync.listing_snapshot s LEFT JOIN public.media_files m ON m.asset_id = s.asset_id
 WHERE s.inventory_key = %(key)s AND NOT s.placeholder;

-- name: pair_by_name
-- An asset no row knows by id pairs with the row of its (public_id, resource_type, type), unless
-- that row's asset_id is another listed live asset's (then the row is that asset's, renamed or
-- moved). Only the few lines `match_snapshot` left unpaired are looked at, by the row's unique key.
UPDATE listing_match x SET media_file_id = m.id
  FROM public.media_files m
 WHERE x.media_file_id IS NULL
   AND m.public_id = x.public_id AND m.resource_type = x.resource_type AND m.type = x.type
   AND NOT EXISTS (SELECT 1 FROM mediasync.listing_snapshot o
                    WHERE o.inventory_key = %(key)s AND o.asset_id = m.asset_id AND NOT o.placeholder);

-- name: analyze_match
ANALYZE listing_match;

-- name: find_orphans
-- Assets with no row at all (by asset_id or by name), older than the grace period (an upload's row
-- may still be on its way), and not already waiting in the cleanup queue (a backlog is not new drift).
-- The unpaired lines of listing_match: no row has their asset_id; a row of their name that another
-- listed asset claims by id rules them out too. A placeholder is never an orphan: it has no line
-- (it is already deleted; only its backup remains). Its facts come from the snapshot, by its key.
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, details)
SELECT %(run_id)s, %(kind)s, s.public_id, s.resource_type, s.type,
       jsonb_build_object('bytes', s.bytes, 'format', s.format, 'asset_created_at', s.created_at,
                          'secure_url', s.secure_url, 'asset_id', s.asset_id, 'asset_folder', s.asset_folder)
  FROM listing_match x
  JOIN mediasync.listing_snapshot s ON s.inventory_key = %(key)s AND s.resource_type = x.resource_type
                                   AND s.type = x.type AND s.public_id = x.public_id
 WHERE x.media_file_id IS NULL
   AND (s.created_at IS NULL OR s.created_at < %(grace_cutoff)s)
   AND NOT EXISTS (SELECT 1 FROM public.media_files m
                    WHERE m.public_id = s.public_id AND m.resource_type = s.resource_type AND m.type = s.type)
   AND NOT EXISTS (SELECT 1 FROM public.cloudinary_cleanup_queue q
                    WHERE q.public_id = s.public_id AND q.resource_type = s.resource_type AND q.type = s.type
                      AND mediasync.is_open_entry(q.status));

-- name: find_undeleted
-- Rows soft-deleted, asset still in Cloudinary, and its deletion not already waiting in the queue.
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, media_file_id, details)
SELECT %(run_id)s, %(kind)s, s.public_id, s.resource_type, s.type, m.id,
       jsonb_build_object('deleted_at', m.deleted_at, 'bytes', s.bytes, 'asset_id', s.asset_id)
  FROM listing_match s  -- the listed asset's facts, paired with its row
  JOIN public.media_files m ON m.id = s.media_file_id
 WHERE m.status = 'deleted'
   AND NOT EXISTS (SELECT 1 FROM public.cloudinary_cleanup_queue q
                    WHERE q.public_id = s.public_id AND q.resource_type = s.resource_type AND q.type = s.type
                      AND mediasync.is_open_entry(q.status));

-- name: find_missing
-- Active rows of the scope whose asset is not in the listing. Rows created after the listing began
-- are skipped: their asset may have been uploaded behind the listing's cursor. An incremental run
-- listed only recent uploads, so it judges only rows created after %(rows_created_after)s (its
-- window's start plus the overlap: their assets were uploaded inside the window). In fixed folder
-- mode a row is in folder F (or below) exactly when its public_id starts with "F/" — the same test
-- as on its folder part (the public_id without its last segment), without a regexp per row. The
-- folders' prefixes are built once (an InitPlan), then each row is one `^@ ANY` (starts_with over
-- the array), not a subquery over the folders per row (at 1M rows: 1.86 -> 1.37 s for this query).
-- A row whose asset Cloudinary lists as a placeholder is missing too; the item says its asset can
-- be restored from backup (`restorable`).
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, media_file_id, details)
SELECT %(run_id)s, %(kind)s, m.public_id, m.resource_type, m.type, m.id,
       jsonb_build_object('secure_url', m.secure_url, 'row_created_at', m.created_at, 'asset_id', m.asset_id,
                          'restorable',
                          EXISTS (SELECT 1 FROM mediasync.listing_snapshot p
                                   WHERE p.inventory_key = %(key)s AND p.asset_id = m.asset_id AND p.placeholder)
                          OR EXISTS (SELECT 1 FROM mediasync.listing_snapshot p
                                      WHERE p.inventory_key = %(key)s AND p.public_id = m.public_id
                                        AND p.resource_type = m.resource_type AND p.type = m.type AND p.placeholder))
  FROM public.media_files m
 WHERE m.status = 'active' AND m.type = 'upload' AND m.resource_type = ANY (%(resource_types)s::text[])
   AND m.created_at < %(listing_started_at)s
   AND (%(rows_created_after)s::timestamptz IS NULL OR m.created_at > %(rows_created_after)s::timestamptz)
   AND (%(whole_account)s OR CASE WHEN %(mode)s = 'dynamic' THEN coalesce(m.asset_folder, m.folder, '') || '/'
                                  ELSE m.public_id END
                             ^@ ANY (ARRAY(SELECT f.folder || '/' FROM unnest(%(folders)s::text[]) AS f(folder))))
   AND NOT EXISTS (SELECT 1 FROM listing_match x WHERE x.media_file_id = m.id);

-- name: find_mismatches
-- Active rows whose facts differ from Cloudinary's: bytes/format/version/etag (etag only where the
-- listing reports one), or identity and place — renamed or moved (same asset_id, other public_id or
-- folder), or another asset_id/asset_folder/display_name than the row holds. A row that only lacks
-- those three is no mismatch (find_identity_gaps). One item; the repair updates the row.
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, media_file_id, details)
SELECT %(run_id)s, %(kind)s, s.public_id, s.resource_type, s.type, m.id,
       jsonb_build_object('row', jsonb_build_object('public_id', m.public_id, 'bytes', m.bytes, 'format', m.format,
                                                    'version', m.version, 'etag', m.etag, 'asset_id', m.asset_id,
                                                    'asset_folder', m.asset_folder, 'display_name', m.display_name),
                          'cloudinary', jsonb_build_object('public_id', s.public_id, 'bytes', s.bytes,
                                                           'format', s.format, 'version', s.version, 'etag', s.etag,
                                                           'asset_id', s.asset_id, 'asset_folder', s.asset_folder,
                                                           'display_name', s.display_name))
  FROM listing_match s  -- the listed asset's facts, paired with its row
  JOIN public.media_files m ON m.id = s.media_file_id
 WHERE m.status = 'active'
   AND (s.bytes IS DISTINCT FROM m.bytes OR s.format IS DISTINCT FROM m.format
        OR s.version IS DISTINCT FROM m.version OR (s.etag IS NOT NULL AND s.etag IS DISTINCT FROM m.etag)
        OR s.public_id IS DISTINCT FROM m.public_id
        OR (m.asset_id IS NOT NULL AND s.asset_id IS NOT NULL AND s.asset_id <> m.asset_id)
        OR (m.asset_folder IS NOT NULL AND s.asset_folder IS NOT NULL AND s.asset_folder <> m.asset_folder)
        OR (m.display_name IS NOT NULL AND s.display_name IS NOT NULL AND s.display_name <> m.display_name));

-- name: find_identity_gaps
-- Active rows that agree with Cloudinary but lack identity columns it reports (asset_id,
-- asset_folder, display_name): rows written before mediasync recorded them. Not drift: the item
-- says which columns the repair fills in. Runs after find_mismatches, whose rows it skips.
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, media_file_id, details)
SELECT %(run_id)s, %(kind)s, s.public_id, s.resource_type, s.type, m.id,
       jsonb_build_object('filled', jsonb_strip_nulls(jsonb_build_object(
           'asset_id', CASE WHEN m.asset_id IS NULL THEN s.asset_id END,
           'asset_folder', CASE WHEN m.asset_folder IS NULL THEN s.asset_folder END,
           'display_name', CASE WHEN m.display_name IS NULL THEN s.display_name END)))
  FROM listing_match s  -- the listed asset's facts, paired with its row
  JOIN public.media_files m ON m.id = s.media_file_id
 WHERE m.status = 'active'
   AND ((m.asset_id IS NULL AND s.asset_id IS NOT NULL)
        OR (m.asset_folder IS NULL AND s.asset_folder IS NOT NULL)
        OR (m.display_name IS NULL AND s.display_name IS NOT NULL))
   AND NOT EXISTS (SELECT 1 FROM mediasync.reconciliation_items i
                    WHERE i.run_id = %(run_id)s AND i.media_file_id = m.id AND i.kind <> %(kind)s);

-- name: find_stuck_queue
-- Cleanups of the scope that need a person: failed, or leased by a processor that stopped.
INSERT INTO mediasync.reconciliation_items (run_id, kind, public_id, resource_type, type, media_file_id,
                                            queue_id, details)
SELECT %(run_id)s, %(kind)s, q.public_id, q.resource_type, q.type, q.media_file_id, q.id,
       jsonb_build_object('status', q.status, 'attempts', q.attempts, 'last_error', q.last_error,
                          'reason', q.reason, 'locked_until', q.locked_until)
  FROM public.cloudinary_cleanup_queue q
 WHERE (q.status = 'failed' OR (q.status = 'processing' AND q.locked_until < now()))
   AND (%(whole_account)s OR EXISTS (
        SELECT 1 FROM unnest(%(folders)s::text[]) AS f(folder)
         WHERE starts_with(CASE WHEN %(mode)s = 'dynamic'
                                THEN coalesce((SELECT coalesce(m.asset_folder, m.folder) FROM public.media_files m
                                                WHERE m.id = q.media_file_id), f.folder) || '/'
                                ELSE q.public_id END, f.folder || '/')));

-- name: counts_by_kind
SELECT k.kind, coalesce(c.n, 0) AS n
  FROM unnest(%(kinds)s::text[]) AS k(kind)
  LEFT JOIN (SELECT kind, count(*) AS n FROM mediasync.reconciliation_items WHERE run_id = %(run_id)s GROUP BY kind) c
         ON c.kind = k.kind;

-- name: mark_reported
-- Classes that are only reported (their action in the drift table is "report").
UPDATE mediasync.reconciliation_items SET action = 'reported'
 WHERE run_id = %(run_id)s AND kind = ANY (%(kinds)s::text[]);

-- name: mark_deletions
-- Orphans and undeleted assets go through the cleanup queue; never an asset an active row uses
-- (a row may have appeared since the diff). Marks the items to queue; returns how many.
UPDATE mediasync.reconciliation_items i SET action = 'queued'
  FROM unnest(%(kinds)s::text[]) AS d(kind)
 WHERE i.run_id = %(run_id)s AND i.kind = d.kind
   AND NOT EXISTS (SELECT 1 FROM public.media_files m
                    WHERE m.public_id = i.public_id AND m.resource_type = i.resource_type
                      AND m.type = i.type AND m.status = 'active')
   AND NOT EXISTS (SELECT 1 FROM public.media_files m
                    WHERE m.asset_id = i.details ->> 'asset_id' AND m.status = 'active');

-- name: queue_marked_deletions
-- The marked items into the queue as deletion batch %(batch_id)s (held when the brake held it).
-- %(kinds)s and %(reasons)s pair each deleting drift class with its queue reason.
INSERT INTO public.cloudinary_cleanup_queue
       (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
SELECT i.public_id, i.resource_type, i.type, i.media_file_id, d.reason, mediasync.max_attempts(), b.id,
       CASE WHEN b.status = 'held' THEN 'held' ELSE 'pending' END, b.available_at
  FROM mediasync.reconciliation_items i
  JOIN unnest(%(kinds)s::text[], %(reasons)s::text[]) AS d(kind, reason) ON d.kind = i.kind
  JOIN mediasync.deletion_batches b ON b.id = %(batch_id)s
 WHERE i.run_id = %(run_id)s AND i.action = 'queued'
ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING;

-- name: update_metadata
-- Cloudinary is the truth for an asset's bytes, name and place: copy its facts onto the row (a
-- renamed or moved asset's row follows it). Skipped when another row already holds that name or
-- asset_id (a person must look; the item stays unrepaired in the report).
WITH fixed AS (
    UPDATE public.media_files m
       SET public_id = s.public_id, bytes = s.bytes, format = s.format, version = s.version,
           etag = coalesce(s.etag, m.etag), secure_url = coalesce(s.secure_url, m.secure_url),
           width = coalesce(s.width, m.width), height = coalesce(s.height, m.height),
           asset_id = coalesce(s.asset_id, m.asset_id), asset_folder = coalesce(s.asset_folder, m.asset_folder),
           display_name = coalesce(s.display_name, m.display_name), folder = coalesce(s.folder, m.folder)
      FROM mediasync.reconciliation_items i
      JOIN mediasync.listing_snapshot s
        ON s.inventory_key = %(key)s AND s.public_id = i.public_id AND s.resource_type = i.resource_type
       AND s.type = i.type AND NOT s.placeholder
     WHERE i.run_id = %(run_id)s AND i.kind = %(kind)s AND m.id = i.media_file_id
       AND m.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM public.media_files o
                        WHERE o.id <> m.id AND o.public_id = s.public_id AND o.resource_type = s.resource_type
                          AND o.type = s.type)
       AND NOT EXISTS (SELECT 1 FROM public.media_files o WHERE o.id <> m.id AND o.asset_id = s.asset_id)
    RETURNING m.id
)
UPDATE mediasync.reconciliation_items i SET action = 'updated'
  FROM fixed WHERE i.run_id = %(run_id)s AND i.kind = %(kind)s AND i.media_file_id = fixed.id;

-- name: report_items
SELECT i.kind, i.action, i.public_id, i.resource_type, i.type, i.media_file_id, i.queue_id, i.details::text AS details
  FROM mediasync.reconciliation_items i WHERE i.run_id = %(run_id)s ORDER BY i.kind, i.public_id;

-- name: items_of_kinds
SELECT kind, action, public_id, resource_type, type, media_file_id, queue_id
  FROM mediasync.reconciliation_items
 WHERE run_id = %(run_id)s AND kind = ANY (%(kinds)s::text[])
 ORDER BY kind, public_id;

-- name: previous_complete_run_start
-- When the last run of this inventory that completed before this one started: the health figure
-- counts what notifications repaired since then.
SELECT max(started_at) AS started_at FROM mediasync.reconciliation_runs
 WHERE inventory_key = %(key)s AND status = 'completed' AND id < %(run_id)s;

-- name: ready
-- Fails (undefined table → "run `mediasync db upgrade`") before a run spends a Cloudinary call.
SELECT count(*) AS runs FROM (SELECT 1 FROM mediasync.reconciliation_runs LIMIT 1) r;
