-- Named queries of the database edge itself (mediasync.db): what it asks about the connection
-- it is on, and the statements of a lock transaction (db/locks.py).

-- name: backend_pid
-- The server process that ran this statement: constant for a session, whoever is in between,
-- but not through a transaction pooler, which may run each transaction on another server.
SELECT pg_backend_pid() AS pid;

-- name: keep_transaction_open
-- A lock transaction may stay open for hours (a long listing): the server's idle-in-transaction
-- timeout must not end it, for this transaction only.
SET LOCAL idle_in_transaction_session_timeout = 0;

-- name: keepalive
-- Proves the lock transaction's connection is still there, and resets poolers' idle timers.
SELECT 1 AS alive;
