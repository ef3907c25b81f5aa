-- 001: the media library tables (the seed's names).
-- media_files holds the metadata; Cloudinary holds the bytes. Child rows cascade on hard delete.
-- Needs PostgreSQL 13+ (core gen_random_uuid(), transition tables).


CREATE TABLE IF NOT EXISTS public.media_files (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    public_id         text NOT NULL CHECK (public_id <> ''),
    resource_type     text NOT NULL DEFAULT 'image' CHECK (resource_type IN ('image', 'video', 'raw')),
    type              text NOT NULL DEFAULT 'upload',
    format            text,
    bytes             bigint CHECK (bytes >= 0),
    width             integer,
    height            integer,
    version           bigint,
    etag              text,
    secure_url        text,
    original_filename text,
    folder            text,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    CONSTRAINT media_files_asset_key UNIQUE (public_id, resource_type, type),
    CONSTRAINT media_files_deleted_at_matches_status CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS media_files_status_created_idx ON public.media_files (status, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS public.media_tags (
    media_file_id uuid NOT NULL REFERENCES public.media_files (id) ON DELETE CASCADE,
    tag           text NOT NULL CHECK (tag <> ''),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_file_id, tag)
);
CREATE INDEX IF NOT EXISTS media_tags_tag_idx ON public.media_tags (tag);

CREATE TABLE IF NOT EXISTS public.media_usage (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    media_file_id uuid NOT NULL REFERENCES public.media_files (id) ON DELETE CASCADE,
    entity_type   text NOT NULL,
    entity_id     text NOT NULL,
    field         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (media_file_id, entity_type, entity_id, field)
);
CREATE INDEX IF NOT EXISTS media_usage_media_file_idx ON public.media_usage (media_file_id);

-- Row-level housekeeping: updated_at always moves, deleted_at follows status.
CREATE OR REPLACE FUNCTION mediasync.touch_media_file() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.status = 'deleted' AND NEW.deleted_at IS NULL THEN
        NEW.deleted_at := now();
    ELSIF NEW.status = 'active' THEN
        NEW.deleted_at := NULL;
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS media_files_touch ON public.media_files;
CREATE TRIGGER media_files_touch BEFORE UPDATE ON public.media_files
    FOR EACH ROW EXECUTE FUNCTION mediasync.touch_media_file();
