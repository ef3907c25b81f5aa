-- 004: reconciliation bookkeeping (schema mediasync, never exposed through Supabase's Data API).

CREATE TABLE IF NOT EXISTS mediasync.reconciliation_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mode             text NOT NULL CHECK (mode IN ('dry_run', 'apply')),
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'incomplete', 'aborted', 'failed')),
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,
    counts           jsonb NOT NULL DEFAULT '{}'::jsonb,
    message          text,
    listing_complete boolean NOT NULL DEFAULT false,
    assets_listed    bigint NOT NULL DEFAULT 0,
    report_csv       text,
    report_html      text,
    report_url       text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS reconciliation_runs_started_idx ON mediasync.reconciliation_runs (started_at DESC);

CREATE TABLE IF NOT EXISTS mediasync.reconciliation_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES mediasync.reconciliation_runs (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('orphan_asset', 'undeleted_asset', 'missing_asset',
                                                'metadata_mismatch', 'stuck_queue')),
    public_id     text NOT NULL,
    resource_type text NOT NULL,
    type          text NOT NULL,
    media_file_id uuid,
    queue_id      bigint,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    action        text NOT NULL DEFAULT 'none' CHECK (action IN ('none', 'queued', 'updated', 'reported')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reconciliation_items_run_idx ON mediasync.reconciliation_items (run_id, kind);

-- The Cloudinary listing of one inventory, streamed in with COPY. It survives across runs so that a
-- listing cut short by a rate limit resumes from its checkpoint instead of starting over.
CREATE UNLOGGED TABLE IF NOT EXISTS mediasync.listing_snapshot (
    inventory_key text NOT NULL,
    public_id     text NOT NULL,
    resource_type text NOT NULL,
    type          text NOT NULL,
    format        text,
    bytes         bigint,
    version       bigint,
    etag          text,
    secure_url    text,
    width         integer,
    height        integer,
    created_at    timestamptz,
    PRIMARY KEY (inventory_key, resource_type, type, public_id)
);

-- Where an inventory's listing stopped: one row per (inventory, resource type).
CREATE TABLE IF NOT EXISTS mediasync.listing_checkpoints (
    inventory_key text NOT NULL,
    resource_type text NOT NULL,
    cursor        text,
    complete      boolean NOT NULL DEFAULT false,
    assets_listed bigint NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (inventory_key, resource_type)
);
