-- 045: a reconciliation is either a full listing of its inventory or an incremental one (only the
-- assets uploaded since the previous complete run, through the Search API). The run records which,
-- and from when an incremental run listed, so the cadence can find the last full listing and an
-- operator can tell the two apart. Earlier runs were all full listings.
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'full';
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS listed_since timestamptz;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'reconciliation_runs_kind_check') THEN
        ALTER TABLE mediasync.reconciliation_runs
            ADD CONSTRAINT reconciliation_runs_kind_check CHECK (kind IN ('full', 'incremental'));
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS reconciliation_runs_cadence_idx
    ON mediasync.reconciliation_runs (inventory_key, kind, started_at DESC) WHERE status = 'completed';
