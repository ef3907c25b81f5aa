-- Named queries of the migration runner (schema mediasync).

-- name: lock
-- Serialises concurrent upgraders: the second waits, then finds nothing pending. Taken in a lock
-- transaction (db/locks.py), so it holds through a transaction pooler; it conflicts with the
-- session lock on the same key that earlier releases took.
SELECT pg_advisory_xact_lock(7261520001);

-- name: bookkeeping_exists
SELECT to_regclass('mediasync.schema_migrations') IS NOT NULL AS present;

-- name: applied
SELECT version, checksum FROM mediasync.schema_migrations;

-- name: record
INSERT INTO mediasync.schema_migrations (version, name, checksum) VALUES (%(version)s, %(name)s, %(checksum)s);

-- name: repeatables_applied
SELECT name, checksum FROM mediasync.schema_repeatables;

-- name: record_repeatable
-- A repeatable definition was (re-)applied: remember the checksum it was applied with.
INSERT INTO mediasync.schema_repeatables (name, checksum) VALUES (%(name)s, %(checksum)s)
ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();

-- name: function_exists
SELECT to_regprocedure(%(signature)s) IS NOT NULL AS present;

-- name: harden
-- Revoke from the API roles whatever the allow-list does not give them (008); returns the
-- number of GRANT/REVOKE statements issued (0 on an already hardened database).
SELECT mediasync.harden_api_privileges() AS statements;

-- name: public_objects
-- Every privilege-bearing object in schema public, by identity.
SELECT identity, kind FROM mediasync.schema_objects(ARRAY['public']::name[]) WHERE kind <> 'schema';

-- name: register_public_object
-- A migration created this object in public: it is mediasync's, so the hardening covers it.
INSERT INTO mediasync.public_objects (identity, kind, migration) VALUES (%(identity)s, %(kind)s, %(migration)s)
ON CONFLICT (identity) DO NOTHING;

-- name: sync_deletion_journals
-- The undo journals follow media_files, media_tags and media_usage: missing columns are added.
SELECT mediasync.sync_deletion_journals();
