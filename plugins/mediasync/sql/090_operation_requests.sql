-- 090: who asked for each queue drain and retention purge, as 040 records it for reconciliations.
-- One row per request (from a DAG run, the CLI or the API): the operation, its request model's
-- values (mediasync.operation_requests), who asked, and what it did. A reconciliation keeps its
-- own provenance on its run row (040: triggered_by, dag_run_id). Bookkeeping stays in schema
-- mediasync (never exposed); retention purges rows older than its horizon with the queue's.
CREATE TABLE IF NOT EXISTS mediasync.operation_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation    text NOT NULL CHECK (operation IN ('queue_process', 'retention')),
    requested_by text,                       -- a user and where (Airflow, CLI, the page), or the DAG run
    dag_run_id   text,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    result       jsonb                       -- the operation's counts, once it finished
);
CREATE INDEX IF NOT EXISTS operation_requests_recent_idx
    ON mediasync.operation_requests (operation, requested_at DESC);
