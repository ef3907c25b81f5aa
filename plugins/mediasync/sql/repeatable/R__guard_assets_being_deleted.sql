-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).

-- The reuse guard: a row that (re)uses an asset with an open queue entry — pending, processing or
-- held (mediasync.is_open_entry) — waits for the entries a processor holds, and fails cleanly when
-- the asset was deleted meanwhile. A held entry is seen but never waited for (a held asset is never
-- deleted while an active row uses it: the drain re-checks).
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
         WHERE mediasync.is_open_entry(q.status) AND n.status = 'active';
    ELSE
        SELECT array_agg(q.id ORDER BY q.id) INTO open_ids
          FROM public.cloudinary_cleanup_queue q
          JOIN new_rows n ON n.public_id = q.public_id AND n.resource_type = q.resource_type AND n.type = q.type
          JOIN old_rows o ON o.id = n.id
         WHERE mediasync.is_open_entry(q.status) AND n.status = 'active'
           AND (o.status IS DISTINCT FROM 'active'
                OR (o.public_id, o.resource_type, o.type) IS DISTINCT FROM (n.public_id, n.resource_type, n.type));
    END IF;
    IF open_ids IS NULL THEN
        RETURN NULL;
    END IF;
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
     WHERE q.id = ANY (open_ids) AND q.status = 'completed' AND q.outcome IS DISTINCT FROM 'skipped_in_use'
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
