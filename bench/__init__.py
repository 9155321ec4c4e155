"""Benchmarks of the messaging layer, printing figures (``make bench``)."""
