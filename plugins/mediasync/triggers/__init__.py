"""Airflow event triggers (run by the triggerer; importable without a database or network)."""
