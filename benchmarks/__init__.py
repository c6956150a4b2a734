"""Benchmarks: how fast the worker goes, and how far that is from what its parts allow.

Why a package apart from ``tests/``: figures on a shared 2-core machine are noisy, so
nothing here asserts a speed. ``python -m benchmarks.throughput`` (``make bench``) prints
the pipeline's throughput and latency next to the ceilings of the layers below it (raw
Kafka client, a do-nothing Faust agent), so a change is judged by ratios, not by
absolute numbers.
"""
