"""A broken rule, with the article (Code du travail, or the national tool's rule) it breaks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    #: Stable code of the rule (``pmsmp.duration``), for clients and tests.
    rule: str
    #: The input field at fault (dotted path), as the HTTP API names it.
    field: str
    #: What is wrong, in French, for the people who read it.
    message: str
    #: Legal reference ("Code du travail, art. D5135-3"); None for a plain consistency check.
    article: str | None = None

    def describe(self) -> str:
        return f"{self.message} ({self.article})" if self.article else self.message


class RulesBroken(Exception):
    """One or more rules refuse the change; nothing of it may be kept."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = list(violations)
        if not self.violations:
            raise ValueError("RulesBroken needs at least one violation")
        super().__init__("; ".join(v.describe() for v in self.violations))

    @property
    def articles(self) -> list[str]:
        """The articles cited, in order, without repetition."""
        return list(dict.fromkeys(v.article for v in self.violations if v.article))


def raise_if_any(violations: Iterable[Violation]) -> None:
    found = list(violations)
    if found:
        raise RulesBroken(found)


def code_du_travail(article: str) -> str:
    return f"Code du travail, art. {article}"


class NotFound(Exception):
    """The row does not exist, or the caller may not see it (HTTP 404)."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} introuvable.")


class NotAllowed(Exception):
    """The lifecycle refuses this change (HTTP 409)."""
