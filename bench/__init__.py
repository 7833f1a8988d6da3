"""Benchmarks: the same workloads against `tracklet server` and `mlflow server`, side by side.

Run ``python bench/run.py --help``; see bench/README.md.
"""
