-- 100: the diff looks listed assets up by asset_id only for equality (a row's asset by its id, a
-- placeholder behind a missing row). A btree over asset_ids — random hex, so every listed asset
-- lands on a random leaf page — cost a full listing's COPY more than the table itself did: 1M rows
-- took 5.1-5.8 s of PostgreSQL CPU with it, 1.9 s without any, 2.6 s with a hash index, which
-- answers the same lookups. Hash indexes are crash-safe and replicated since PostgreSQL 10. The
-- snapshot is scratch (UNLOGGED, empty between runs), so rebuilding its index loses nothing.
DROP INDEX IF EXISTS mediasync.listing_snapshot_asset_id_idx;
CREATE INDEX IF NOT EXISTS listing_snapshot_asset_id_hash_idx
    ON mediasync.listing_snapshot USING hash (asset_id) WHERE asset_id IS NOT NULL;
