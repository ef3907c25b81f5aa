-- Named queries of mediasync.admin_allowance: the Admin API allowance a process saw, for the next.

-- name: remember
-- Keep the lowest figure of a window; a later window replaces an earlier one, never the reverse.
INSERT INTO mediasync.admin_allowance AS a (cloud_name, remaining, allowed, reset_at, seen_at)
VALUES (%(cloud_name)s, %(remaining)s, %(allowed)s, %(reset_at)s, %(seen_at)s)
ON CONFLICT (cloud_name) DO UPDATE
   SET remaining = CASE WHEN a.reset_at = EXCLUDED.reset_at THEN least(a.remaining, EXCLUDED.remaining)
                        ELSE EXCLUDED.remaining END,
       allowed = coalesce(EXCLUDED.allowed, a.allowed),
       reset_at = EXCLUDED.reset_at,
       seen_at = greatest(a.seen_at, EXCLUDED.seen_at)
 WHERE a.reset_at IS NULL OR EXCLUDED.reset_at IS NULL OR EXCLUDED.reset_at >= a.reset_at;

-- name: recall
-- The figure, when it was seen within %(max_age_seconds)s and its window has not reset since.
SELECT remaining, allowed, reset_at, seen_at
  FROM mediasync.admin_allowance
 WHERE cloud_name = %(cloud_name)s
   AND seen_at > now() - make_interval(secs => %(max_age_seconds)s)
   AND (reset_at IS NULL OR reset_at > now());
