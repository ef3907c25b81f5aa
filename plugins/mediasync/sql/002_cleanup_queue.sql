-- 002: the Cloudinary cleanup queue (seed's name) — a job queue on PostgreSQL.
-- States: pending -> processing -> completed | pending (retry) | failed; failed -> pending (retry_failed);
-- processing with an expired lease -> pending/failed (rescue).

CREATE TABLE IF NOT EXISTS public.cloudinary_cleanup_queue (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     text NOT NULL CHECK (public_id <> ''),
    resource_type text NOT NULL DEFAULT 'image' CHECK (resource_type IN ('image', 'video', 'raw')),
    type          text NOT NULL DEFAULT 'upload',
    media_file_id uuid,  -- no FK: the row it refers to is usually gone
    reason        text NOT NULL CHECK (reason IN ('db_delete', 'soft_delete', 'hard_delete',
                                                  'reconcile_orphan', 'upload_compensation')),
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    available_at  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    last_error    text,
    errors        jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CONSTRAINT cleanup_queue_lease_when_processing CHECK ((status = 'processing') = (locked_until IS NOT NULL)),
    CONSTRAINT cleanup_queue_completed_at_when_completed CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);

-- At most one open (pending/processing) entry per asset: enqueueing twice is a no-op.
CREATE UNIQUE INDEX IF NOT EXISTS cleanup_queue_one_open_per_asset
    ON public.cloudinary_cleanup_queue (public_id, resource_type, type)
    WHERE status IN ('pending', 'processing');
-- The claim scans only claimable rows, oldest first.
CREATE INDEX IF NOT EXISTS cleanup_queue_claimable_idx
    ON public.cloudinary_cleanup_queue (available_at, id) WHERE status = 'pending';
-- The rescuer scans only leased rows.
CREATE INDEX IF NOT EXISTS cleanup_queue_leased_idx
    ON public.cloudinary_cleanup_queue (locked_until) WHERE status = 'processing';
-- Retention scans only completed rows by age.
CREATE INDEX IF NOT EXISTS cleanup_queue_completed_idx
    ON public.cloudinary_cleanup_queue (completed_at, id) WHERE status = 'completed';
CREATE INDEX IF NOT EXISTS cleanup_queue_failed_idx
    ON public.cloudinary_cleanup_queue (updated_at DESC) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS cleanup_queue_media_file_idx
    ON public.cloudinary_cleanup_queue (media_file_id);
