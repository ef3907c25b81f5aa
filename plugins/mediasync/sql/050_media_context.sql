-- 050: contextual metadata on media_files — Cloudinary's "context" key-value pairs (alt text,
-- caption, ...): stored when an upload gives them, returned by the API, and kept in step with
-- Cloudinary by `resource_context_changed` notifications. Existing rows have none.
ALTER TABLE public.media_files ADD COLUMN IF NOT EXISTS context jsonb NOT NULL DEFAULT '{}'::jsonb;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'media_files_context_is_object') THEN
        ALTER TABLE public.media_files
            ADD CONSTRAINT media_files_context_is_object CHECK (jsonb_typeof(context) = 'object');
    END IF;
END $$;
