-- Current definition (re-applied by `mediasync db upgrade` when this file changes).
-- MEDIASYNC_MAX_ATTEMPTS as the database sees it: published into mediasync.runtime_settings by
-- `db upgrade`, the queue processor and applied reconciliations, read by every path that enqueues
-- in SQL (the triggers, reconciliation's bulk insert). The fallback matches Settings.max_attempts.

-- Attempts before a cleanup entry is `failed`: the configured MEDIASYNC_MAX_ATTEMPTS, whoever enqueues.
CREATE OR REPLACE FUNCTION mediasync.max_attempts() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT CASE WHEN value ~ '^[1-9][0-9]{0,3}$' THEN value::integer END
                       FROM mediasync.runtime_settings WHERE name = 'max_attempts'), 3)
$$;
