-- 075: in an account that keeps backups, Cloudinary still lists a deleted asset as a placeholder
-- (bytes 0, placeholder true) until it is restored. The listing snapshot records which listed
-- assets are placeholders, so the diff never takes one for a live asset: it is never an orphan,
-- a soft-deleted row whose asset is a placeholder is not undeleted, and an active row whose asset
-- is a placeholder is missing (reported as restorable from backup).
-- A listing stored before this upgrade did not tell placeholders apart: forget it with its
-- checkpoints (both are scratch, UNLOGGED), so the next run lists afresh.
DELETE FROM mediasync.listing_snapshot;
DELETE FROM mediasync.listing_checkpoints;
ALTER TABLE mediasync.listing_snapshot ADD COLUMN IF NOT EXISTS placeholder boolean NOT NULL DEFAULT false;
