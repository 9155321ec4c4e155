"""Structured logs, Prometheus metrics and the request/event context they carry."""
