"""Notifications service: every business event reaches the right people, once."""
