-- Named queries of the media library (public.media_files and its child tables).

-- name: insert
INSERT INTO public.media_files (public_id, resource_type, type, format, bytes, width, height, version, etag,
                                secure_url, original_filename, folder, asset_id, asset_folder, display_name, context)
VALUES (%(public_id)s, %(resource_type)s, %(type)s, %(format)s, %(bytes)s, %(width)s, %(height)s, %(version)s,
        %(etag)s, %(secure_url)s, %(original_filename)s, %(folder)s, %(asset_id)s, %(asset_folder)s,
        %(display_name)s, coalesce(%(context)s::jsonb, '{}'::jsonb))
RETURNING id;

-- name: find_upload
-- The row an upload saved, found again by its asset's identity and version (each upload of a
-- public_id gets a new version): how an upload whose COMMIT lost its answer learns if it landed.
SELECT id FROM public.media_files
 WHERE public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
   AND version = %(version)s;

-- name: insert_tags
INSERT INTO public.media_tags (media_file_id, tag)
SELECT %(media_file_id)s, t FROM unnest(%(tags)s::text[]) AS t
ON CONFLICT DO NOTHING;

-- name: get
SELECT m.*, coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM public.media_tags t
                       WHERE t.media_file_id = m.id), '{}') AS tags
  FROM public.media_files m
 WHERE m.id = %(id)s;

-- name: list
-- Keyset pagination, newest first: the cursor is the (created_at, id) of the last row seen.
SELECT m.*, coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM public.media_tags t
                       WHERE t.media_file_id = m.id), '{}') AS tags
  FROM public.media_files m
 WHERE (%(status)s::text IS NULL OR m.status = %(status)s::text)
   AND (%(after_created_at)s::timestamptz IS NULL
        OR (m.created_at, m.id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
 ORDER BY m.created_at DESC, m.id DESC
 LIMIT %(limit)s;

-- name: soft_delete
-- Idempotent: a row already deleted is returned untouched (no update, no event). The trigger queues the asset.
WITH changed AS (
    UPDATE public.media_files SET status = 'deleted'
     WHERE id = %(id)s AND status <> 'deleted'
    RETURNING id, public_id, resource_type, type, status
)
SELECT * FROM changed
UNION ALL
SELECT id, public_id, resource_type, type, status FROM public.media_files
 WHERE id = %(id)s AND NOT EXISTS (SELECT 1 FROM changed);

-- name: hard_delete
-- Tags and usage rows cascade; the trigger queues the asset (reason from mediasync.delete_reason).
DELETE FROM public.media_files WHERE id = %(id)s
RETURNING id, public_id, resource_type, type, status;

-- name: set_delete_reason
SELECT set_config('mediasync.delete_reason', %(reason)s, true);

-- name: set_deleted_by
-- Who is deleting, for the row's deleted_by (the trigger reads it; unset means plain SQL).
SELECT set_config('mediasync.deleted_by', %(who)s, true);

-- name: insert_usage
INSERT INTO public.media_usage (media_file_id, entity_type, entity_id, field)
VALUES (%(media_file_id)s, %(entity_type)s, %(entity_id)s, %(field)s)
ON CONFLICT DO NOTHING;

-- name: related_counts
SELECT (SELECT count(*) FROM public.media_files WHERE id = %(id)s)                AS rows,
       (SELECT count(*) FROM public.media_tags WHERE media_file_id = %(id)s)      AS tags,
       (SELECT count(*) FROM public.media_usage WHERE media_file_id = %(id)s)     AS usage;

-- name: delete_plain
DELETE FROM public.media_files WHERE id = %(id)s;

-- name: update_original_filename
UPDATE public.media_files SET original_filename = %(original_filename)s WHERE id = %(id)s;

-- name: delete_under_prefix
-- Rows under a folder: by public_id prefix (fixed folders) or by folder (dynamic folders).
DELETE FROM public.media_files
 WHERE starts_with(public_id, %(prefix)s) OR starts_with(coalesce(folder, '') || '/', %(prefix)s);
