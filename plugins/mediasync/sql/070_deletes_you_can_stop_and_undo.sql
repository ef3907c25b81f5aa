-- 070: deletes you can stop and undo (issue 19).
--
-- Mirroring a SQL DELETE to Cloudinary within seconds is the product's core and its biggest hazard.
-- From here on every statement (or API request, or reconciliation apply) that queues Cloudinary
-- deletions is one *deletion batch*: who issued it, what it removed, and whether it may flow.
--   - The brake decides in the deleting transaction itself (a psql DELETE with no mediasync process
--     running is covered): a batch above the thresholds is `held` and its queue entries get status
--     `held`, which no processor claims.
--   - The undo journal keeps what undo needs, written in the same transaction as the removal: every
--     column of each deleted (or soft-deleted) media_files row, and the media_tags / media_usage rows
--     the DELETE cascaded away. Journals are append-only and indexed by BRIN only, so a bulk DELETE
--     pays one heap insert per row for them.
--   - A trash window (MEDIASYNC_DELETE_DELAY_SECONDS) delays every deletion's first attempt.
-- Settings reach the database through mediasync.runtime_settings (as max_attempts does).

-- The deleting transaction's id as a bigint (xid8 has no BRIN operator class).
CREATE OR REPLACE FUNCTION mediasync.current_transaction() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_current_xact_id()::text::bigint $$;

-- ---------------------------------------------------------------------------------------------------
-- Batches
CREATE TABLE IF NOT EXISTS mediasync.deletion_batches (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    source           text NOT NULL CHECK (source IN ('sql', 'api', 'reconcile')),
    operation        text NOT NULL,        -- DELETE, UPDATE (soft delete), TRUNCATE, or the queue path
    reason           text,                 -- the queue reason its entries carry
    db_user          text NOT NULL DEFAULT session_user,
    application_name text,
    client_addr      inet,
    backend_pid      integer,
    transaction_id   bigint,               -- the deleting transaction (pg_current_xact_id)
    requested_by     text,                 -- on whose behalf, when the caller says (API user, DAG run, CLI user)
    rows_affected    bigint NOT NULL DEFAULT 0,  -- media_files rows deleted or soft-deleted (journaled)
    assets           bigint NOT NULL DEFAULT 0,  -- Cloudinary assets at risk: live rows' assets, or reconciliation's targets
    queued           bigint NOT NULL DEFAULT 0,  -- queue entries created for it (an asset already queued is not queued twice)
    status           text NOT NULL CHECK (status IN ('flowing', 'held', 'released', 'undone')),
    hold_reason      text,
    available_at     timestamptz NOT NULL DEFAULT now(),  -- no Cloudinary call before (the trash window)
    decided_by       text,
    decided_at       timestamptz,
    alerted_at       timestamptz,          -- when a cleanup run reported it held
    journal_purged_at timestamptz,         -- its undo journal is gone (past MEDIASYNC_UNDO_DAYS)
    undo_lease_until timestamptz,          -- an undo in progress holds the batch until then (a lease, no session lock)
    undo_finished_at timestamptz,          -- status 'undone' with this NULL: an undo that was cut short
    undo_result      jsonb,
    CONSTRAINT deletion_batches_hold_reason CHECK ((status = 'held') <= (hold_reason IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS deletion_batches_flowing_idx
    ON mediasync.deletion_batches (created_at) WHERE status = 'flowing';
CREATE INDEX IF NOT EXISTS deletion_batches_held_idx
    ON mediasync.deletion_batches (id) WHERE status = 'held';
CREATE INDEX IF NOT EXISTS deletion_batches_created_idx ON mediasync.deletion_batches (created_at DESC, id DESC);

-- The undo journal. Columns follow public.media_files / media_tags / media_usage (synchronised by
-- mediasync.sync_deletion_journals() at every upgrade), no constraints beyond NOT NULL.
CREATE TABLE IF NOT EXISTS mediasync.deleted_media_files (LIKE public.media_files);
ALTER TABLE mediasync.deleted_media_files ADD COLUMN IF NOT EXISTS batch_id bigint NOT NULL;
CREATE INDEX IF NOT EXISTS deleted_media_files_batch_brin
    ON mediasync.deleted_media_files USING brin (batch_id) WITH (pages_per_range = 16);

CREATE TABLE IF NOT EXISTS mediasync.deleted_media_tags (LIKE public.media_tags);
ALTER TABLE mediasync.deleted_media_tags ADD COLUMN IF NOT EXISTS transaction_id bigint NOT NULL;
CREATE INDEX IF NOT EXISTS deleted_media_tags_xact_brin
    ON mediasync.deleted_media_tags USING brin (transaction_id) WITH (pages_per_range = 16);

CREATE TABLE IF NOT EXISTS mediasync.deleted_media_usage (LIKE public.media_usage);
ALTER TABLE mediasync.deleted_media_usage ADD COLUMN IF NOT EXISTS transaction_id bigint NOT NULL;
CREATE INDEX IF NOT EXISTS deleted_media_usage_xact_brin
    ON mediasync.deleted_media_usage USING brin (transaction_id) WITH (pages_per_range = 16);

-- ---------------------------------------------------------------------------------------------------
-- The queue: entries carry their batch; `held` waits for a decision, `cancelled` ends an entry undo
-- took back; `outcome` says what Cloudinary answered (undo needs to know which assets are gone).
ALTER TABLE public.cloudinary_cleanup_queue ADD COLUMN IF NOT EXISTS batch_id bigint;
ALTER TABLE public.cloudinary_cleanup_queue ADD COLUMN IF NOT EXISTS outcome text;
ALTER TABLE public.cloudinary_cleanup_queue DROP CONSTRAINT IF EXISTS cloudinary_cleanup_queue_status_check;
ALTER TABLE public.cloudinary_cleanup_queue ADD CONSTRAINT cloudinary_cleanup_queue_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'held', 'cancelled'));
-- An open entry (pending, processing or held) is the one entry per asset: a held asset is not queued again.
DROP INDEX IF EXISTS public.cleanup_queue_one_open_per_asset;
CREATE UNIQUE INDEX cleanup_queue_one_open_per_asset
    ON public.cloudinary_cleanup_queue (public_id, resource_type, type)
    WHERE status IN ('pending', 'processing', 'held');
CREATE INDEX IF NOT EXISTS cleanup_queue_batch_idx
    ON public.cloudinary_cleanup_queue (batch_id) WHERE batch_id IS NOT NULL;
-- Retention purges cancelled entries by age, as it does completed ones.
CREATE INDEX IF NOT EXISTS cleanup_queue_cancelled_idx
    ON public.cloudinary_cleanup_queue (updated_at, id) WHERE status = 'cancelled';

-- ---------------------------------------------------------------------------------------------------
-- Settings (published from MEDIASYNC_DELETE_* by `mediasync db upgrade` and every queue drain).
-- The values here are the documented defaults (mediasync.config.Settings) until the first publish.
INSERT INTO mediasync.runtime_settings (name, value) VALUES
    ('delete_hold_threshold', '1000'), ('delete_hold_fraction', '0.1'), ('delete_hold_window', '5000'),
    ('delete_delay_seconds', '0'), ('undo_days', '30')
ON CONFLICT (name) DO NOTHING;

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

-- ---------------------------------------------------------------------------------------------------
-- The brake: open a batch for `assets` assets at risk and decide whether it flows.
--   held when assets > threshold, or (assets > 10) > fraction × the library's active assets before
--   the statement (or p_library, for a caller that knows it better), or when the assets of flowing batches in the last hour plus these exceed the
--   window (a loop deleting row by row). 0 disables a rule; a batch with nothing at risk always flows.
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

-- The journal's copy of a table's columns: those both have, in the source's order (a column added to
-- media_files later is journaled once sync_deletion_journals() gave the journal the same column).
CREATE OR REPLACE FUNCTION mediasync.journal_columns(journal regclass, source regclass, qualifier text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(coalesce(quote_ident(qualifier) || '.', '') || quote_ident(s.attname), ', ' ORDER BY s.attnum)
      FROM pg_attribute s
      JOIN pg_attribute j ON j.attrelid = journal AND j.attname = s.attname AND j.attnum > 0 AND NOT j.attisdropped
     WHERE s.attrelid = source AND s.attnum > 0 AND NOT s.attisdropped AND s.attgenerated = ''
$$;

-- Give each journal every column its table has (run at the end of every upgrade).
CREATE OR REPLACE FUNCTION mediasync.sync_deletion_journals() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    pair   record;
    col    record;
    added  integer := 0;
BEGIN
    FOR pair IN SELECT * FROM (VALUES ('public.media_files'::regclass, 'mediasync.deleted_media_files'::regclass),
                                      ('public.media_tags'::regclass, 'mediasync.deleted_media_tags'::regclass),
                                      ('public.media_usage'::regclass, 'mediasync.deleted_media_usage'::regclass))
                             AS p(source, journal)
    LOOP
        FOR col IN SELECT s.attname, format_type(s.atttypid, s.atttypmod) AS type
                     FROM pg_attribute s
                    WHERE s.attrelid = pair.source AND s.attnum > 0 AND NOT s.attisdropped
                      AND NOT EXISTS (SELECT 1 FROM pg_attribute j WHERE j.attrelid = pair.journal
                                         AND j.attname = s.attname AND NOT j.attisdropped)
                    ORDER BY s.attnum
        LOOP
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', pair.journal, col.attname, col.type);
            added := added + 1;
        END LOOP;
    END LOOP;
    RETURN added;
END $$;

-- ---------------------------------------------------------------------------------------------------
-- The media_files triggers: one batch per statement that removes rows, the rows journaled, one queue
-- entry per asset (held or pending, after the trash window), one wake-up for the cleanup DAG.
-- A soft delete applied from a Cloudinary notification (mediasync.deleted_by = 'cloudinary') queues
-- nothing: the asset is already gone.
CREATE OR REPLACE FUNCTION mediasync.enqueue_deleted_media() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    budget  integer := mediasync.max_attempts();
    cols    text := mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files');
    n_rows  bigint;
    n_live  bigint;
    reason  text;
    batch   mediasync.deletion_batches;
    n_queued bigint := 0;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT count(*), count(*) FILTER (WHERE status = 'active') INTO n_rows, n_live FROM old_rows;
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        reason := mediasync.delete_reason('db_delete');
        batch := mediasync.open_deletion_batch('DELETE', reason, n_rows, n_live, n_live);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) SELECT $1, %1$s FROM old_rows',
                       cols) USING batch.id;
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT o.public_id, o.resource_type, o.type, o.id, reason, budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM old_rows o
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing', 'held') DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
        IF current_setting('mediasync.deleted_by', true) = 'cloudinary' THEN
            RETURN NULL;
        END IF;
        SELECT count(*) INTO n_rows
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted';
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        reason := mediasync.delete_reason('soft_delete');
        batch := mediasync.open_deletion_batch('UPDATE', reason, n_rows, n_rows, n_rows);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) '
                       'SELECT $1, %2$s FROM old_rows o JOIN new_rows n ON n.id = o.id '
                       'WHERE n.status = ''deleted'' AND o.status IS DISTINCT FROM ''deleted''',
                       cols, mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files', 'o'))
                USING batch.id;
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT n.public_id, n.resource_type, n.type, n.id, reason, budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
         WHERE n.status = 'deleted' AND o.status IS DISTINCT FROM 'deleted'
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing', 'held') DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no DELETE trigger: journal and queue every row (and the child rows a
        -- TRUNCATE ... CASCADE is about to empty) before it runs.
        SELECT count(*), count(*) FILTER (WHERE status = 'active') INTO n_rows, n_live FROM public.media_files;
        IF n_rows = 0 THEN
            RETURN NULL;
        END IF;
        batch := mediasync.open_deletion_batch('TRUNCATE', 'db_delete', n_rows, n_live, n_live);
        EXECUTE format('INSERT INTO mediasync.deleted_media_files (batch_id, %1$s) SELECT $1, %1$s FROM public.media_files',
                       cols) USING batch.id;
        PERFORM mediasync.journal_children_of_truncate();
        INSERT INTO public.cloudinary_cleanup_queue
               (public_id, resource_type, type, media_file_id, reason, max_attempts, batch_id, status, available_at)
        SELECT m.public_id, m.resource_type, m.type, m.id, 'db_delete', budget, batch.id,
               CASE WHEN batch.status = 'held' THEN 'held' ELSE 'pending' END, batch.available_at
          FROM public.media_files m
        ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing', 'held') DO NOTHING;
        GET DIAGNOSTICS n_queued = ROW_COUNT;
    END IF;
    UPDATE mediasync.deletion_batches SET queued = n_queued WHERE id = batch.id;
    IF n_queued > 0 THEN  -- wakes the cleanup DAG: it deletes a flowing batch, and reports a held one
        PERFORM pg_notify('mediasync_cleanup_queue',
                          CASE WHEN batch.status = 'held' THEN json_build_object('queued', n_queued, 'held', true)
                               ELSE json_build_object('queued', n_queued) END::text);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION mediasync.journal_children_of_truncate() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
BEGIN
    EXECUTE format('INSERT INTO mediasync.deleted_media_tags (transaction_id, %1$s) '
                   'SELECT mediasync.current_transaction(), %1$s FROM public.media_tags',
                   mediasync.journal_columns('mediasync.deleted_media_tags', 'public.media_tags'));
    EXECUTE format('INSERT INTO mediasync.deleted_media_usage (transaction_id, %1$s) '
                   'SELECT mediasync.current_transaction(), %1$s FROM public.media_usage',
                   mediasync.journal_columns('mediasync.deleted_media_usage', 'public.media_usage'));
END $$;

-- The child rows a media_files DELETE cascades away. The cascade's statement trigger fires after
-- media_files' own (so it cannot name the batch): the rows are keyed by transaction, and undo finds
-- them by (transaction, media_file_id) of the batch's rows.
CREATE OR REPLACE FUNCTION mediasync.journal_cascaded_children() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    journal regclass := CASE TG_TABLE_NAME WHEN 'media_tags' THEN 'mediasync.deleted_media_tags'::regclass
                                            ELSE 'mediasync.deleted_media_usage'::regclass END;
BEGIN
    -- Only rows whose media_files row is gone too (a cascade): a DELETE on media_tags alone removes no media.
    EXECUTE format('INSERT INTO %1$s (transaction_id, %2$s) SELECT mediasync.current_transaction(), %3$s FROM old_rows c '
                   'WHERE NOT EXISTS (SELECT 1 FROM public.media_files m WHERE m.id = c.media_file_id)',
                   journal, mediasync.journal_columns(journal, TG_RELID),
                   mediasync.journal_columns(journal, TG_RELID, 'c'));
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS media_tags_journal_cascade ON public.media_tags;
CREATE TRIGGER media_tags_journal_cascade AFTER DELETE ON public.media_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.journal_cascaded_children();

DROP TRIGGER IF EXISTS media_usage_journal_cascade ON public.media_usage;
CREATE TRIGGER media_usage_journal_cascade AFTER DELETE ON public.media_usage
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.journal_cascaded_children();

-- Undo restores rows exactly as they were: with `mediasync.restoring` on, updated_at and the
-- deletion columns are taken as given instead of being stamped.
CREATE OR REPLACE FUNCTION mediasync.touch_media_file() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mediasync.restoring', true) = 'on' THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    IF NEW.status = 'deleted' AND NEW.deleted_at IS NULL THEN
        NEW.deleted_at := now();
    ELSIF NEW.status = 'active' THEN
        NEW.deleted_at := NULL;
    END IF;
    IF NEW.status = 'deleted' AND OLD.status IS DISTINCT FROM 'deleted' THEN
        NEW.deleted_by := CASE WHEN current_setting('mediasync.deleted_by', true) IN ('app', 'cloudinary')
                               THEN current_setting('mediasync.deleted_by', true) ELSE 'sql' END;
    ELSIF NEW.status = 'active' THEN
        NEW.deleted_by := NULL;
    END IF;
    RETURN NEW;
END $$;

-- The reuse guard (020) treats a held entry as open too: a restore waits for nothing it holds, but
-- sees it (a held asset is never deleted while an active row uses it: the drain re-checks).
CREATE OR REPLACE FUNCTION mediasync.guard_assets_being_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    open_ids bigint[];
    gone     record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(q.id ORDER BY q.id) INTO open_ids
          FROM public.cloudinary_cleanup_queue q
          JOIN new_rows n ON n.public_id = q.public_id AND n.resource_type = q.resource_type AND n.type = q.type
         WHERE q.status IN ('pending', 'processing', 'held') AND n.status = 'active';
    ELSE
        SELECT array_agg(q.id ORDER BY q.id) INTO open_ids
          FROM public.cloudinary_cleanup_queue q
          JOIN new_rows n ON n.public_id = q.public_id AND n.resource_type = q.resource_type AND n.type = q.type
          JOIN old_rows o ON o.id = n.id
         WHERE q.status IN ('pending', 'processing', 'held') AND n.status = 'active'
           AND (o.status IS DISTINCT FROM 'active'
                OR (o.public_id, o.resource_type, o.type) IS DISTINCT FROM (n.public_id, n.resource_type, n.type));
    END IF;
    IF open_ids IS NULL THEN
        RETURN NULL;
    END IF;
    FOR gone IN
        SELECT q.public_id, q.resource_type, q.type
          FROM public.cloudinary_cleanup_queue q
         WHERE q.id = ANY (open_ids)
         ORDER BY q.id
           FOR SHARE
    LOOP
        NULL;
    END LOOP;
    SELECT q.public_id, q.resource_type, q.type INTO gone
      FROM public.cloudinary_cleanup_queue q
     WHERE q.id = ANY (open_ids) AND q.status = 'completed' AND q.outcome IS DISTINCT FROM 'skipped_in_use'
     ORDER BY q.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'asset %/%/% was deleted from Cloudinary while this change waited for it; upload it again',
              gone.resource_type, gone.type, gone.public_id
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

-- ---------------------------------------------------------------------------------------------------
-- Undo: put the batch's rows back exactly as the journal has them (every column, ids and timestamps
-- included), then their media_tags / media_usage rows. `p_ids` are the rows the caller decided can
-- come back (their asset kept or restored). A hard-deleted row comes back only where nothing took
-- its id, key or asset_id since; a soft-deleted one only while it is still soft-deleted. Returns the
-- ids restored.
CREATE OR REPLACE FUNCTION mediasync.restore_journaled_rows(p_batch bigint, p_ids uuid[])
RETURNS TABLE (media_file_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, mediasync AS $$
DECLARE
    batch    mediasync.deletion_batches;
    cols     text := mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files');
    restored uuid[];
BEGIN
    SELECT * INTO batch FROM mediasync.deletion_batches WHERE id = p_batch;
    PERFORM set_config('mediasync.restoring', 'on', true);  -- updated_at and deletion columns as journaled
    IF batch.operation = 'UPDATE' THEN
        EXECUTE format('WITH back AS (UPDATE public.media_files m SET (%1$s) = (SELECT %2$s FROM mediasync.deleted_media_files j '
                       '  WHERE j.batch_id = $1 AND j.id = m.id) '
                       ' WHERE m.id = ANY ($2) AND m.status = ''deleted'' RETURNING m.id) '
                       'SELECT coalesce(array_agg(id), ''{}'') FROM back',
                       cols, mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files', 'j'))
           INTO restored USING p_batch, p_ids;
    ELSE
        EXECUTE format('WITH back AS (INSERT INTO public.media_files (%1$s) SELECT %2$s FROM mediasync.deleted_media_files j '
                       ' WHERE j.batch_id = $1 AND j.id = ANY ($2) '
                       '   AND NOT EXISTS (SELECT 1 FROM public.media_files m WHERE m.id = j.id '
                       '        OR (m.public_id = j.public_id AND m.resource_type = j.resource_type AND m.type = j.type) '
                       '        OR (j.asset_id IS NOT NULL AND m.asset_id = j.asset_id)) RETURNING id) '
                       'SELECT coalesce(array_agg(id), ''{}'') FROM back',
                       cols, mediasync.journal_columns('mediasync.deleted_media_files', 'public.media_files', 'j'))
           INTO restored USING p_batch, p_ids;
        EXECUTE format('INSERT INTO public.media_tags (%1$s) SELECT %2$s FROM mediasync.deleted_media_tags c '
                       ' WHERE c.transaction_id = $1 AND c.media_file_id = ANY ($2) ON CONFLICT DO NOTHING',
                       mediasync.journal_columns('mediasync.deleted_media_tags', 'public.media_tags'),
                       mediasync.journal_columns('mediasync.deleted_media_tags', 'public.media_tags', 'c'))
           USING batch.transaction_id, restored;
        EXECUTE format('INSERT INTO public.media_usage (%1$s) OVERRIDING SYSTEM VALUE SELECT %2$s '
                       '  FROM mediasync.deleted_media_usage c '
                       ' WHERE c.transaction_id = $1 AND c.media_file_id = ANY ($2) ON CONFLICT DO NOTHING',
                       mediasync.journal_columns('mediasync.deleted_media_usage', 'public.media_usage'),
                       mediasync.journal_columns('mediasync.deleted_media_usage', 'public.media_usage', 'c'))
           USING batch.transaction_id, restored;
    END IF;
    PERFORM set_config('mediasync.restoring', '', true);
    RETURN QUERY SELECT unnest(restored);
END $$;

SELECT mediasync.sync_deletion_journals();
