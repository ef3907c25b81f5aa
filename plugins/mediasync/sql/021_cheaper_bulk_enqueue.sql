-- 021: a bulk DELETE queues its rows more cheaply (issue 13: trigger overhead).
--
-- 1. enqueue_deleted_media() reads the delete reason and the attempt budget once per statement
--    instead of once per row (both are session settings, constant within the statement).
--    Behaviour is unchanged: same rows, same reasons, same ON CONFLICT rule.
-- 2. cleanup_queue_media_file_idx goes: no query looks entries up by media_file_id, and a
--    random-uuid index insert per queued row was a fifth of a bulk DELETE's queueing cost.

DROP INDEX IF EXISTS public.cleanup_queue_media_file_idx;

CREATE OR REPLACE FUNCTION mediasync.enqueue_deleted_media() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    budget integer := mediasync.max_attempts();
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT o.public_id, o.resource_type, o.type, o.id, r.reason, budget
          FROM old_rows o, (SELECT mediasync.delete_reason('db_delete') AS reason) r
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
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
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no DELETE trigger; queue every asset rather than orphan them.
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts)
        SELECT m.public_id, m.resource_type, m.type, m.id, 'db_delete', budget
          FROM public.media_files m
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
