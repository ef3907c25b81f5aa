-- Current definitions (re-applied by `mediasync db upgrade` when this file changes).
-- API roles get nothing they don't need, on every object kind. Supabase's bootstrap runs (as
-- postgres, and again FOR ROLE supabase_admin)
--     ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES, FUNCTIONS, SEQUENCES
--         TO postgres, anon, authenticated, service_role;
-- so every table, sequence and function created in public starts out fully granted to anon and
-- authenticated; and PostgreSQL itself grants EXECUTE on every new function and USAGE on every new
-- type to PUBLIC, in any schema. mediasync.harden_api_privileges() runs inside every migration's
-- transaction (numbered and repeatable) and once more at the end of every `db upgrade`:
--   * scope: every object in schema mediasync, and every object in public that mediasync created
--     (mediasync.public_objects, which the upgrader fills) -- never the project's other objects;
--   * anon, authenticated and PUBLIC lose every privilege not listed in
--     mediasync.api_role_privileges (the allow-list: SELECT on the library tables);
--   * service_role gets all privileges on those objects (USAGE on the mediasync schema; only
--     SELECT on the two tables that steer the hardening);
--   * mediasync's tables in public get row-level security.
-- It only issues a GRANT/REVOKE where the catalogs differ from the target, so a second run changes
-- nothing. Statements naming Supabase roles run only where those roles exist.

-- Every privilege-bearing object of the given schemas, one row each, with its effective ACL
-- (the built-in default when the catalog holds NULL). Array, multirange and table row types
-- follow their element/range/table and carry no privileges of their own. Members of extensions
-- are the extension's business, not mediasync's.
CREATE OR REPLACE FUNCTION mediasync.schema_objects(schemas name[])
RETURNS TABLE (classid regclass, objid oid, kind text, identity text, owner oid, acl aclitem[], acl_type "char")
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT 'pg_class'::regclass, c.oid, o.type, o.identity, c.relowner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)),
           (CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char"
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL pg_identify_object('pg_class'::regclass, c.oid, 0) o
     WHERE n.nspname = ANY (schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid, o.type, o.identity, p.proowner,
           coalesce(p.proacl, acldefault('f', p.proowner)), 'f'::"char"
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     CROSS JOIN LATERAL pg_identify_object('pg_proc'::regclass, p.oid, 0) o
     WHERE n.nspname = ANY (schemas)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid, o.type, o.identity, t.typowner,
           coalesce(t.typacl, acldefault('T', t.typowner)), 'T'::"char"
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
     CROSS JOIN LATERAL pg_identify_object('pg_type'::regclass, t.oid, 0) o
     WHERE n.nspname = ANY (schemas)
       AND t.typtype <> 'm'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
       AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
       AND (t.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
    UNION ALL
    SELECT 'pg_namespace'::regclass, n.oid, 'schema', quote_ident(n.nspname), n.nspowner,
           coalesce(n.nspacl, acldefault('n', n.nspowner)), 'n'::"char"
      FROM pg_namespace n
     WHERE n.nspname = ANY (schemas)
$$;

-- Revokes from anon/authenticated/PUBLIC what the allow-list does not give them, grants what it does,
-- gives service_role everything, enables RLS on tables; returns how many statements it issued
-- (0 when the database already is as it should be).
CREATE OR REPLACE FUNCTION mediasync.harden_api_privileges() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    api_roles   name[] := ARRAY(SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated'));
    service     boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role');
    obj         record;
    target      text;
    grantee     text;
    privs       text;
    statements  integer := 0;
BEGIN
    FOR obj IN
        SELECT s.*
          FROM mediasync.schema_objects(ARRAY['mediasync']::name[]) s
        UNION ALL
        SELECT s.*
          FROM mediasync.schema_objects(ARRAY['public']::name[]) s
         WHERE s.kind <> 'schema'
           AND s.identity IN (SELECT identity FROM mediasync.public_objects)
    LOOP
        -- Only the owner (or a member of its role) can change an object's privileges.
        IF NOT pg_has_role(obj.owner, 'USAGE') THEN
            RAISE WARNING 'mediasync: % is owned by %, not by the role running the upgrade: its privileges are not hardened',
                obj.identity, pg_get_userbyid(obj.owner);
            CONTINUE;
        END IF;
        target := CASE obj.acl_type WHEN 'r' THEN 'TABLE ' WHEN 's' THEN 'SEQUENCE ' WHEN 'f' THEN 'ROUTINE '
                                    WHEN 'T' THEN 'TYPE ' ELSE 'SCHEMA ' END || obj.identity;

        -- What PUBLIC and the API roles hold (column grants included) that the allow-list does not give.
        FOR grantee, privs IN
            SELECT CASE WHEN h.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(h.grantee)) END,
                   string_agg(DISTINCT h.privilege_type, ', ')
              FROM (SELECT a.grantee, a.privilege_type FROM aclexplode(obj.acl) a
                    UNION ALL
                    SELECT a.grantee, a.privilege_type
                      FROM pg_attribute att CROSS JOIN LATERAL aclexplode(att.attacl) a
                     WHERE obj.acl_type = 'r' AND att.attrelid = obj.objid AND att.attacl IS NOT NULL) h
             WHERE (h.grantee = 0 OR h.grantee IN (SELECT oid FROM pg_roles WHERE rolname = ANY (api_roles)))
               AND NOT EXISTS (SELECT 1 FROM mediasync.api_role_privileges g
                                WHERE h.grantee <> 0 AND g.role = pg_get_userbyid(h.grantee)
                                  AND g.identity = obj.identity AND g.privilege = h.privilege_type)
             GROUP BY h.grantee
        LOOP
            -- CASCADE: whatever they passed on with a grant option goes too.
            EXECUTE format('REVOKE %s ON %s FROM %s CASCADE', privs, target, grantee);
            statements := statements + 1;
        END LOOP;

        -- What the allow-list gives and they do not hold yet.
        FOR grantee, privs IN
            SELECT quote_ident(g.role), string_agg(g.privilege, ', ')
              FROM mediasync.api_role_privileges g
             WHERE g.identity = obj.identity AND g.role = ANY (api_roles)
               AND NOT EXISTS (SELECT 1 FROM aclexplode(obj.acl) a
                                WHERE a.grantee = (SELECT r.oid FROM pg_roles r WHERE r.rolname = g.role)
                                  AND a.privilege_type = g.privilege)
             GROUP BY g.role
        LOOP
            EXECUTE format('GRANT %s ON %s TO %s', privs, target, grantee);
            statements := statements + 1;
        END LOOP;

        -- service_role (bypasses RLS; server-side only) keeps full access: all privileges of the
        -- object's kind (what its owner holds by default), and USAGE on the mediasync schema. The two
        -- tables that steer this function it may only read: writing them would let it have the next
        -- upgrade grant the API roles whatever it likes.
        IF service THEN
            SELECT string_agg(d.privilege_type, ', ') INTO privs
              FROM aclexplode(acldefault(obj.acl_type, obj.owner)) d
             WHERE d.grantee = obj.owner
               AND (obj.acl_type <> 'n' OR d.privilege_type = 'USAGE')
               AND (obj.identity NOT IN ('mediasync.api_role_privileges', 'mediasync.public_objects')
                    OR d.privilege_type = 'SELECT')
               AND NOT EXISTS (SELECT 1 FROM aclexplode(obj.acl) a
                                WHERE a.grantee = (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'service_role')
                                  AND a.privilege_type = d.privilege_type);
            IF privs IS NOT NULL THEN
                EXECUTE format('GRANT %s ON %s TO service_role', privs, target);
                statements := statements + 1;
            END IF;
            IF obj.identity IN ('mediasync.api_role_privileges', 'mediasync.public_objects') THEN
                SELECT string_agg(a.privilege_type, ', ') INTO privs
                  FROM aclexplode(obj.acl) a
                 WHERE a.grantee = (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'service_role')
                   AND a.privilege_type <> 'SELECT';
                IF privs IS NOT NULL THEN
                    EXECUTE format('REVOKE %s ON %s FROM service_role CASCADE', privs, target);
                    statements := statements + 1;
                END IF;
            END IF;
        END IF;

        -- Row-level security on every table (005 did it for the tables that existed then).
        IF obj.kind = 'table' AND EXISTS (SELECT 1 FROM pg_class c
                                           WHERE c.oid = obj.objid AND c.relkind IN ('r', 'p')
                                             AND c.relnamespace = 'public'::regnamespace AND NOT c.relrowsecurity) THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', obj.identity);
            statements := statements + 1;
        END IF;
    END LOOP;
    RETURN statements;
END $$;
