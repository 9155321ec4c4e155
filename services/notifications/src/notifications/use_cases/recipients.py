"""The directory (``recipients``): finding the people a rule names and how to reach them
(:mod:`notifications.domain.recipients` says who each audience is), ops registering a contact,
and a job seeker's entry kept while their contact consent holds (issue 12)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, inspect, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.adapters.webhook_targets import (
    TargetRules,
    UnresolvedTarget,
    UnsafeTarget,
    check,
)
from notifications.domain.recipients import JOB_SEEKER, Addressee
from notifications.domain.routing import PARTY_AUDIENCES
from notifications.models import KnownReferral, Recipient
from shared.auth.tokens import Principal
from shared.contracts.job_seeker_contact import (
    JobSeekerContactConsented,
    JobSeekerContactWithdrawn,
)
from shared.domain.errors import FieldIssue, InvalidInput


@dataclass(frozen=True, slots=True)
class RegisterRecipient:
    """Ops register how to reach a recipient; without a secret, a webhook gets a generated one."""

    kind: str
    recipient_id: str
    display_name: str | None = None
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    recipient: Recipient
    #: The webhook secret when it was just generated (shown once), else None.
    generated_secret: str | None


async def register(
    command: RegisterRecipient,
    principal: Principal,
    session: AsyncSession,
    *,
    targets: TargetRules,
) -> Registered:
    """``targets``: which webhook URLs may be registered (the service's settings)."""
    access.ensure_manages_directory(principal)
    if command.kind == JOB_SEEKER:
        raise InvalidInput(
            "Le contact d'un demandeur d'emploi n'arrive qu'avec son consentement, recueilli par "
            "son conseiller : il ne s'enregistre pas à la main.",
            errors=[FieldIssue("kind", "job_seeker non joignable", "path")],
        )
    if command.webhook_url:
        await _check_target(command.webhook_url, targets)
    generated = None
    secret = command.webhook_secret
    existing = await session.get(Recipient, (command.kind, command.recipient_id))
    if command.webhook_url and not secret and not (existing and existing.webhook_secret):
        secret = generated = secrets.token_urlsafe(32)
    values: dict[str, object] = {
        "display_name": command.display_name,
        "email": command.email,
        "webhook_url": command.webhook_url,
    }
    if secret:
        values["webhook_secret"] = secret
    row = await upsert(session, command.kind, command.recipient_id, **values)
    return Registered(row, generated)


async def _check_target(url: str, targets: TargetRules) -> None:
    """Refuse a target the platform may not call; a name that does not resolve yet is accepted
    (each delivery checks it again, and connects only to the address it checked)."""
    try:
        await check(url, targets)
    except UnsafeTarget as refused:
        raise InvalidInput(
            "Cette URL de webhook n'est pas acceptée.",
            errors=[FieldIssue("webhook_url", str(refused))],
        ) from None
    except UnresolvedTarget:
        pass


#: A directory entry's key: (kind, id).
Key = tuple[str, str]

_DIRECTORY = "notifications.directory"
_REFERRALS = "notifications.referrals"


def _directory(session: AsyncSession) -> dict[Key, Recipient | None]:
    """The directory entries this transaction has read (None: known to be absent).

    The session's identity map holds its objects weakly: an entry read for one event would be
    gone, and read again, by the next event of the same batch. This keeps them for the
    transaction (one consumer batch, or one request) — never longer, so another process's
    change is seen by the next transaction. :func:`upsert` keeps it current; an entry deleted
    in the transaction (withdrawn consent, erasure) is no longer persistent and is read again.
    """
    cache: dict[Key, Recipient | None] | None = session.info.get(_DIRECTORY)
    if cache is None:
        cache = session.info[_DIRECTORY] = {}
    return cache


#: The entries of a list of keys: one statement, built and compiled once.
_ENTRIES = select(Recipient).where(
    tuple_(Recipient.kind, Recipient.id).in_(bindparam("keys", expanding=True))
)


def _cached(session: AsyncSession, key: Key) -> tuple[bool, Recipient | None]:
    """(known, entry) from this transaction's reads."""
    cache = _directory(session)
    if key not in cache:
        return False, None
    row = cache[key]
    if row is not None and not inspect(row).persistent:  # deleted (or expunged) since
        del cache[key]
        return False, None
    return True, row


async def load(session: AsyncSession, keys: Iterable[Key]) -> None:
    """Read the entries of ``keys`` this transaction does not know yet, in one query."""
    cache = _directory(session)
    missing = {key for key in keys if not _cached(session, key)[0]}
    if not missing:
        return
    wanted = sorted(missing)
    rows = await session.scalars(_ENTRIES, {"keys": wanted})
    for row in rows:
        cache[(row.kind, row.id)] = row
    for key in wanted:
        cache.setdefault(key, None)


async def entry(session: AsyncSession, kind: str, recipient_id: str) -> Recipient | None:
    """The directory entry (kind, id), or None."""
    key = (kind, recipient_id)
    known, row = _cached(session, key)
    if not known:
        await load(session, [key])
        row = _directory(session)[key]
    return row


def remember_referral_read(session: AsyncSession, referral: KnownReferral) -> None:
    """Keep ``referral`` for the transaction (see :func:`_directory`)."""
    kept: dict[uuid.UUID, KnownReferral] | None = session.info.get(_REFERRALS)
    if kept is None:
        kept = session.info[_REFERRALS] = {}
    kept[referral.referral_id] = referral


async def known_referral(session: AsyncSession, referral_id: uuid.UUID) -> KnownReferral | None:
    """The followed referral, or None; kept for the transaction once read."""
    row = await session.get(KnownReferral, referral_id)
    if row is not None:
        remember_referral_read(session, row)
    return row


#: The followed referrals of a list of ids: one statement, built and compiled once.
_REFERRALS_IN = select(KnownReferral).where(
    KnownReferral.referral_id.in_(bindparam("ids", expanding=True))
)


async def known_referrals(
    session: AsyncSession, referral_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, KnownReferral | None]:
    """The followed referrals of ``referral_ids`` (None: not followed), as
    :func:`known_referral` of each would give them: those already in the session from it, the
    others in one query."""
    sync = session.sync_session
    mapper = inspect(KnownReferral)
    found: dict[uuid.UUID, KnownReferral | None] = {}
    missing: list[uuid.UUID] = []
    for referral_id in dict.fromkeys(referral_ids):
        row = sync.identity_map.get(mapper.identity_key_from_primary_key([referral_id]))
        if row is None:
            missing.append(referral_id)
        else:
            found[referral_id] = row
    if missing:
        for row in await session.scalars(_REFERRALS_IN, {"ids": missing}):
            found[row.referral_id] = row
    for referral_id in missing:
        found.setdefault(referral_id, None)
    for row in found.values():
        if row is not None:
            remember_referral_read(session, row)
    return found


#: The audiences found through the referral when the event does not name them: the field of
#: the event, and of the followed referral, that names them.
_FROM_REFERRAL = {JOB_SEEKER: "job_seeker_id", "agency": "agency_id", "counsellor": "counsellor_id"}


def _needs_referral(audience: str, context: Mapping[str, Any]) -> bool:
    name = _FROM_REFERRAL.get(audience)
    return name is not None and not context.get(name) and context.get("referral_id") is not None


async def key_for(session: AsyncSession, audience: str, context: Mapping[str, Any]) -> Key | None:
    """The directory entry ``audience`` designates for this event (None: nobody, or a party
    reached at the address the event carries)."""
    referral = None
    if _needs_referral(audience, context):
        referral = await known_referral(session, uuid.UUID(str(context["referral_id"])))
    return key_of(audience, context, referral)


def key_of(audience: str, context: Mapping[str, Any], referral: KnownReferral | None) -> Key | None:
    """:func:`key_for` with the event's followed referral given (None: not followed)."""
    if audience in _FROM_REFERRAL:
        name = _FROM_REFERRAL[audience]
        value = context.get(name)
        if not value:  # the referral's, if it is followed (None if not)
            value = None
            if referral is not None and context.get("referral_id") is not None:
                attribute = getattr(referral, name)
                value = str(attribute) if attribute is not None else None
        if audience == JOB_SEEKER:
            # Only an entry created by their contact consent: none, nobody to tell.
            return (JOB_SEEKER, str(value)) if value is not None else None
        return (audience, str(value)) if value else None
    if audience == "organisation":
        # The prescribing organisation's mailbox (a service address registered by ops, not a
        # person's): the owner of a job-seeker record, told before its archive (issue 11).
        code = context.get("structure_code")
        return ("organisation", str(code)) if code else None
    if audience in PARTY_AUDIENCES:
        return None
    if audience == "tutor":
        convention_id = context.get("convention_id")
        return ("tutor", str(convention_id)) if convention_id is not None else None
    raise ValueError(f"unknown audience {audience}")


#: The audiences reached only through an entry of their own: no entry, nobody to tell.
_ENTRY_REQUIRED = frozenset({JOB_SEEKER, "tutor"})


async def find(
    session: AsyncSession, audience: str, context: Mapping[str, Any]
) -> Addressee | None:
    """The recipient ``audience`` designates for this event, or None if there is none."""
    if audience in PARTY_AUDIENCES:
        return _party(audience.removeprefix("party_"), context)
    key = await key_for(session, audience, context)
    if key is None:
        return None
    return _addressee_of(audience, key, await entry(session, *key))


def find_loaded(
    session: AsyncSession,
    audience: str,
    context: Mapping[str, Any],
    referral: KnownReferral | None,
) -> Addressee | None:
    """:func:`find` with the event's followed referral given and the directory entry already
    read by :func:`load` in this transaction (no statement)."""
    if audience in PARTY_AUDIENCES:
        return _party(audience.removeprefix("party_"), context)
    key = key_of(audience, context, referral)
    if key is None:
        return None
    return _addressee_of(audience, key, loaded_entry(session, key))


def loaded_entry(session: AsyncSession, key: Key) -> Recipient | None:
    """The entry ``key``, read by :func:`load` in this transaction (no statement)."""
    known, row = _cached(session, key)
    if not known:
        raise LookupError("directory entry not loaded in this transaction")
    return row


def _addressee_of(audience: str, key: Key, row: Recipient | None) -> Addressee | None:
    if row is None:
        return None if audience in _ENTRY_REQUIRED else Addressee(kind=key[0], id=key[1])
    return _from_row(row)


def _party(role: str, context: Mapping[str, Any]) -> Addressee | None:
    """A convention's party, reached at the address of its own link in the event (issue 13)."""
    link = next((x for x in context.get("links") or () if getattr(x, "role", None) == role), None)
    if link is None or not getattr(link, "email", None):
        return None
    return Addressee(
        kind="party",
        id=f"{context.get('convention_id')}:{role}",
        name=getattr(link, "name", None),
        email=link.email,
    )


async def addressee(session: AsyncSession, kind: str, recipient_id: str) -> Addressee:
    row = await entry(session, kind, recipient_id)
    return _from_row(row) if row is not None else Addressee(kind=kind, id=recipient_id)


def _from_row(row: Recipient) -> Addressee:
    return Addressee(
        kind=row.kind,
        id=row.id,
        name=row.display_name,
        email=row.email,
        phone=row.phone,
        webhook_url=row.webhook_url,
        opted_out_channels=frozenset(row.opted_out_channels or ()),
        opted_out_kinds=frozenset(row.opted_out_kinds or ()),
    )


async def upsert(session: AsyncSession, kind: str, recipient_id: str, **values: Any) -> Recipient:
    """Create or update a directory entry (only the given fields change)."""
    now = datetime.now(UTC)
    row = await entry(session, kind, recipient_id)
    if row is None:
        row = Recipient(
            kind=kind,
            id=recipient_id,
            opted_out_channels=[],
            opted_out_kinds=[],
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        _directory(session)[(kind, recipient_id)] = row
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    await session.flush()
    return row


# -- the job seeker's contact consent --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RememberContact:
    """The job seeker consented to be contacted: their directory entry, at this address."""

    consent: JobSeekerContactConsented


async def remember_contact(
    command: RememberContact, principal: Principal, session: AsyncSession
) -> Recipient:
    access.ensure_platform(principal)
    data = command.consent
    return await upsert(
        session,
        JOB_SEEKER,
        str(data.job_seeker_id),
        display_name=f"{data.first_name} {data.last_name}".strip(),
        email=data.email,
        phone=data.phone,
    )


@dataclass(frozen=True, slots=True)
class ForgetContact:
    """The job seeker withdrew their consent: their entry goes (messages already sent stay, for
    the record, until their retention or the person's erasure)."""

    withdrawal: JobSeekerContactWithdrawn


async def forget_contact(
    command: ForgetContact, principal: Principal, session: AsyncSession
) -> int:
    access.ensure_platform(principal)
    job_seeker_id = str(command.withdrawal.job_seeker_id)
    result = await session.execute(
        delete(Recipient).where(Recipient.kind == JOB_SEEKER, Recipient.id == job_seeker_id)
    )
    _directory(session)[(JOB_SEEKER, job_seeker_id)] = None
    return int(getattr(result, "rowcount", 0) or 0)
