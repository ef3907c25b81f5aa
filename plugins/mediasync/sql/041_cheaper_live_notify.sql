-- 041: the live-update notification counts before it aggregates (issue 13: trigger overhead).
--
-- 003's notify_media_changes() built a jsonb array of every affected id and only then found that
-- the payload was past pg_notify's 8000 bytes: a 100k-row DELETE aggregated 100k ids (4 MB of
-- jsonb) to throw them away. The payload's size is known before aggregating: media_files.id is a
-- uuid, whose JSON text is always 38 bytes ("…" quoted), and jsonb separates array elements with
-- ", ". So the payload with ids is exactly (the payload with "ids": []) + 40 × count − 2 bytes.
-- Now the function counts, and aggregates only when that fits. The payloads are the same as 003's:
--   {"op": "INSERT"|"UPDATE"|"DELETE"|"TRUNCATE", "table": "media_files", "count": n, "ids": [...]}
-- or, when the ids would not fit, "ids" omitted and "truncated": true. The size check after
-- aggregating stays, so a different id type could only ever cost time, never an oversized payload.
CREATE OR REPLACE FUNCTION mediasync.notify_media_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    ids     jsonb := '[]'::jsonb;
    n       bigint;
    payload text;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*) INTO n FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT count(*) INTO n FROM old_rows;
    END IF;  -- TRUNCATE: no transition table, count NULL, ids []
    IF n = 0 THEN
        RETURN NULL;  -- a statement that touched nothing changes nothing on screen
    END IF;
    payload := jsonb_build_object('op', TG_OP, 'table', TG_TABLE_NAME, 'count', n, 'ids', ids)::text;
    IF n > 0 AND octet_length(payload) + 40 * n - 2 <= 8000 THEN
        IF TG_OP = 'DELETE' THEN
            SELECT jsonb_agg(id) INTO ids FROM old_rows;
        ELSE
            SELECT jsonb_agg(id) INTO ids FROM new_rows;
        END IF;
        payload := jsonb_build_object('op', TG_OP, 'table', TG_TABLE_NAME, 'count', n, 'ids', ids)::text;
    END IF;
    IF octet_length(payload) > 8000 OR (n > 0 AND ids = '[]'::jsonb) THEN
        payload := jsonb_build_object('op', TG_OP, 'table', TG_TABLE_NAME, 'count', n, 'truncated', true)::text;
    END IF;
    PERFORM pg_notify('mediasync_media_changes', payload);
    RETURN NULL;
END $$;
