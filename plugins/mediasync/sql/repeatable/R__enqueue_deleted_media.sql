-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- Keep Cloudinary in step with SQL: statement-level triggers with transition tables, so a bulk
-- DELETE of 100k rows is one trigger call and one INSERT ... SELECT into the queue, in the same
-- transaction (a rollback un-queues them too), plus one pg_notify per statement.

-- The media_files triggers: one batch per statement that removes rows, the rows journaled, one queue
-- entry per asset (held or pending, after the trash window), one wake-up for the cleanup DAG.
-- A soft delete applied from a Cloudinary notification (mediasync.deleted_by = 'cloudinary') queues
-- nothing: the asset is already gone.
CREATE OR REPLACE FUNCTION mediasync.enqueue_deleted_media() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    budget  integer := mediasync.max_attempts();
    cols    text := mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files');
    n_rows  bigint;
    n_live  bigint;
    reason  text;
    batch   mediasync.deletion_batches;
    n_queued bigint := 0;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT count(*), count(*) FILTER (WHERE status = 'active') INTO n_rows, n_live FROM old_rows;
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        reason := mediasync.delete_reason('db_delete');
        batch := mediasync.open_deletion_batch('DELETE', reason, n_rows, n_live, n_live);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) SELECT $1, %1$s FROM old_rows',
                       cols) USING batch.id;
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT o.public_id, o.resource_type, o.type, o.id, reason, budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM old_rows o
        ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
        IF current_setting('mediasync.deleted_by', true) = 'cloudinary' THEN
            RETURN NULL;
        END IF;
        SELECT count(*) INTO n_rows
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted';
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        reason := mediasync.delete_reason('soft_delete');
        batch := mediasync.open_deletion_batch('UPDATE', reason, n_rows, n_rows, n_rows);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) '
                       'SELECT $1, %2$s FROM old_rows o JOIN new_rows n ON n.id = o.id '
                       'WHERE n.status = ''deleted'' AND o.status IS DISTINCT FROM ''deleted''',
                       cols, mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files', 'o'))
                USING batch.id;
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT n.public_id, n.resource_type, n.type, n.id, reason, budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted'
        ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no DELETE trigger: journal and queue every row (and the child rows a
        -- TRUNCATE ... CASCADE is about to empty) before it runs.
        SELECT count(*), count(*) FILTER (WHERE status = 'active') INTO n_rows, n_live FROM public.media_files;
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        batch := mediasync.open_deletion_batch('TRUNCATE', 'db_delete', n_rows, n_live, n_live);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) SELECT $1, %1$s FROM public.media_files',
                       cols) USING batch.id;
        PERFORM mediasync.journal_children_of_truncate();
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT m.public_id, m.resource_type, m.type, m.id, 'db_delete', budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM public.media_files m
        ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    END IF;
    UPDATE mediasync.deletion_batches SET queued = n_queued WHERE id = batch.id;
    IF n_queued > 0 THEN  -- wakes the cleanup DAG: it deletes a flowing batch, and reports a held one
        PERFORM pg_notify('mediasync_cleanup_queue',
                          CASE WHEN batch.status = 'held' THEN json_build_object('queued', n_queued, 'held', true)
                               ELSE json_build_object('queued', n_queued) END::text);
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
