-- 007: Cloudinary's identity and folder facts on media_files, and who deleted a row.
-- asset_id never changes (renames and moves keep it): matching uses it where known, else
-- (public_id, resource_type, type). asset_folder/display_name are what dynamic folder mode
-- (every account since June 2024) uses instead of a public_id prefix. Existing rows get them
-- from reconciliation's metadata repair.
ALTER TABLE public.media_files ADD COLUMN IF NOT EXISTS asset_id text;
ALTER TABLE public.media_files ADD COLUMN IF NOT EXISTS asset_folder text;
ALTER TABLE public.media_files ADD COLUMN IF NOT EXISTS display_name text;
-- Who marked the row deleted: the app (API/services), plain SQL, or Cloudinary (a notification
-- said the asset is gone). NULL while the row is active.
ALTER TABLE public.media_files ADD COLUMN IF NOT EXISTS deleted_by text
    CHECK (deleted_by IN ('app', 'sql', 'cloudinary'));

CREATE UNIQUE INDEX IF NOT EXISTS media_files_asset_id_key ON public.media_files (asset_id) WHERE asset_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS media_files_asset_folder_idx ON public.media_files (asset_folder) WHERE asset_folder IS NOT NULL;

-- deleted_by follows status like deleted_at does; services say who they are with
-- `SET LOCAL mediasync.deleted_by = 'app'|'cloudinary'`, plain SQL leaves it unset ('sql').
CREATE OR REPLACE FUNCTION mediasync.touch_media_file() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.status = 'deleted' AND NEW.deleted_at IS NULL THEN
        NEW.deleted_at := now();
    ELSIF NEW.status = 'active' THEN
        NEW.deleted_at := NULL;
    END IF;
    IF NEW.status = 'deleted' AND OLD.status IS DISTINCT FROM 'deleted' THEN
        NEW.deleted_by := CASE WHEN current_setting('mediasync.deleted_by', true) IN ('app', 'cloudinary')
                               THEN current_setting('mediasync.deleted_by', true) ELSE 'sql' END;
    ELSIF NEW.status = 'active' THEN
        NEW.deleted_by := NULL;
    END IF;
    RETURN NEW;
END $$;
