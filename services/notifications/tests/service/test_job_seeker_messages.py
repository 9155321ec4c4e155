"""Job seekers are told, on the real store, only with their contact consent (issue 12, item 8):
the consent event fills their directory entry, each transition worth telling them then becomes a
mail to that address; without it, or once withdrawn or erased, nothing is addressed to them. Ops
cannot register a job seeker's contact by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from notifications.access import SYSTEM
from notifications.models import Delivery, Notification, Recipient
from notifications.use_cases import recipients
from notifications.use_cases.erasure import EraseJobSeeker, erase_job_seeker
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.job_seeker_contact import JobSeekerContactConsented, JobSeekerContactWithdrawn
from shared.contracts.referral import ReferralSent, ReferralStatus, ReferralStatusChanged
from shared.contracts.vocabulary import DeclineReason
from shared.db.database import Database

from ..conftest import OPS, record_event

AGENCY = "agc-interim-nord-lille"


def _sent(referral_id: uuid.UUID, job_seeker_id: uuid.UUID) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id,
        job_seeker_id=job_seeker_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        counsellor_id="conseiller.dupont",
        sent_at=datetime.now(UTC),
        agency_name="Intérim Nord",
        agency_town="Lille",
    )


def _declined(referral_id: uuid.UUID) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id="conseiller.dupont",
        from_status=ReferralStatus.ACKNOWLEDGED,
        to_status=ReferralStatus.DECLINED,
        action="decline",
        decline_reason=DeclineReason.LACKING_SKILLS,
        comment="Il manque la qualification TIG.",
        occurred_at=datetime.now(UTC),
    )


async def _consent(database: Database, job_seeker_id: uuid.UUID) -> None:
    async with database.transaction() as session:
        await recipients.remember_contact(
            recipients.RememberContact(
                JobSeekerContactConsented(
                    job_seeker_id=job_seeker_id,
                    first_name="Inès",
                    last_name="Lefebvre",
                    email="ines@example.org",
                    phone="+33612345678",
                    consented_at=datetime.now(UTC),
                )
            ),
            SYSTEM,
            session,
        )


def _by_kind(messages: list[Notification]) -> dict[str, Notification]:
    return {m.recipient_kind: m for m in messages}


async def test_with_contact_consent_the_job_seeker_gets_their_answer_and_is_named(
    database: Database,
) -> None:
    referral_id, job_seeker_id = uuid.uuid4(), uuid.uuid4()
    await _consent(database, job_seeker_id)
    sent = _by_kind(await record_event(database, _sent(referral_id, job_seeker_id)))
    assert set(sent) == {"agency", "job_seeker"}
    assert "Intérim Nord (Lille)" in sent["job_seeker"].subject
    assert "Soudeur / Soudeuse" in sent["agency"].subject  # the métier, with its code
    assert "Inès" not in sent["agency"].body  # an agency is never named the person by mail

    answered = _by_kind(await record_event(database, _declined(referral_id)))
    assert set(answered) == {"counsellor", "job_seeker"}
    counsellor, job_seeker = answered["counsellor"], answered["job_seeker"]
    assert "Orientation de Inès Lefebvre (Soudeur / Soudeuse)" in counsellor.body  # in-app text
    assert "Commentaire de l'agence : Il manque la qualification TIG." in counsellor.body
    assert "Soudeur / Soudeuse" in counsellor.body
    assert job_seeker.recipient_id == str(job_seeker_id)
    assert job_seeker.body.startswith("Bonjour Inès Lefebvre,")
    assert "des compétences que vous pourrez acquérir" in job_seeker.body
    assert "qualification TIG" not in job_seeker.body
    async with database.sessionmaker() as session:
        (delivery,) = await session.scalars(
            select(Delivery).where(Delivery.notification_id == job_seeker.id)
        )
    assert (delivery.channel, delivery.address, delivery.status) == (
        "email",
        "ines@example.org",
        "pending",
    )


async def test_without_contact_consent_the_job_seeker_is_told_nothing_and_not_named(
    database: Database,
) -> None:
    referral_id = uuid.uuid4()
    await record_event(database, _sent(referral_id, uuid.uuid4()))
    answered = _by_kind(await record_event(database, _declined(referral_id)))
    assert set(answered) == {"counsellor"}
    assert "Inès" not in answered["counsellor"].subject + answered["counsellor"].body


async def test_a_withdrawn_consent_or_an_erasure_stops_every_message_to_them(
    database: Database,
) -> None:
    first, second, job_seeker_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _consent(database, job_seeker_id)
    async with database.transaction() as session:
        await recipients.forget_contact(
            recipients.ForgetContact(
                JobSeekerContactWithdrawn(
                    job_seeker_id=job_seeker_id, withdrawn_at=datetime.now(UTC)
                )
            ),
            SYSTEM,
            session,
        )
    told = await record_event(database, _sent(first, job_seeker_id))
    assert {m.recipient_kind for m in told} == {"agency"}

    await _consent(database, job_seeker_id)
    async with database.transaction() as session:
        await erase_job_seeker(
            EraseJobSeeker(
                JobSeekerErasureRequested(
                    erasure_id=uuid.uuid4(),
                    job_seeker_id=job_seeker_id,
                    referral_ids=[first],
                    requested_at=datetime.now(UTC),
                )
            ),
            SYSTEM,
            session,
        )
        assert await session.get(Recipient, ("job_seeker", str(job_seeker_id))) is None
    told = await record_event(database, _sent(second, job_seeker_id))
    assert {m.recipient_kind for m in told} == {"agency"}


async def test_ops_cannot_register_a_job_seeker_by_hand(client: httpx.AsyncClient) -> None:
    response = await client.put(
        f"/v1/recipients/job_seeker/{uuid.uuid4()}",
        json={"display_name": "X", "email": "x@example.org"},
        headers=OPS,
    )
    assert response.status_code == 422
    assert "consentement" in response.json()["detail"]
