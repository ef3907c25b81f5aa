-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- An *open* cleanup-queue entry: one that may still delete its asset — pending, processing, or held
-- by the delete brake. Declared once; every trigger and query that asks "is there an open entry for
-- this asset?" calls it, and the unique index below (one open entry per asset, the arbiter of every
-- `ON CONFLICT ... WHERE mediasync.is_open_entry(status) DO NOTHING`) is built on it.
-- A plain SQL function, IMMUTABLE: the planner inlines it, so a query spelling it matches the
-- index's predicate and the claim's plans are the same as with the IN list written out.
CREATE OR REPLACE FUNCTION mediasync.is_open_entry(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('pending', 'processing', 'held')
$$;

-- An index's predicate is evaluated when a row is written, so the index is rebuilt on the function
-- whenever this file changes (an IMMUTABLE function must not change under an index built on it).
DROP INDEX IF EXISTS public.cleanup_queue_one_open_per_asset;
CREATE UNIQUE INDEX cleanup_queue_one_open_per_asset
    ON public.cloudinary_cleanup_queue (public_id, resource_type, type)
    WHERE mediasync.is_open_entry(status);
