-- Named queries of the migration runner (schema mediasync).

-- name: lock
-- Serialises concurrent upgraders: the second waits, then finds nothing pending.
SELECT pg_advisory_lock(7261520001);

-- name: unlock
SELECT pg_advisory_unlock(7261520001);

-- name: bookkeeping_exists
SELECT to_regclass('mediasync.schema_migrations') IS NOT NULL AS present;

-- name: applied
SELECT version, checksum FROM mediasync.schema_migrations;

-- name: record
INSERT INTO mediasync.schema_migrations (version, name, checksum) VALUES (%(version)s, %(name)s, %(checksum)s);
