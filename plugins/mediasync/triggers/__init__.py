"""Airflow triggers (run by the triggerer) that turn outside events into asset events."""
