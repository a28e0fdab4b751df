"""Benchmark scripts of sslts; ``python -m benchmarks.run`` is the reproducible suite."""
