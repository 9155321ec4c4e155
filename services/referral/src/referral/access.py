"""Who may see and change which rows of the referral service: the one visibility policy.

Every use case and query asks here; no router filters rows itself. The rule of the convention's
France Travail side: a counsellor sees the referrals (their timeline, their indicators) of their
own France Travail structure; ops see all. Rows a caller may not see are answered as if they did
not exist (404), so that a counsellor of another structure learns nothing, not even that the row
exists.

Each policy comes in two forms that say the same thing: a predicate on a loaded row (for the use
cases that lock their own row) and a SQL condition (for the queries that list rows).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from referral.models import Consent, JobOffer, JobSeeker, Referral
from shared.auth.tokens import Principal, Role


def _scoped_to_structure(principal: Principal) -> bool:
    """A counsellor is confined to their France Travail structure; ops are not."""
    return principal.role is Role.COUNSELLOR


# -- referrals (and what hangs on them: timeline, scheme events, indicators) ---------------------


def sees_referral(principal: Principal, referral: Referral) -> bool:
    if _scoped_to_structure(principal):
        return referral.structure_code == principal.ft_structure
    return True


def visible_referrals(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Referral`: the referrals ``principal`` may see (and count)."""
    if _scoped_to_structure(principal):
        return Referral.structure_code == principal.ft_structure
    return true()


def may_withdraw_referral(principal: Principal, referral: Referral) -> bool:
    """A counsellor withdraws the referrals they see (the route admits counsellors only)."""
    return sees_referral(principal, referral)


# -- job seekers and their consents ----------------------------------------------------------------


def sees_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """Today any counsellor or ops sees every job seeker record.

    # issue 10 tightens this
    """
    return True


def visible_job_seekers(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`JobSeeker` saying the same as :func:`sees_job_seeker`.

    # issue 10 tightens this
    """
    return true()


def may_change_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """Today any counsellor updates any job seeker record (the route admits counsellors only).

    # issue 10 tightens this
    """
    return True


def sees_consent(principal: Principal, consent: Consent) -> bool:
    """Consents are read through their job seeker: whoever sees the job seeker sees them.

    # issue 10 tightens this
    """
    return True


def may_record_consent(principal: Principal, job_seeker: JobSeeker) -> bool:
    """Today any counsellor records or withdraws a consent of any job seeker.

    # issue 10 tightens this
    """
    return may_change_job_seeker(principal, job_seeker)


# -- offers and the agency directory (no personal data) ---------------------------------------


def sees_offer(principal: Principal, offer: JobOffer) -> bool:
    """Offers are shared by every counsellor and ops (they carry no personal data)."""
    return True


def visible_offers(principal: Principal) -> ColumnElement[bool]:
    return true()


def may_manage_directory(principal: Principal) -> bool:
    """Ops keep the agency directory and onboard the networks; everyone reads it."""
    return principal.role is Role.OPS
