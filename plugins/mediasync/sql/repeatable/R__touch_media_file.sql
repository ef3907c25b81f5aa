-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- updated_at, deleted_at and deleted_by stamped on every UPDATE of media_files.

-- Undo restores rows exactly as they were: with `mediasync.restoring` on, updated_at and the
-- deletion columns are taken as given instead of being stamped.
CREATE OR REPLACE FUNCTION mediasync.touch_media_file() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mediasync.restoring', true) = 'on' THEN
        RETURN NEW;
    END IF;
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

DROP TRIGGER IF EXISTS media_files_touch ON public.media_files;
CREATE TRIGGER media_files_touch BEFORE UPDATE ON public.media_files
    FOR EACH ROW EXECUTE FUNCTION mediasync.touch_media_file();
