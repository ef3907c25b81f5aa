-- 055: poll-channel messages that will never apply — refused (bad signature, malformed, over a
-- limit) or failing on every receipt up to the receive limit — are dead-lettered: recorded here
-- and acknowledged, so they stop coming back and the messages queued behind them keep flowing.
-- An operator sees them in `mediasync notifications status`; the payload is kept (bounded by the
-- notification body limit) to look at or replay by hand. Webhook bodies are never stored here:
-- a refused webhook is answered 4xx and Cloudinary (or whoever sent it) keeps it.
CREATE TABLE IF NOT EXISTS mediasync.notification_dead_letters (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel        text NOT NULL,
    message_id     text,
    receive_count  integer NOT NULL DEFAULT 1 CHECK (receive_count >= 0),
    reason         text NOT NULL,
    signed_at      text,            -- the message's timestamp, as sent
    signature      text,
    body_sha256    text,
    payload        bytea,           -- the exact signed bytes (NULL when they could not be decoded)
    dead_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notification_dead_letters_dead_at_idx
    ON mediasync.notification_dead_letters (dead_at DESC);
