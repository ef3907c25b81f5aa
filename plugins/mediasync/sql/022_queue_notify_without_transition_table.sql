-- 022: the queue's wake-up notification without a transition table (issue 13: trigger overhead).
--
-- 020's notify trigger on the queue read a transition table of the inserted rows: for a bulk
-- DELETE that queues 100k assets, PostgreSQL then materialised all 100k queue rows once more
-- (spilling to disk past work_mem) — about 0.6 s of a 2.2 s DELETE on the benchmark machine.
-- Now:
--   - the media_files triggers (enqueue_deleted_media) notify themselves, once per statement,
--     with the count their INSERT reported;
--   - any other statement that inserts into the queue directly (the services, reconciliation,
--     plain SQL) fires a statement trigger without a transition table that notifies '{}'.
--     `WHEN (pg_trigger_depth() = 0)` keeps it silent for the inserts made inside triggers.
-- The payload stays '{"queued": n}' where n is known; the Airflow trigger reads a missing count as 1.

DROP TRIGGER IF EXISTS cleanup_queue_notify_insert ON public.cloudinary_cleanup_queue;

CREATE OR REPLACE FUNCTION mediasync.notify_cleanup_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
BEGIN
    PERFORM pg_notify('mediasync_cleanup_queue', '{}');
    RETURN NULL;
END $$;

CREATE TRIGGER cleanup_queue_notify_insert
    AFTER INSERT ON public.cloudinary_cleanup_queue
    FOR EACH STATEMENT
    WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION mediasync.notify_cleanup_queue();

CREATE OR REPLACE FUNCTION mediasync.enqueue_deleted_media() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    budget integer := mediasync.max_attempts();
    queued bigint := 0;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT o.public_id, o.resource_type, o.type, o.id, r.reason, budget
          FROM old_rows o, (SELECT mediasync.delete_reason('db_delete') AS reason) r
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
        GET DIAGNOSTICS queued = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Soft delete: only rows whose status just became 'deleted'.
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT n.public_id, n.resource_type, n.type, n.id, r.reason, budget
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
         CROSS JOIN (SELECT mediasync.delete_reason('soft_delete') AS reason) r
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted'
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
        GET DIAGNOSTICS queued = ROW_COUNT;
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no DELETE trigger; queue every asset rather than orphan them.
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT m.public_id, m.resource_type, m.type, m.id, 'db_delete', budget
          FROM public.media_files m
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
        GET DIAGNOSTICS queued = ROW_COUNT;
    END IF;
    IF queued > 0 THEN
        PERFORM pg_notify('mediasync_cleanup_queue', json_build_object('queued', queued)::text);
    END IF;
    RETURN NULL;
END $$;
