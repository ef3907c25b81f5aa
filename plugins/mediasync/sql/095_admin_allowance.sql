-- 095: the Admin API allowance Cloudinary last reported, per cloud. A new process (a CLI drain, a
-- DAG task) starts from it instead of sending its first Admin call alone to learn what is left.
-- Within one hour's window only the lowest figure is kept (the allowance only falls until it
-- resets); a later window replaces it. Bookkeeping in schema mediasync (never exposed).
CREATE TABLE IF NOT EXISTS mediasync.admin_allowance (
    cloud_name text PRIMARY KEY,
    remaining  integer NOT NULL CHECK (remaining >= 0),
    allowed    integer,                 -- the hourly limit, when Cloudinary said
    reset_at   timestamptz,             -- when the window resets, when Cloudinary said
    seen_at    timestamptz NOT NULL     -- when an answer reported it
);
