-- 010: settings every path reads inside the database, and a listing snapshot that knows its scope.

-- Settings the database itself needs (the enqueue trigger runs for plain SQL too, where no
-- connection option says anything). `mediasync db upgrade` and the cleanup-queue processor write
-- them from MEDIASYNC_* settings; the trigger reads them. Schema mediasync: never exposed.
CREATE TABLE IF NOT EXISTS mediasync.runtime_settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mediasync.runtime_settings (name, value) VALUES ('max_attempts', '3') ON CONFLICT (name) DO NOTHING;

-- Attempts before a cleanup entry is `failed`: the configured MEDIASYNC_MAX_ATTEMPTS, whoever enqueues.
CREATE OR REPLACE FUNCTION mediasync.max_attempts() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT CASE WHEN value ~ '^[1-9][0-9]{0,3}$' THEN value::integer END
                       FROM mediasync.runtime_settings WHERE name = 'max_attempts'), 3)
$$;

-- The snapshot is UNLOGGED (fast COPY); after a crash or on a promoted replica PostgreSQL empties it.
-- The checkpoints must vanish with it, or a resumed run would trust a cursor past pages it lost and
-- report every lost asset as missing: they become UNLOGGED too, and both start empty here (the
-- listing's shape changed: one checkpoint per listing source, scope-aware columns).
DROP TABLE IF EXISTS mediasync.listing_checkpoints;
CREATE UNLOGGED TABLE mediasync.listing_checkpoints (
    inventory_key text NOT NULL,
    source        text NOT NULL,         -- one listing: resource type + prefix or asset folder
    resource_type text NOT NULL,
    cursor        text,
    complete      boolean NOT NULL DEFAULT false,
    assets_listed bigint NOT NULL DEFAULT 0,
    unmanaged     bigint NOT NULL DEFAULT 0,  -- seen outside the managed folders (acted on only in account scope)
    pages         bigint NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (inventory_key, source)
);

TRUNCATE mediasync.listing_snapshot;
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT '';
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS asset_id text;
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS asset_folder text;
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS display_name text;
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS folder text;  -- as the folder mode defines it
CREATE INDEX IF NOT EXISTS listing_snapshot_asset_id_idx
    ON mediasync.listing_snapshot (inventory_key, asset_id) WHERE asset_id IS NOT NULL;

-- Which inventory a run covered, so a later run of it can close a run a crash left `running`.
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS inventory_key text;
CREATE INDEX IF NOT EXISTS reconciliation_runs_running_idx
    ON mediasync.reconciliation_runs (inventory_key) WHERE status = 'running';
