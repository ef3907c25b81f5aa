-- Named queries `mediasync verify` cleans up with: everything it created lives under its own
-- folder (a public_id prefix) or is a run it recorded, and goes again, leaving no trace in the
-- history or the queue counts.

-- name: delete_run
-- The verification's own reconciliation run (its items cascade; a request pointing at it is unlinked).
DELETE FROM mediasync.reconciliation_runs WHERE id = %(run_id)s;

-- name: delete_queue_entries
-- Every cleanup-queue entry of the verification's namespace, whatever its state.
DELETE FROM public.cloudinary_cleanup_queue WHERE starts_with(public_id, %(prefix)s);

-- name: queue_entry_ids
SELECT id FROM public.cloudinary_cleanup_queue
 WHERE starts_with(public_id, %(prefix)s) AND status = 'pending' ORDER BY id;
