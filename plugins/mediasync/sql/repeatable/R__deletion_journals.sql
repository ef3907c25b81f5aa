-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- The undo journals: every column of each deleted (or soft-deleted) media_files row, and the
-- media_tags / media_usage rows a DELETE cascaded away, written in the removing transaction;
-- append-only and indexed by BRIN only, so a bulk DELETE pays one heap insert per row for them.

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

DROP TRIGGER IF EXISTS media_tags_journal_cascade ON public.media_tags;
CREATE TRIGGER media_tags_journal_cascade AFTER DELETE ON public.media_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.journal_cascaded_children();

DROP TRIGGER IF EXISTS media_usage_journal_cascade ON public.media_usage;
CREATE TRIGGER media_usage_journal_cascade AFTER DELETE ON public.media_usage
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mediasync.journal_cascaded_children();
