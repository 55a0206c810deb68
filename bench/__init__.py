"""Benchmarks and the capacity model; run as scripts (`python bench/run.py`, `python bench/capacity.py`)."""
