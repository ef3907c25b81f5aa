-- Named queries `mediasync verify` cleans up with: everything it created lives under its own
-- folder (a public_id prefix) or is a run it recorded, and goes again, leaving no trace in the
-- history or the queue counts.

-- name: delete_run
-- The verification's own reconciliation run (its items cascade; a request pointing at it is unlinked).
DELETE FROM mediasync.reconciliation_runs WHERE id = %(run_id)s;

-- name: delete_queue_entries
-- Every cleanup-queue entry of the verification's namespace (its folder prefix, or the public_ids
-- it created: in dynamic folders they name no folder), whatever its state.
DELETE FROM public.cloudinary_cleanup_queue
 WHERE starts_with(public_id, %(prefix)s) OR public_id = ANY (%(ids)s::text[]);

-- name: queue_entry_ids
SELECT id FROM public.cloudinary_cleanup_queue
 WHERE (starts_with(public_id, %(prefix)s) OR public_id = ANY (%(ids)s::text[])) AND status = 'pending' ORDER BY id;

-- name: delete_listing_state
-- A reconciliation of the namespace that stopped early leaves its listing snapshot and checkpoints
-- (and a complete one the ranges it planned for the next).
WITH snapshot AS (
    DELETE FROM mediasync.listing_snapshot WHERE starts_with(inventory_key, %(key_prefix)s)
), plans AS (
    DELETE FROM mediasync.listing_plans WHERE starts_with(inventory_key, %(key_prefix)s)
)
DELETE FROM mediasync.listing_checkpoints WHERE starts_with(inventory_key, %(key_prefix)s);

-- name: run_report_paths
SELECT report_csv, report_html FROM mediasync.reconciliation_runs WHERE id = %(run_id)s;
