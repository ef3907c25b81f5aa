-- 030: Cloudinary → database. Every accepted Cloudinary notification, stored once, and the
-- per-asset clocks that keep late (out-of-order) notifications from overwriting newer state.
-- Both live in schema mediasync: never exposed through Supabase's Data API.

-- One row per accepted notification. The identity is the SHA-256 of the exact signed bytes:
-- a webhook retry, a poll redelivery and a replay all carry the same bytes, so they meet the
-- unique index and change nothing. Rejected notifications (bad signature, stale) are not stored.
CREATE TABLE IF NOT EXISTS mediasync.cloudinary_notifications (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body_sha256       text NOT NULL UNIQUE,
    notification_type text NOT NULL,
    request_id        text,
    asset_ids         text[] NOT NULL DEFAULT '{}',
    public_ids        text[] NOT NULL DEFAULT '{}',
    transport         text NOT NULL CHECK (transport IN ('webhook', 'poll')),
    source            text,                   -- notification_context.triggered_by.source: api, ui, ...
    event_at          timestamptz NOT NULL,   -- when Cloudinary says the change happened
    signed_at         timestamptz NOT NULL,   -- X-Cld-Timestamp (or the poll message's timestamp)
    received_at       timestamptz NOT NULL DEFAULT now(),
    outcome           text NOT NULL DEFAULT 'received'
                      CHECK (outcome IN ('received', 'applied', 'no_change', 'stale', 'own_change',
                                         'out_of_scope', 'ignored')),
    changed_rows      integer NOT NULL DEFAULT 0 CHECK (changed_rows >= 0),
    detail            text,
    body              jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS cloudinary_notifications_received_idx
    ON mediasync.cloudinary_notifications (received_at DESC);
CREATE INDEX IF NOT EXISTS cloudinary_notifications_applied_idx
    ON mediasync.cloudinary_notifications (received_at) WHERE outcome = 'applied';

-- Order safety: the newest event time applied per asset and aspect ('existence', 'location',
-- 'display_name', 'content', 'tag:<name>'). A notification older than the clock of what it
-- would change is stored as 'stale' and applied to nothing.
CREATE TABLE IF NOT EXISTS mediasync.cloudinary_asset_clocks (
    asset_key  text NOT NULL,   -- Cloudinary's asset_id, else resource_type/type/public_id
    aspect     text NOT NULL,
    event_at   timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_key, aspect)
);
