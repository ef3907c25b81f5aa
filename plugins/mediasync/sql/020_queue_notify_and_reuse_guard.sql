-- 020: the cleanup queue wakes its processor, and an asset being deleted cannot be reused silently.
--
-- 1. One pg_notify('mediasync_cleanup_queue', '{"queued": n}') per statement that queued rows
--    (whatever queued them: the media_files triggers, the services, reconciliation, plain SQL).
--    The Airflow trigger `mediasync.triggers.queue.CleanupQueueTrigger` LISTENs for it, so the
--    cleanup DAG runs seconds after a DELETE instead of on a 30-second clock. NOTIFY is sent at
--    commit and deduplicated within a transaction; a rolled-back DELETE wakes nobody.
--
-- 2. The claim/delete race (issue 16.2). The processor deletes each chunk of claimed entries
--    inside a "guard" transaction that holds FOR UPDATE locks on the entries while Cloudinary is
--    called, and re-checks under those locks that no active media_files row uses the asset.
--    A statement that makes a row active for an asset with an open entry (a restore, or a new
--    row for the same public_id) takes FOR SHARE locks on those entries here, so:
--      - it commits before the guard looks: the guard sees the active row and skips the asset;
--      - it runs while the guard's call is in flight: it waits, then finds the entry completed
--        (the asset is gone) and fails with a clear error (SQLSTATE 23000, a conflict) instead of
--        leaving an active row with no asset.

CREATE OR REPLACE FUNCTION mediasync.notify_cleanup_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM queued_rows WHERE status = 'pending';
    IF n > 0 THEN
        PERFORM pg_notify('mediasync_cleanup_queue', json_build_object('queued', n)::text);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS cleanup_queue_notify_insert ON public.cloudinary_cleanup_queue;
CREATE TRIGGER cleanup_queue_notify_insert
    AFTER INSERT ON public.cloudinary_cleanup_queue
    REFERENCING NEW TABLE AS queued_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.notify_cleanup_queue();

CREATE OR REPLACE FUNCTION mediasync.guard_assets_being_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    open_ids bigint[];
    gone     record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(q.id ORDER BY q.id) INTO open_ids
          FROM public.cloudinary_cleanup_queue q
          JOIN new_rows n ON n.public_id = q.public_id AND n.resource_type = q.resource_type AND n.type = q.type
         WHERE q.status IN ('pending', 'processing') AND n.status = 'active';
    ELSE
        SELECT array_agg(q.id ORDER BY q.id) INTO open_ids
          FROM public.cloudinary_cleanup_queue q
          JOIN new_rows n ON n.public_id = q.public_id AND n.resource_type = q.resource_type AND n.type = q.type
          JOIN old_rows o ON o.id = n.id
         WHERE q.status IN ('pending', 'processing') AND n.status = 'active'
           AND (o.status IS DISTINCT FROM 'active'
                OR (o.public_id, o.resource_type, o.type) IS DISTINCT FROM (n.public_id, n.resource_type, n.type));
    END IF;
    IF open_ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- Waits while a processor's guard holds an entry (its Cloudinary call is in flight); the
    -- locked rows are re-read after the wait, so an entry completed meanwhile shows as completed.
    FOR gone IN
        SELECT q.public_id, q.resource_type, q.type
          FROM public.cloudinary_cleanup_queue q
         WHERE q.id = ANY (open_ids)
         ORDER BY q.id
           FOR SHARE
    LOOP
        NULL;
    END LOOP;
    SELECT q.public_id, q.resource_type, q.type INTO gone
      FROM public.cloudinary_cleanup_queue q
     WHERE q.id = ANY (open_ids) AND q.status = 'completed'
     ORDER BY q.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'asset %/%/% was deleted from Cloudinary while this change waited for it; upload it again',
              gone.resource_type, gone.type, gone.public_id
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS media_files_guard_reuse_insert ON public.media_files;
CREATE TRIGGER media_files_guard_reuse_insert
    AFTER INSERT ON public.media_files
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.guard_assets_being_deleted();

DROP TRIGGER IF EXISTS media_files_guard_reuse_update ON public.media_files;
CREATE TRIGGER media_files_guard_reuse_update
    AFTER UPDATE ON public.media_files
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.guard_assets_being_deleted();
