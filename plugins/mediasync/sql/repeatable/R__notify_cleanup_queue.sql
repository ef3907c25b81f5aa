-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- The queue's wake-up notification (channel mediasync_cleanup_queue, which the cleanup DAG's
-- trigger LISTENs on):
--   - the media_files triggers (enqueue_deleted_media) notify themselves, once per statement, with
--     the count their INSERT reported: '{"queued": n}' (and "held": true for a held batch);
--   - any other statement that inserts into the queue directly (the services, reconciliation,
--     plain SQL) fires this statement trigger, without a transition table, which notifies '{}'.
--     `WHEN (pg_trigger_depth() = 0)` keeps it silent for the inserts made inside triggers.
-- The Airflow trigger reads a missing count as 1.

CREATE OR REPLACE FUNCTION mediasync.notify_cleanup_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
BEGIN
    PERFORM pg_notify('mediasync_cleanup_queue', '{}');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS cleanup_queue_notify_insert ON public.cloudinary_cleanup_queue;
CREATE TRIGGER cleanup_queue_notify_insert
    AFTER INSERT ON public.cloudinary_cleanup_queue
    FOR EACH STATEMENT
    WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION mediasync.notify_cleanup_queue();
