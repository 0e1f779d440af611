"""Benchmarks and the deterministic data generator (issue 6). Run with ``python -m bench.run --fans N``."""
