"""Each party signs the convention through its own signed link, and the tutor assesses it through
theirs (issue 13). No account: the caller of these use cases is the link itself
(:class:`~dispositifs.domain.signing.LinkClaims`, read and verified by :func:`read_caller`), and
a link opens only its party's part of its convention, while it is that party's current link.

- :func:`issue_signature_links` (from ``mark_ready`` and from an edit after it): one row per
  party with a fresh nonce and expiry, and ``coop.immersion.signature_requested.v1`` carrying each
  party's link for the mail.
- :func:`open_link`, :func:`sign`, :func:`report_error`: the party's page.
- :func:`resend_link` (counsellor): a new link for one party; its older link stops working.

The tutor's assessment and incident reports go through the same links: ``assessments.py``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import sees
from dispositifs.domain.immersion import (
    Actor,
    ImmersionStatus,
)
from dispositifs.domain.signing import (
    INVALID_LINK,
    LinkClaims,
    LinkPurpose,
    SignatoryRole,
    make_link_token,
    new_nonce,
    read_link_token,
    signatories,
)
from dispositifs.models import ImmersionConvention, ImmersionIncident, ImmersionSignatory
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersion_common import (
    Who,
    event_fields,
    move,
    now,
    parties_of,
    publish,
)
from shared.auth.tokens import Principal
from shared.contracts.dispositifs import (
    ImmersionErrorReported,
    ImmersionSignatureRequested,
    ImmersionSigned,
    SigningLink,
)
from shared.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
    raise_if_any,
)
from shared.privacy import raise_if_sensitive

SIGNABLE = frozenset({ImmersionStatus.READY_TO_SIGN, ImmersionStatus.PARTIALLY_SIGNED})
ASSESSABLE = frozenset({ImmersionStatus.VALIDATED, ImmersionStatus.IN_PROGRESS})


# -- commands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignByLink:
    #: The party ticked "I have read the convention and I agree to it".
    consent: bool


@dataclass(frozen=True)
class ReportError:
    message: str


@dataclass(frozen=True)
class ResendLink:
    convention_id: uuid.UUID
    role: SignatoryRole


@dataclass
class LinkView:
    """What a party's page shows."""

    claims: LinkClaims
    convention: ImmersionConvention
    signatory: ImmersionSignatory | None
    signatories: list[ImmersionSignatory]
    incidents: list[ImmersionIncident] = field(default_factory=list)

    @property
    def may_sign(self) -> bool:
        return (
            self.claims.purpose is LinkPurpose.SIGN
            and self.signatory is not None
            and self.signatory.signed_at is None
            and ImmersionStatus(self.convention.status) in SIGNABLE
        )

    @property
    def may_acknowledge(self) -> bool:
        return (
            self.claims.purpose is LinkPurpose.ACKNOWLEDGE
            and self.convention.assessment_outcome is not None
            and self.convention.assessment_acknowledged_at is None
        )

    @property
    def may_assess(self) -> bool:
        return (
            self.claims.purpose is LinkPurpose.ASSESS
            and self.convention.assessment_outcome is None
            and ImmersionStatus(self.convention.status) in ASSESSABLE
        )


# -- links -----------------------------------------------------------------------------------------


def read_caller(token: str, settings: DispositifsSettings) -> LinkClaims:
    """The link as the caller of the use cases below: :class:`Forbidden` if forged or expired."""
    return read_link_token(settings.signing_link_key.get_secret_value(), token, now=now())


def link_url(settings: DispositifsSettings, claims: LinkClaims) -> str:
    token = make_link_token(settings.signing_link_key.get_secret_value(), claims)
    return f"{settings.public_base_url.rstrip('/')}/conventions/lien/{token}"


def _link(
    settings: DispositifsSettings, convention: ImmersionConvention, row: ImmersionSignatory
) -> SigningLink:
    role = SignatoryRole(row.role)
    claims = LinkClaims(convention.id, role, LinkPurpose.SIGN, row.link_nonce, row.link_expires_at)
    return SigningLink(
        role=role.value,
        role_label=role.label,
        name=row.name,
        email=row.email,
        url=link_url(settings, claims),
        expires_at=row.link_expires_at,
    )


async def _rows(session: AsyncSession, convention_id: uuid.UUID) -> list[ImmersionSignatory]:
    found = await session.scalars(
        select(ImmersionSignatory)
        .where(ImmersionSignatory.convention_id == convention_id)
        .order_by(ImmersionSignatory.position)
    )
    return list(found)


async def issue_signature_links(
    session: AsyncSession,
    convention: ImmersionConvention,
    settings: DispositifsSettings,
    *,
    reason: str,
    at: datetime,
) -> list[ImmersionSignatory]:
    """Every party gets a new link (any earlier signature and link are void)."""
    await session.execute(
        delete(ImmersionSignatory).where(ImmersionSignatory.convention_id == convention.id)
    )
    needed, missing = signatories(parties_of(convention, settings))
    raise_if_any(missing)
    expires = at + timedelta(days=settings.signing_link_days)
    rows = [
        ImmersionSignatory(
            convention_id=convention.id,
            position=position,
            role=party.role.value,
            name=party.name,
            email=party.email or "",
            link_nonce=new_nonce(),
            link_expires_at=expires,
            links_sent=1,
        )
        for position, party in enumerate(needed)
    ]
    session.add_all(rows)
    convention.beneficiary_signed_at = None
    convention.host_signed_at = None
    await session.flush()
    await publish(
        session,
        convention,
        ImmersionSignatureRequested(
            **event_fields(convention, at),
            reason=reason,
            host_name=convention.host_name,
            start_date=convention.start_date,
            end_date=convention.end_date,
            links=[_link(settings, convention, row) for row in rows],
        ),
    )
    return rows


async def _convention(
    session: AsyncSession, convention_id: uuid.UUID, *, lock: bool = False
) -> ImmersionConvention:
    query = select(ImmersionConvention).where(ImmersionConvention.id == convention_id)
    convention = await session.scalar(query.with_for_update() if lock else query)
    if convention is None:
        raise Forbidden(INVALID_LINK, code="invalid-link")
    return convention


async def view_of(session: AsyncSession, claims: LinkClaims, *, lock: bool = False) -> LinkView:
    """The link's convention and party, if the link is that party's current one."""
    convention = await _convention(session, claims.convention_id, lock=lock)
    rows = await _rows(session, convention.id)
    incidents = list(
        await session.scalars(
            select(ImmersionIncident).where(ImmersionIncident.convention_id == convention.id)
        )
    )
    if claims.purpose is LinkPurpose.ASSESS:
        if claims.role is not SignatoryRole.TUTOR or (
            claims.nonce != convention.assessment_link_nonce
        ):
            raise Forbidden(_REPLACED, code="link-replaced")
        return LinkView(claims, convention, None, rows, incidents)
    mine = next((r for r in rows if r.role == claims.role.value), None)
    if mine is None or mine.link_nonce != claims.nonce:
        raise Forbidden(_REPLACED, code="link-replaced")
    return LinkView(claims, convention, mine, rows, incidents)


_REPLACED = (
    "Ce lien a été remplacé par un lien plus récent (la convention a peut-être été modifiée) : "
    "utilisez le dernier courriel reçu."
)


async def open_link(session: AsyncSession, caller: LinkClaims) -> LinkView:
    return await view_of(session, caller)


async def sign(session: AsyncSession, caller: LinkClaims, command: SignByLink) -> LinkView:
    """The party signs from its own link: recorded with the time and the link's nonce; the last
    signature makes the convention *signed*."""
    view = await view_of(session, caller, lock=True)
    convention, mine = view.convention, view.signatory
    if caller.purpose is not LinkPurpose.SIGN or mine is None:
        raise Forbidden("Ce lien ne permet pas de signer.", code="link-purpose")
    if mine.signed_at is not None:
        raise Conflict("Vous avez déjà signé cette convention.", code="already-signed")
    if ImmersionStatus(convention.status) not in SIGNABLE:
        raise TransitionRefused(
            f"La convention est « {ImmersionStatus(convention.status).label} » : elle ne se "
            "signe pas."
        )
    if not command.consent:
        raise InvalidInput(
            "Cochez la case pour confirmer que vous avez lu la convention et l'acceptez.",
            errors=[],
            code="consent-required",
        )
    at = now()
    mine.signed_at = at
    mine.signed_with = caller.nonce
    role = SignatoryRole(mine.role)
    if role is SignatoryRole.BENEFICIARY:
        convention.beneficiary_signed_at = at
    elif role is SignatoryRole.HOST_REPRESENTATIVE:
        convention.host_signed_at = at
    everyone = all(r.signed_at is not None for r in view.signatories)
    target = ImmersionStatus.SIGNED if everyone else ImmersionStatus.PARTIALLY_SIGNED
    await move(
        session,
        convention,
        target,
        Who(Actor.SIGNATORY, role.value),
        comment=f"signature : {role.label} (par son lien)",
        at=at,
    )
    if everyone:
        await publish(
            session,
            convention,
            ImmersionSigned(
                **event_fields(convention, at), signatories=[r.role for r in view.signatories]
            ),
        )
    return view


async def report_error(session: AsyncSession, caller: LinkClaims, command: ReportError) -> LinkView:
    """The party points out an error instead of signing: the counsellor sees it and corrects the
    convention (which resets the signatures)."""
    view = await view_of(session, caller, lock=True)
    if view.signatory is None:
        raise Forbidden("Ce lien ne permet pas de signaler une erreur.", code="link-purpose")
    text = command.message.strip()
    if len(text) < 3:
        raise InvalidInput("Décrivez l'erreur en quelques mots.", code="error-report-empty")
    # The report reaches the counsellor and stays on the convention: no NIR, bank details or
    # health words in it (issue 11).
    raise_if_sensitive({"message": text})
    at = now()
    view.signatory.error_report = text[:4000]
    view.signatory.error_reported_at = at
    # The prescriber is told at once; the text stays here (it may name people).
    await publish(
        session,
        view.convention,
        ImmersionErrorReported(
            **event_fields(view.convention, at),
            reported_by=caller.role.value,
            counsellor_id=view.convention.counsellor_id,
        ),
    )
    return view


async def resend_link(
    session: AsyncSession,
    principal: Principal,
    command: ResendLink,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """The counsellor sends a party its link again: a new nonce, a new expiry; the older link of
    that party no longer opens the convention."""
    convention = await session.get(ImmersionConvention, command.convention_id, with_for_update=True)
    if convention is None or not sees(principal, convention.structure_code):
        raise NotFound(f"Convention {command.convention_id} introuvable.")
    if ImmersionStatus(convention.status) not in SIGNABLE:
        raise TransitionRefused(
            f"La convention est « {ImmersionStatus(convention.status).label} » : pas de lien de "
            "signature à renvoyer."
        )
    row = next((r for r in await _rows(session, convention.id) if r.role == command.role), None)
    if row is None:
        raise NotFound(f"{command.role.label} : pas signataire de cette convention.")
    if row.signed_at is not None:
        raise Conflict(f"{command.role.label} a déjà signé.", code="already-signed")
    at = now()
    row.link_nonce = new_nonce()
    row.link_expires_at = at + timedelta(days=settings.signing_link_days)
    row.links_sent += 1
    await publish(
        session,
        convention,
        ImmersionSignatureRequested(
            **event_fields(convention, at),
            reason="resent",
            host_name=convention.host_name,
            start_date=convention.start_date,
            end_date=convention.end_date,
            links=[_link(settings, convention, row)],
        ),
    )
    return convention
