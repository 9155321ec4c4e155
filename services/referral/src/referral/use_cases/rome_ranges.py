"""A ROME trade's domain as a condition an index can answer (issue 14's lookups).

A ROME code is a capital letter and four digits, so the domain of H2913 (its first three
characters, :func:`referral.domain.suggestion.rome_domain`) is the range H2900–H2999 — the same
order in every collation. ``startswith`` alone is a ``LIKE`` that neither SQLite (case-insensitive
by default) nor PostgreSQL (outside the C collation) looks up in an index: the range goes first,
so an index on the code serves it, and the ``LIKE`` only checks the few rows the range found."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

from referral.domain.suggestion import rome_domain


def in_rome_domain(code: Any, rome_code: str) -> Any:
    """``code`` (a ROME code column) is in the domain of ``rome_code``."""
    domain = rome_domain(rome_code)
    return and_(code.between(f"{domain}00", f"{domain}99"), code.startswith(domain))
