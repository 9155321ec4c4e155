"""The refusals a use case raises, in the business's words (French), whatever called it.

A route answers them as problem+json (404, 403, 409, 422: ``shared.http.domain_problems``); a
consumer dead-letters them as ``rejected`` with the code and message. Use cases never raise HTTP
or Kafka exceptions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One input field at fault, named as the client sent it."""

    field: str
    message: str
    location: str = "body"


class DomainError(Exception):
    """A refusal the business explains. ``message`` is read by people: French."""

    title: ClassVar[str] = "Requête refusée"
    default_code: ClassVar[str] = "domain-error"

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[FieldIssue] = (),
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = tuple(errors)
        self.code = code or self.default_code
        self.extra = dict(extra or {})


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""

    title = "Ressource introuvable"
    default_code = "not-found"


class Forbidden(DomainError):
    title = "Accès refusé"
    default_code = "forbidden"


class Conflict(DomainError):
    """The request is valid but clashes with the current state."""

    title = "Conflit"
    default_code = "conflict"


class InvalidInput(DomainError):
    title = "Requête invalide"
    default_code = "validation-error"


def invalid(
    field: str, message: str, *, location: str = "body", code: str | None = None
) -> InvalidInput:
    """A 422 on one field: the field at fault and what is wrong with it."""
    return InvalidInput(message, errors=[FieldIssue(field, message, location)], code=code)


class TransitionRefused(Conflict):
    """A lifecycle step not allowed from the current status or for this actor."""

    title = "Transition refusée"
    default_code = "transition-not-allowed"


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule, with the source (article of the Code du travail, décret, or the operator's
    rule) it breaks."""

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


class RulesBroken(InvalidInput):
    """One or more rules refuse the change; nothing of it may be kept."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = list(violations)
        if not self.violations:
            raise ValueError("RulesBroken needs at least one violation")
        articles = list(dict.fromkeys(v.article for v in self.violations if v.article))
        super().__init__(
            "; ".join(v.describe() for v in self.violations),
            errors=[FieldIssue(v.field, v.describe()) for v in self.violations],
            code="rule-violation" if articles else "validation-error",
            extra={
                "article": articles[0] if articles else None,
                "articles": articles,
                "violations": [
                    {"rule": v.rule, "field": v.field, "message": v.message, "article": v.article}
                    for v in self.violations
                ],
            },
        )

    @property
    def articles(self) -> list[str]:
        """The articles cited, in order, without repetition."""
        return list(self.extra["articles"])

    @property
    def title_for_people(self) -> str:
        return "Règle non respectée" if self.articles else "Requête invalide"


def raise_if_any(violations: Iterable[Violation]) -> None:
    found = list(violations)
    if found:
        raise RulesBroken(found)
