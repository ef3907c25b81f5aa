#!/bin/bash
# Runs once, when the compose PostgreSQL volume is created: separate databases (and owners) for
# Airflow's metadata and for mediasync's media_files. Passwords come from .env.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="${AIRFLOW_DB_PASSWORD:-airflow}" -v mediasync_password="${MEDIASYNC_DB_PASSWORD:-mediasync}" <<'SQL'
CREATE USER airflow WITH PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE USER mediasync WITH PASSWORD :'mediasync_password';
CREATE DATABASE mediasync OWNER mediasync;
SQL
