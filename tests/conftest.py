import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Airflow reads its configuration on first import: give the test session its own AIRFLOW_HOME
# (never the user's ~/airflow) and this repo's DAGs before anything imports it.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="mediasync-test-airflow-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parents[1] / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

pytest_plugins = ["fixtures.database", "fixtures.emulator", "fixtures.services", "fixtures.airflow", "fixtures.browser",
                  "fixtures.pgbouncer", "fixtures.layers", "fixtures.dirs"]
