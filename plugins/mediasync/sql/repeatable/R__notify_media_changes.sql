-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- The live-update notification (channel mediasync_media_changes, which the page's stream LISTENs on):
--   {"op": "INSERT"|"UPDATE"|"DELETE"|"TRUNCATE", "table": "media_files", "count": n, "ids": [...]}
-- or, when the ids would not fit in pg_notify's 8000 bytes, "ids" omitted and "truncated": true.
-- The function counts before it aggregates: media_files.id is a uuid, whose JSON text is always 38
-- bytes ("…" quoted), and jsonb separates array elements with ", ", so the payload with ids is
-- exactly (the payload with "ids": []) + 40 × count − 2 bytes; a 100k-row DELETE never builds a 4 MB
-- array to throw away. The size check after aggregating stays, so a different id type could only
-- ever cost time, never an oversized payload.
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

DROP TRIGGER IF EXISTS media_files_notify_insert ON public.media_files;
CREATE TRIGGER media_files_notify_insert AFTER INSERT ON public.media_files
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.notify_media_changes();

DROP TRIGGER IF EXISTS media_files_notify_update ON public.media_files;
CREATE TRIGGER media_files_notify_update AFTER UPDATE ON public.media_files
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.notify_media_changes();

DROP TRIGGER IF EXISTS media_files_notify_delete ON public.media_files;
CREATE TRIGGER media_files_notify_delete AFTER DELETE ON public.media_files
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.notify_media_changes();

DROP TRIGGER IF EXISTS media_files_notify_truncate ON public.media_files;
CREATE TRIGGER media_files_notify_truncate AFTER TRUNCATE ON public.media_files
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.notify_media_changes();
