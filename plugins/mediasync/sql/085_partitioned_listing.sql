-- 085: a full listing splits each of its listings into upload-time ranges listed side by side.
-- The ranges are planned from what the last complete full listing saw: the upload times (whole
-- seconds, as the Search API compares them) at which its assets split into equal shares, and the
-- second after its newest asset. A run cut short resumes every range from its own checkpoint
-- (listing_checkpoints, one row per range), so the plan changes only when a listing completes.
CREATE TABLE IF NOT EXISTS mediasync.listing_plans (
    inventory_key text NOT NULL,
    source        text NOT NULL,           -- the listing the ranges split (ListingSource.whole_key)
    bounds        timestamptz[] NOT NULL,  -- ascending; ranges [-, b1), [b1, b2), ..., [bn, -)
    assets        bigint NOT NULL,         -- what the listing it was planned from found
    planned_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (inventory_key, source)
);
