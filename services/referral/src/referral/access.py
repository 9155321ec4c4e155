"""Who may see and change which rows of the referral service: the one visibility policy.

Every use case and query asks here; no router filters rows itself. The rules (docs/security.md,
"Politique d'accès"):

- A counsellor belongs to a prescribing organisation (France Travail structure, Cap emploi,
  mission locale: ``Principal.organisation``). They see the referrals (their timeline, their
  indicators) their organisation sent; ops see all; an agency token sees nothing here (agencies act
  through their network's topics).
- A job seeker's record belongs to the organisation that created it (les emplois de l'inclusion's
  rule). Its counsellors see it in full and are the only ones who change it; another organisation
  sees it **masked** (initials and département: no identifier, contact, birth date, RQTH, BRSA or
  other public) until the owner shares it with them ("prise en charge", logged with a reason):
  then they see it in full, record consents for it and refer it, but still do not change it. The
  owner revokes a share it granted (logged): that organisation sees the record masked again. Ops
  see everything and change a record, or share or revoke, only with a reason, which is logged.
- Lists and searches return the rows the caller sees in full: their organisation's job seekers and
  those shared with it. A record of another organisation is reached only by its id, masked.
- Rows a caller may not see at all are answered as if they did not exist (404).
- Steering (comité de pilotage) reads figures only: the indicators of every referral (secrecy
  applied), the regional conventions and their progress, the dashboard; ops and steering manage
  the conventions. No referral, job seeker or timeline.

Each policy comes in two forms that say the same thing: a predicate on a loaded row (for the use
cases that lock their own row) and a SQL condition (for the queries that list rows).
"""

from __future__ import annotations

import enum

from sqlalchemy import ColumnElement, false, or_, select, true

from referral.models import Consent, JobDating, JobOffer, JobSeeker, JobSeekerShare, Referral
from shared.auth.tokens import Principal, Role


class JobSeekerView(enum.StrEnum):
    """How much of a job seeker's record a caller sees."""

    FULL = "full"
    MASKED = "masked"


def _organisation(principal: Principal) -> str | None:
    """The counsellor's organisation; None for every other role (and never equal to a row's)."""
    return principal.organisation if principal.role is Role.COUNSELLOR else None


# -- referrals (and what hangs on them: timeline, scheme events, indicators) ---------------------


def sees_referral(principal: Principal, referral: Referral) -> bool:
    if principal.role is Role.OPS:
        return True
    organisation = _organisation(principal)
    return organisation is not None and referral.structure_code == organisation


def visible_referrals(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Referral`: the referrals ``principal`` may see (and count)."""
    if principal.role is Role.OPS:
        return true()
    organisation = _organisation(principal)
    if organisation is None:
        return false()
    return Referral.structure_code == organisation


def may_withdraw_referral(principal: Principal, referral: Referral) -> bool:
    """A counsellor withdraws the referrals their organisation sent."""
    return principal.role is Role.COUNSELLOR and sees_referral(principal, referral)


# -- job seekers and their consents ----------------------------------------------------------------


def owns_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """The caller is a counsellor of the organisation that created the record."""
    organisation = _organisation(principal)
    return organisation is not None and job_seeker.structure_code == organisation


def _shared_with_caller(principal: Principal, job_seeker: JobSeeker) -> bool:
    organisation = _organisation(principal)
    return organisation is not None and any(
        share.organisation == organisation for share in job_seeker.shares
    )


def job_seeker_view(principal: Principal, job_seeker: JobSeeker) -> JobSeekerView | None:
    """Full for ops, the owner and the organisations it was shared with; masked for the other
    counsellors; nothing for anyone else."""
    if principal.role is Role.OPS:
        return JobSeekerView.FULL
    if _organisation(principal) is None:
        return None
    if owns_job_seeker(principal, job_seeker) or _shared_with_caller(principal, job_seeker):
        return JobSeekerView.FULL
    return JobSeekerView.MASKED


def sees_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """The record exists for the caller (possibly masked): its département, for a suggestion."""
    return job_seeker_view(principal, job_seeker) is not None


def visible_job_seekers(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`JobSeeker`: the records the caller sees in full (lists and
    searches never return a masked record)."""
    if principal.role is Role.OPS:
        return true()
    organisation = _organisation(principal)
    if organisation is None:
        return false()
    shared = select(JobSeekerShare.job_seeker_id).where(JobSeekerShare.organisation == organisation)
    return or_(JobSeeker.structure_code == organisation, JobSeeker.id.in_(shared))


def may_change_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """Only the owning organisation's counsellors change a record (ops: :func:`may_correct`)."""
    return owns_job_seeker(principal, job_seeker)


def may_correct_job_seeker(principal: Principal, reason: str | None) -> bool:
    """Ops change any record, with a reason (logged in the personal-data access audit)."""
    return principal.role is Role.OPS and bool(reason and reason.strip())


def may_refer_job_seeker(principal: Principal, job_seeker: JobSeeker) -> bool:
    """A counsellor refers the job seekers of their organisation and those shared with it."""
    return job_seeker_view(principal, job_seeker) is JobSeekerView.FULL and (
        principal.role is Role.COUNSELLOR
    )


def may_share_job_seeker(principal: Principal, job_seeker: JobSeeker, reason: str | None) -> bool:
    """The owner shares its record ("prise en charge" by another organisation); ops too, with a
    reason."""
    return owns_job_seeker(principal, job_seeker) or may_correct_job_seeker(principal, reason)


def may_revoke_share(principal: Principal, job_seeker: JobSeeker, reason: str | None) -> bool:
    """The owner takes back a share it granted; ops too, with a reason. Never the organisation
    it was shared with (it cannot keep, or drop, what is not its own)."""
    return owns_job_seeker(principal, job_seeker) or may_correct_job_seeker(principal, reason)


def sees_shares_of(principal: Principal, job_seeker: JobSeeker) -> bool:
    """Who the record was shared with: its owner and ops."""
    return principal.role is Role.OPS or owns_job_seeker(principal, job_seeker)


def sees_consents_of(principal: Principal, job_seeker: JobSeeker) -> bool:
    """A job seeker's consents are seen by those who see the record in full."""
    return job_seeker_view(principal, job_seeker) is JobSeekerView.FULL


def sees_consent(principal: Principal, consent: Consent) -> bool:
    """Consents are read through their job seeker (:func:`sees_consents_of` decides)."""
    return principal.role in (Role.COUNSELLOR, Role.OPS)


def may_record_consent(principal: Principal, job_seeker: JobSeeker) -> bool:
    """The counsellors who may refer the job seeker record and withdraw their consents."""
    return may_refer_job_seeker(principal, job_seeker)


# -- offers and the agency directory (no personal data) ---------------------------------------


def sees_offer(principal: Principal, offer: JobOffer) -> bool:
    """Offers are shared by every counsellor and ops (they carry no personal data)."""
    return principal.role in (Role.COUNSELLOR, Role.OPS)


def visible_offers(principal: Principal) -> ColumnElement[bool]:
    return true() if principal.role in (Role.COUNSELLOR, Role.OPS) else false()


def may_manage_directory(principal: Principal) -> bool:
    """Ops keep the agency directory and onboard the networks; everyone reads it."""
    return principal.role is Role.OPS


def may_manage_network_directory(principal: Principal, network_id: str) -> bool:
    """A network keeps its own agencies (bulk import, re-sync, contacts) with its integration
    token (an agency token carrying that ``network_id``); ops keep every network's. A network
    never changes another network's agencies."""
    if principal.role is Role.OPS:
        return True
    return principal.role is Role.AGENCY and principal.network_id == network_id


# -- job datings and open days (issue 16, item 4) ------------------------------------------------


def sees_job_dating(principal: Principal, job_dating: JobDating) -> bool:
    """An event is its organiser's: the counsellors of the organisation that created it (who
    invite, record attendance and see its figures) and ops."""
    if principal.role is Role.OPS:
        return True
    organisation = _organisation(principal)
    return organisation is not None and job_dating.structure_code == organisation


def visible_job_datings(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.OPS:
        return true()
    organisation = _organisation(principal)
    if organisation is None:
        return false()
    return JobDating.structure_code == organisation


def may_organise_job_dating(principal: Principal) -> bool:
    return principal.role is Role.COUNSELLOR


# -- the personal-data access audit -------------------------------------------------------------


def may_read_audit(principal: Principal) -> bool:
    """Ops read the personal-data access audit (the data protection officer's tool)."""
    return principal.role is Role.OPS


# -- steering: the indicators, the regional conventions, the dashboard (issue 16) ----------------


def counted_referrals(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Referral`: the referrals whose facts ``principal``'s indicators
    count. A counsellor counts their organisation's, ops all; steering all too — it reads
    figures only (statistical secrecy applied), never a referral, a job seeker or a timeline."""
    if principal.role is Role.STEERING:
        return true()
    return visible_referrals(principal)


def counted_structures(principal: Principal) -> tuple[str, ...] | None:
    """:func:`counted_referrals` for the indicators' maintained aggregates, which are kept by
    sending structure: ``None`` for every structure (ops, steering), else the structures counted
    (none for a counsellor without an organisation)."""
    if principal.role in (Role.STEERING, Role.OPS):
        return None
    organisation = _organisation(principal)
    return () if organisation is None else (organisation,)


def may_read_steering(principal: Principal) -> bool:
    """The conventions, their progress and the dashboard: ops and steering."""
    return principal.role in (Role.OPS, Role.STEERING)


def may_manage_conventions(principal: Principal) -> bool:
    """Ops and steering create and amend the conventions and their targets."""
    return principal.role in (Role.OPS, Role.STEERING)


def may_read_indicators(principal: Principal) -> bool:
    """The convention's figures: counsellors (their organisation's), ops and steering (all)."""
    return principal.role in (Role.COUNSELLOR, Role.OPS, Role.STEERING)


def counted_job_datings(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`JobDating`: the events whose figures ``principal``'s indicators
    count — their organisation's for a counsellor, all for ops and steering (figures only)."""
    if principal.role is Role.STEERING:
        return true()
    return visible_job_datings(principal)
