"""Who may read and change which rows of the dispositifs service: its one visibility policy.

Every use case and every query asks here; no router filters rows itself. The rule: a counsellor
sees and changes what belongs to their prescribing organisation (``structure_code``: a France
Travail structure, a Cap emploi, a mission locale — ``Principal.organisation``), ops see
everything, any other caller nothing. A candidate or an enrolment names only a referral of the
caller's own organisation. POEC sessions are a branch's training offer, not personal data: every
caller sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, false

from dispositifs.models import KnownReferral
from shared.auth.tokens import Principal, Role

Q = TypeVar("Q", bound=Select[Any])


def _organisation(principal: Principal) -> str | None:
    """The counsellor's organisation; None for every other role (and then nothing matches)."""
    return principal.organisation if principal.role is Role.COUNSELLOR else None


def sees(principal: Principal, structure_code: str | None) -> bool:
    """A counsellor sees what belongs to their organisation; ops see everything."""
    if principal.role is Role.OPS:
        return True
    organisation = _organisation(principal)
    return organisation is not None and structure_code == organisation


def visible_rows(query: Q, model: Any, principal: Principal) -> Q:
    """``query`` narrowed to the rows of ``model`` (it has a ``structure_code``) the caller sees."""
    if principal.role is Role.OPS:
        return query
    organisation = _organisation(principal)
    if organisation is None:
        return query.where(false())
    return query.where(model.structure_code == organisation)


def may_link_referral(principal: Principal, known: KnownReferral | None) -> bool:
    """A referral a counsellor may read, and link an immersion or a pathway proposal to."""
    return known is not None and sees(principal, known.structure_code)


def may_register_referral(principal: Principal, known: KnownReferral | None) -> bool:
    """A referral an MRS candidate or a training enrolment may be registered for: one of the
    caller's organisation (another structure's referral is answered as unknown here)."""
    return known is not None and sees(principal, known.structure_code)


def may_renew(structure_code: str | None, original_structure_code: str | None) -> bool:
    """A convention is renewed by the structure that holds it."""
    return original_structure_code == structure_code


def indicator_scope(principal: Principal) -> Callable[[Q, Any], Q]:
    """The rows indicators count for the caller (issue 10 item 2): a counsellor their own
    organisation's only, ops every organisation's (steering), any other caller none. Small
    counts are then hidden (statistical secrecy, :mod:`dispositifs.domain.secrecy`)."""

    def scope(query: Q, model: Any) -> Q:
        return visible_rows(query, model, principal)

    return scope


def may_replay(principal: Principal, structure_code: str | None, *, row_exists: bool) -> bool:
    """An Idempotency-Key replay re-checks the row as it is now (not the stored answer): it is
    replayed only if the row still exists and the caller still sees it."""
    return row_exists and sees(principal, structure_code)
