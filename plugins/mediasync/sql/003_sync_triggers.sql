-- 003: keep Cloudinary in step with SQL. Statement-level triggers with transition tables:
-- a bulk DELETE of 100k rows is one trigger call and one INSERT ... SELECT into the queue,
-- in the same transaction (a rollback un-queues them too), plus one pg_notify per statement.

-- Why the row is being removed. Services set `SET LOCAL mediasync.delete_reason = 'hard_delete'`;
-- plain SQL leaves it unset, which is a direct database delete.
CREATE OR REPLACE FUNCTION mediasync.delete_reason(fallback text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('mediasync.delete_reason', true) IN
             ('db_delete', 'soft_delete', 'hard_delete', 'reconcile_orphan', 'upload_compensation')
        THEN current_setting('mediasync.delete_reason', true)
        ELSE fallback
    END
$$;

-- Attempts before an entry is `failed`; connections may set mediasync.max_attempts (MEDIASYNC_MAX_ATTEMPTS).
CREATE OR REPLACE FUNCTION mediasync.max_attempts() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('mediasync.max_attempts', true) ~ '^[1-9][0-9]{0,3}$'
        THEN current_setting('mediasync.max_attempts', true)::integer
        ELSE 3
    END
$$;

CREATE OR REPLACE FUNCTION mediasync.enqueue_deleted_media() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT o.public_id, o.resource_type, o.type, o.id, mediasync.delete_reason('db_delete'),
               mediasync.max_attempts()
          FROM old_rows o
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Soft delete: only rows whose status just became 'deleted'.
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT n.public_id, n.resource_type, n.type, n.id, mediasync.delete_reason('soft_delete'),
               mediasync.max_attempts()
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted'
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no DELETE trigger; queue every asset rather than orphan them.
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT m.public_id, m.resource_type, m.type, m.id, 'db_delete', mediasync.max_attempts()
          FROM public.media_files m
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS media_files_enqueue_on_delete ON public.media_files;
CREATE TRIGGER media_files_enqueue_on_delete
    AFTER DELETE ON public.media_files
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.enqueue_deleted_media();

DROP TRIGGER IF EXISTS media_files_enqueue_on_soft_delete ON public.media_files;
CREATE TRIGGER media_files_enqueue_on_soft_delete
    AFTER UPDATE ON public.media_files
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.enqueue_deleted_media();

DROP TRIGGER IF EXISTS media_files_enqueue_on_truncate ON public.media_files;
CREATE TRIGGER media_files_enqueue_on_truncate
    BEFORE TRUNCATE ON public.media_files
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.enqueue_deleted_media();

-- Live updates: one notification per statement on channel mediasync_media_changes,
-- {"op": "INSERT"|"UPDATE"|"DELETE"|"TRUNCATE", "table": "media_files", "count": n, "ids": [...]};
-- when the ids would push the payload past 8000 bytes, "ids" is omitted and "truncated" is true.
CREATE OR REPLACE FUNCTION mediasync.notify_media_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    ids     jsonb;
    n       bigint;
    payload text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT coalesce(jsonb_agg(id), '[]'::jsonb), count(*) INTO ids, n FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT coalesce(jsonb_agg(id), '[]'::jsonb), count(*) INTO ids, n FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT coalesce(jsonb_agg(id), '[]'::jsonb), count(*) INTO ids, n FROM old_rows;
    ELSE
        ids := '[]'::jsonb;
        n := NULL;
    END IF;
    IF n = 0 THEN
        RETURN NULL;  -- a statement that touched nothing changes nothing on screen
    END IF;
    payload := jsonb_build_object('op', TG_OP, 'table', TG_TABLE_NAME, 'count', n, 'ids', ids)::text;
    IF octet_length(payload) > 8000 THEN
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
