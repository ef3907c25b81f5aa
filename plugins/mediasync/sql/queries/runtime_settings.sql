-- Named queries of mediasync.runtime_settings: settings the database itself reads (the enqueue
-- trigger runs for plain SQL too, where no connection option can say anything).

-- name: publish
-- Write a setting; a no-op (no new row version) when it already has this value.
INSERT INTO mediasync.runtime_settings (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
 WHERE mediasync.runtime_settings.value IS DISTINCT FROM EXCLUDED.value;

-- name: all
SELECT name, value FROM mediasync.runtime_settings ORDER BY name;
