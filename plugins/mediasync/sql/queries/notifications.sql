-- Named queries of the Cloudinary notification ingest (mediasync.cloudinary_notifications,
-- mediasync.cloudinary_asset_clocks) and the media_files changes a notification applies.

-- name: record
-- Store a notification once: a second delivery of the same bytes returns no row.
INSERT INTO mediasync.cloudinary_notifications
       (body_sha256, notification_type, request_id, asset_ids, public_ids, transport, source, event_at,
        signed_at, body)
VALUES (%(body_sha256)s, %(notification_type)s, %(request_id)s, %(asset_ids)s, %(public_ids)s, %(transport)s,
        %(source)s, %(event_at)s, %(signed_at)s, %(body)s)
ON CONFLICT (body_sha256) DO NOTHING
RETURNING id;

-- name: previous
-- The stored record of an already-received notification (for the duplicate's answer).
SELECT id, notification_type, outcome, changed_rows, detail
  FROM mediasync.cloudinary_notifications WHERE body_sha256 = %(body_sha256)s;

-- name: finish
UPDATE mediasync.cloudinary_notifications
   SET outcome = %(outcome)s, changed_rows = %(changed_rows)s, detail = %(detail)s
 WHERE id = %(id)s;

-- name: advance_clock
-- Move the asset's clock for one aspect to event_at unless it is already later; a row comes back
-- only when this event is not older than what was applied before.
INSERT INTO mediasync.cloudinary_asset_clocks AS c (asset_key, aspect, event_at)
VALUES (%(asset_key)s, %(aspect)s, %(event_at)s)
ON CONFLICT (asset_key, aspect) DO UPDATE SET event_at = EXCLUDED.event_at, updated_at = now()
 WHERE c.event_at <= EXCLUDED.event_at
RETURNING event_at;

-- name: advance_clocks
-- advance_clock for many aspects of one asset in one statement (the aspects distinct); the aspects
-- whose clock moved come back.
INSERT INTO mediasync.cloudinary_asset_clocks AS c (asset_key, aspect, event_at)
SELECT %(asset_key)s, a, %(event_at)s FROM unnest(%(aspects)s::text[]) AS a
ON CONFLICT (asset_key, aspect) DO UPDATE SET event_at = EXCLUDED.event_at, updated_at = now()
 WHERE c.event_at <= EXCLUDED.event_at
RETURNING aspect;

-- name: clock
SELECT event_at FROM mediasync.cloudinary_asset_clocks WHERE asset_key = %(asset_key)s AND aspect = %(aspect)s;

-- name: lock_row
-- The row of an asset, locked for the change: by asset_id where the row knows it, else by key.
SELECT * FROM public.media_files
 WHERE (%(asset_id)s::text IS NOT NULL AND asset_id = %(asset_id)s::text)
    OR (public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
        AND (asset_id IS NULL OR %(asset_id)s::text IS NULL))
 ORDER BY (asset_id IS NOT DISTINCT FROM %(asset_id)s::text) DESC
 LIMIT 1
   FOR UPDATE;

-- name: lock_key
-- Whatever row holds a (public_id, resource_type, type) key, locked.
SELECT * FROM public.media_files
 WHERE public_id = %(public_id)s AND resource_type = %(resource_type)s AND type = %(type)s
   FOR UPDATE;

-- name: set_deleted_by_cloudinary
-- The soft-delete trigger records deleted_by = 'cloudinary' for rows deleted in this transaction, and
-- queues nothing for them (Cloudinary already deleted the asset).
SELECT set_config('mediasync.deleted_by', 'cloudinary', true);

-- name: mark_deleted
UPDATE public.media_files SET status = 'deleted'
 WHERE id = %(id)s AND status = 'active'
RETURNING id;

-- name: move_row
UPDATE public.media_files
   SET public_id = %(public_id)s, type = %(type)s, asset_folder = %(asset_folder)s, folder = %(folder)s,
       display_name = %(display_name)s, secure_url = %(secure_url)s,
       asset_id = coalesce(asset_id, %(asset_id)s)
 WHERE id = %(id)s
   AND (public_id, type, asset_folder, folder, display_name, secure_url)
       IS DISTINCT FROM (%(public_id)s, %(type)s, %(asset_folder)s, %(folder)s, %(display_name)s, %(secure_url)s)
RETURNING id;

-- name: set_display_name
UPDATE public.media_files SET display_name = %(display_name)s
 WHERE id = %(id)s AND display_name IS DISTINCT FROM %(display_name)s
RETURNING id;

-- name: add_tags
-- Every tag of one change in one statement (a notification may carry up to 1000 per asset).
INSERT INTO public.media_tags (media_file_id, tag)
SELECT %(id)s, t FROM unnest(%(tags)s::text[]) AS t
ON CONFLICT DO NOTHING
RETURNING tag;

-- name: remove_tags
DELETE FROM public.media_tags WHERE media_file_id = %(id)s AND tag = ANY(%(tags)s::text[])
RETURNING tag;

-- name: touch_row
-- Tags changed: one UPDATE so the row's statement trigger tells the page (live update).
UPDATE public.media_files SET updated_at = now() WHERE id = %(id)s RETURNING id;

-- name: refresh_content
-- An overwrite upload: the row follows the newer version (never an older one).
UPDATE public.media_files
   SET version = %(version)s, bytes = %(bytes)s, format = %(format)s, width = %(width)s, height = %(height)s,
       etag = %(etag)s, secure_url = %(secure_url)s, asset_id = coalesce(asset_id, %(asset_id)s)
 WHERE id = %(id)s AND coalesce(version, 0) < %(version)s
RETURNING id;

-- name: adopt
-- An upload made by another tool into a managed folder becomes an active row; a soft-deleted
-- row holding the same key comes back to life as this new asset.
INSERT INTO public.media_files AS m (public_id, resource_type, type, format, bytes, width, height, version, etag,
                                     secure_url, original_filename, folder, asset_id, asset_folder, display_name,
                                     context)
VALUES (%(public_id)s, %(resource_type)s, %(type)s, %(format)s, %(bytes)s, %(width)s, %(height)s, %(version)s,
        %(etag)s, %(secure_url)s, %(original_filename)s, %(folder)s, %(asset_id)s, %(asset_folder)s,
        %(display_name)s, coalesce(%(context)s::jsonb, '{}'::jsonb))
ON CONFLICT (public_id, resource_type, type) DO UPDATE
   SET status = 'active', format = EXCLUDED.format, bytes = EXCLUDED.bytes, width = EXCLUDED.width,
       height = EXCLUDED.height, version = EXCLUDED.version, etag = EXCLUDED.etag,
       secure_url = EXCLUDED.secure_url, original_filename = EXCLUDED.original_filename,
       folder = EXCLUDED.folder, asset_id = EXCLUDED.asset_id, asset_folder = EXCLUDED.asset_folder,
       display_name = EXCLUDED.display_name, context = EXCLUDED.context
 WHERE m.status = 'deleted'
RETURNING id;

-- name: change_context
-- Context keys a notification set or removed; nothing (no row) when the row already says so.
UPDATE public.media_files
   SET context = (context - %(removed)s::text[]) || %(set)s::jsonb
 WHERE id = %(id)s AND context IS DISTINCT FROM (context - %(removed)s::text[]) || %(set)s::jsonb
RETURNING id;

-- name: rows_in_folder
-- Rows whose asset folder is `from_path` or below it, locked for a folder rename.
SELECT id, public_id, asset_folder, folder FROM public.media_files
 WHERE asset_folder = %(from_path)s OR starts_with(asset_folder, %(from_path)s || '/')
   FOR UPDATE;

-- name: set_folder
UPDATE public.media_files SET asset_folder = %(asset_folder)s, folder = %(folder)s
 WHERE id = %(id)s AND (asset_folder, folder) IS DISTINCT FROM (%(asset_folder)s, %(folder)s)
RETURNING id;

-- name: summary
SELECT count(*)                                                    AS received,
       count(*) FILTER (WHERE outcome = 'applied')                 AS applied,
       max(received_at)                                            AS last_received_at,
       (SELECT notification_type FROM mediasync.cloudinary_notifications
         ORDER BY received_at DESC, id DESC LIMIT 1)               AS last_type,
       (SELECT outcome FROM mediasync.cloudinary_notifications
         ORDER BY received_at DESC, id DESC LIMIT 1)               AS last_outcome
  FROM mediasync.cloudinary_notifications;

-- name: repairs_since
-- What notifications repaired since a time: per type, how many changed rows and how many rows.
SELECT notification_type, count(*) AS notifications, sum(changed_rows)::bigint AS rows
  FROM mediasync.cloudinary_notifications
 WHERE outcome = 'applied' AND received_at >= %(since)s
 GROUP BY notification_type
 ORDER BY notification_type;

-- name: dead_letter
-- A poll message that will never apply, recorded before it is acknowledged.
INSERT INTO mediasync.notification_dead_letters
       (channel, message_id, receive_count, reason, signed_at, signature, body_sha256, payload)
VALUES (%(channel)s, %(message_id)s, %(receive_count)s, %(reason)s, %(signed_at)s, %(signature)s,
        %(body_sha256)s, %(payload)s)
RETURNING id;

-- name: dead_letter_summary
SELECT count(*)        AS dead_letters,
       max(dead_at)    AS last_dead_letter_at,
       (SELECT reason FROM mediasync.notification_dead_letters
         ORDER BY dead_at DESC, id DESC LIMIT 1) AS last_dead_letter_reason
  FROM mediasync.notification_dead_letters;
