-- 040: who or what started a reconciliation, and the Airflow DAG run it belongs to, so the page and
-- Airflow can point at each other. A request is recorded the moment a run is asked for (from the page,
-- the Airflow UI, the schedule or the CLI), before the reconciliation itself creates its run row; the
-- task links the two once it knows the run id. Bookkeeping stays in schema mediasync (never exposed).
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS triggered_by text;
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS dag_id text;
ALTER TABLE mediasync.reconciliation_runs ADD COLUMN IF NOT EXISTS dag_run_id text;
CREATE INDEX IF NOT EXISTS reconciliation_runs_dag_run_idx
    ON mediasync.reconciliation_runs (dag_id, dag_run_id) WHERE dag_run_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS mediasync.reconciliation_requests (
    dag_id       text NOT NULL,
    dag_run_id   text NOT NULL,
    requested_by text NOT NULL,
    conf         jsonb NOT NULL DEFAULT '{}'::jsonb,
    requested_at timestamptz NOT NULL DEFAULT now(),
    run_id       bigint REFERENCES mediasync.reconciliation_runs (id) ON DELETE SET NULL,
    PRIMARY KEY (dag_id, dag_run_id)
);
CREATE INDEX IF NOT EXISTS reconciliation_requests_open_idx
    ON mediasync.reconciliation_requests (requested_at DESC) WHERE run_id IS NULL;
