"""Airflow event triggers (run by the triggerer; importable without a database or network) that turn
outside events — the queue's notification, Cloudinary's poll channel — into asset events."""
