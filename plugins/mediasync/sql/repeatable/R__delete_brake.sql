-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- The delete brake. Every statement (or API request, or reconciliation apply) that queues Cloudinary
-- deletions is one *deletion batch*: who issued it, what it removed, and whether it may flow. The
-- brake decides in the deleting transaction itself (a psql DELETE with no mediasync process running
-- is covered): a batch above the thresholds is `held`, and so are its queue entries, which no
-- processor claims. The thresholds and the trash window (MEDIASYNC_DELETE_*) reach the database
-- through mediasync.runtime_settings.

CREATE OR REPLACE FUNCTION mediasync.brake_settings(
    OUT threshold bigint, OUT fraction numeric, OUT window_size bigint, OUT delay_seconds integer)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(CASE WHEN name = 'delete_hold_threshold' AND value ~ '^[0-9]{1,12}$' THEN value::bigint END), 1000),
           coalesce(max(CASE WHEN name = 'delete_hold_fraction' AND value ~ '^(0|1|0?\.[0-9]+|1\.0+)$'
                             THEN value::numeric END), 0.1),
           coalesce(max(CASE WHEN name = 'delete_hold_window' AND value ~ '^[0-9]{1,12}$' THEN value::bigint END), 5000),
           coalesce(max(CASE WHEN name = 'delete_delay_seconds' AND value ~ '^[0-9]{1,9}$' THEN value::integer END), 0)
      FROM mediasync.runtime_settings
     WHERE name IN ('delete_hold_threshold', 'delete_hold_fraction', 'delete_hold_window', 'delete_delay_seconds')
$$;

-- The deleting transaction's id as a bigint (xid8 has no BRIN operator class).
CREATE OR REPLACE FUNCTION mediasync.current_transaction() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_current_xact_id()::text::bigint $$;

-- Why the row is being removed. Services set `SET LOCAL mediasync.delete_reason = 'hard_delete'`;
-- plain SQL leaves it unset, which is a direct database delete.
CREATE OR REPLACE FUNCTION mediasync.delete_reason(fallback text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('mediasync.delete_reason', true) IN
             ('db_delete', 'soft_delete', 'hard_delete', 'reconcile_orphan', 'upload_compensation')
        THEN current_setting('mediasync.delete_reason', true)
        ELSE fallback
    END
$$;

-- The brake: open a batch for `assets` assets at risk and decide whether it flows.
--   held when assets > threshold, or (assets > 10) > fraction × the library's active assets before
--   the statement (or p_library, for a caller that knows it better), or when the assets of flowing
--   batches in the last hour plus these exceed the window (a loop deleting row by row). 0 disables a rule; a batch with nothing at risk always flows.
-- Who: p_source / p_requested_by, else mediasync.delete_source ('api', 'reconcile'; unset: 'sql') and
-- mediasync.requested_by, which the services SET LOCAL before a statement the triggers see; and the
-- database session itself (user, application_name, client address, backend pid, transaction).
CREATE OR REPLACE FUNCTION mediasync.open_deletion_batch(
    p_operation text, p_reason text, p_rows bigint, p_assets bigint, p_active_rows_removed bigint,
    p_source text DEFAULT NULL, p_requested_by text DEFAULT NULL, p_library bigint DEFAULT NULL)
RETURNS mediasync.deletion_batches
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    s           record;
    library     bigint;
    last_hour   bigint;
    why         text;
    src         text := coalesce(p_source, nullif(current_setting('mediasync.delete_source', true), ''), 'sql');
    batch       mediasync.deletion_batches;
BEGIN
    SELECT * INTO s FROM mediasync.brake_settings();
    IF src NOT IN ('sql', 'api', 'reconcile') THEN
        src := 'sql';
    END IF;
    IF p_assets > 0 THEN
        IF s.threshold > 0 AND p_assets > s.threshold THEN
            why := format('%s assets in one %s, above MEDIASYNC_DELETE_HOLD_THRESHOLD (%s)',
                          p_assets, lower(p_operation), s.threshold);
        END IF;
        IF why IS NULL AND s.fraction > 0 AND p_assets > 10 THEN
            IF p_library IS NOT NULL THEN  -- the caller knows the library (reconciliation: the assets it listed)
                library := p_library;
            ELSE
                SELECT count(*) + p_active_rows_removed INTO library FROM public.media_files WHERE status = 'active';
            END IF;
            IF p_assets > s.fraction * library THEN
                why := format('%s assets are %s%% of the library''s %s active assets, above MEDIASYNC_DELETE_HOLD_FRACTION (%s)',
                              p_assets, round(100.0 * p_assets / greatest(library, 1), 1), library, s.fraction);
            END IF;
        END IF;
        IF why IS NULL AND s.window_size > 0 THEN
            SELECT coalesce(sum(assets), 0) INTO last_hour FROM mediasync.deletion_batches
             WHERE status = 'flowing' AND created_at > now() - interval '1 hour';
            IF last_hour + p_assets > s.window_size THEN
                why := format('%s assets deleted in the last hour with these %s, above MEDIASYNC_DELETE_HOLD_WINDOW (%s)',
                              last_hour + p_assets, p_assets, s.window_size);
            END IF;
        END IF;
    END IF;
    INSERT INTO mediasync.deletion_batches
           (source, operation, reason, db_user, application_name, client_addr, backend_pid, transaction_id,
            requested_by, rows_affected, assets, status, hold_reason, available_at)
    VALUES (src, p_operation, p_reason, session_user, nullif(current_setting('application_name', true), ''),
            inet_client_addr(), pg_backend_pid(), mediasync.current_transaction(),
            coalesce(p_requested_by, nullif(current_setting('mediasync.requested_by', true), '')), p_rows, p_assets,
            CASE WHEN why IS NULL THEN 'flowing' ELSE 'held' END, why,
            now() + make_interval(secs => s.delay_seconds))
    RETURNING * INTO batch;
    IF why IS NOT NULL THEN  -- the page shows a held batch as soon as it commits
        PERFORM pg_notify('mediasync_deletion_batches', json_build_object(
            'op', 'HELD', 'batch', batch.id, 'assets', p_assets, 'source', src)::text);
    END IF;
    RETURN batch;
END $$;
