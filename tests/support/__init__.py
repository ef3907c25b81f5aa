"""Test tooling that is not a pytest fixture: the in-process emulator, waiting for a condition.
Benchmarks use it too (bench/_harness.py puts tests/ on the path)."""
