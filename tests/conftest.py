import os
import tempfile

# Airflow writes into AIRFLOW_HOME on import; keep tests away from the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="mediasync-test-airflow-"))

pytest_plugins = ["fixtures.database", "fixtures.emulator", "fixtures.services"]
