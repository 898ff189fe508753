"""Benchmarks: each prints its speed as a ratio against a peer measured in the same run."""
