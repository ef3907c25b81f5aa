-- 005: Supabase security. RLS on every table in public; the queue is reachable only by service_role
-- (which bypasses RLS) and direct connections. Statements naming Supabase roles or the
-- supabase_realtime publication run only where those exist, so plain PostgreSQL applies this too.

ALTER TABLE public.media_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.media_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.media_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.cloudinary_cleanup_queue ENABLE ROW LEVEL SECURITY;

-- Realtime needs old rows on UPDATE/DELETE to tell clients what vanished.
ALTER TABLE public.media_files REPLICA IDENTITY FULL;

DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role);
        -- Reads of the library only; writes go through the mediasync API (service role / direct).
        EXECUTE format('REVOKE ALL ON public.media_files, public.media_tags, public.media_usage FROM %I', api_role);
        EXECUTE format('GRANT SELECT ON public.media_files, public.media_tags, public.media_usage TO %I', api_role);
        EXECUTE format('REVOKE ALL ON public.cloudinary_cleanup_queue FROM %I', api_role);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA mediasync FROM %I', api_role);
        EXECUTE format('REVOKE ALL ON SCHEMA mediasync FROM %I', api_role);
    END LOOP;

    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        DROP POLICY IF EXISTS media_files_read_active ON public.media_files;
        CREATE POLICY media_files_read_active ON public.media_files FOR SELECT TO anon USING (status = 'active');
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        DROP POLICY IF EXISTS media_files_read_all ON public.media_files;
        CREATE POLICY media_files_read_all ON public.media_files FOR SELECT TO authenticated USING (true);
        DROP POLICY IF EXISTS media_tags_read ON public.media_tags;
        CREATE POLICY media_tags_read ON public.media_tags FOR SELECT TO authenticated USING (true);
        DROP POLICY IF EXISTS media_usage_read ON public.media_usage;
        CREATE POLICY media_usage_read ON public.media_usage FOR SELECT TO authenticated USING (true);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT ALL ON public.media_files, public.media_tags, public.media_usage,
                     public.cloudinary_cleanup_queue TO service_role;
        GRANT USAGE ON SCHEMA mediasync TO service_role;
        GRANT ALL ON ALL TABLES IN SCHEMA mediasync TO service_role;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO service_role;
    END IF;

    IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime' AND NOT puballtables)
       AND NOT EXISTS (SELECT 1 FROM pg_publication_tables
                       WHERE pubname = 'supabase_realtime' AND schemaname = 'public' AND tablename = 'media_files') THEN
        ALTER PUBLICATION supabase_realtime ADD TABLE public.media_files;
    END IF;
END $$;
