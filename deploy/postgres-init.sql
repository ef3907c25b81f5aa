-- Runs once when the compose PostgreSQL volume is created: Airflow's metadata DB and mediasync's.
CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;
CREATE USER mediasync WITH PASSWORD 'mediasync';
CREATE DATABASE mediasync OWNER mediasync;
