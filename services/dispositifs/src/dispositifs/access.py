"""Who may read and change which rows of the dispositifs service: its one visibility policy.

Every use case and every query asks here; no router filters rows itself. The rule: a counsellor
sees and changes what belongs to their France Travail structure (``structure_code``), ops see
everything. POEC sessions are a branch's training offer, not personal data: every caller sees them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

from dispositifs.models import KnownReferral
from shared.auth.tokens import Principal, Role

Q = TypeVar("Q", bound=Select[Any])


def sees(principal: Principal, structure_code: str | None) -> bool:
    """A counsellor sees what belongs to their France Travail structure; ops see everything."""
    return principal.role is Role.OPS or structure_code == principal.ft_structure


def visible_rows(query: Q, model: Any, principal: Principal) -> Q:
    """``query`` narrowed to the rows of ``model`` (it has a ``structure_code``) the caller sees."""
    if principal.role is Role.OPS:
        return query
    return query.where(model.structure_code == principal.ft_structure)


def may_link_referral(principal: Principal, known: KnownReferral | None) -> bool:
    """A referral a counsellor may read, and link an immersion or a pathway proposal to."""
    return known is not None and sees(principal, known.structure_code)


def may_register_referral(principal: Principal, known: KnownReferral | None) -> bool:
    """A referral an MRS candidate or a training enrolment may be registered for.

    Any referral this service knows of, whatever its structure."""
    # issue 10 tightens this: today a referral of another structure is accepted here.
    return known is not None


def may_renew(structure_code: str | None, original_structure_code: str | None) -> bool:
    """A convention is renewed by the structure that holds it."""
    return original_structure_code == structure_code


def indicator_structure(principal: Principal, structure_only: bool) -> str | None:
    """Indicators are counts, not rows: everyone sees every région; a counsellor may narrow
    them to their structure."""
    return principal.ft_structure if principal.role is Role.COUNSELLOR and structure_only else None
