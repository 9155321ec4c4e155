"""Over the real broker (issue 12): the job seeker's contact consent, then the agency's decline,
become the counsellor's message with the agency's comment and the person's name, and the job
seeker's own mail; a job seeker who never consented gets nothing; a withdrawal stops them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from notifications.consumers import referral_events
from notifications.models import PLATFORM, Notification, Recipient
from notifications.settings import NotificationsSettings
from shared.contracts.job_seeker_contact import JobSeekerContactConsented, JobSeekerContactWithdrawn
from shared.contracts.referral import ReferralSent, ReferralStatus, ReferralStatusChanged
from shared.contracts.vocabulary import DeclineReason
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, running_consumer

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
        decline_reason=DeclineReason.NOT_MOBILE,
        comment="Pas de véhicule pour les horaires de nuit.",
        occurred_at=datetime.now(UTC),
    )


async def _messages(database: Database, referral_id: uuid.UUID) -> list[Notification]:
    async with database.sessionmaker() as session:
        return list(
            await session.scalars(
                select(Notification).where(Notification.referral_id == referral_id)
            )
        )


async def test_the_consented_job_seeker_and_the_counsellor_each_get_their_answer(
    settings: NotificationsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("referral.events")
    consented, never, withdrawn = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    referrals = {person: uuid.uuid4() for person in (consented, never, withdrawn)}
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_events,
        topic=topic,
        group=unique("notifications"),
    ):
        for person in (consented, withdrawn):
            await publish(
                kafka_bootstrap,
                topic,
                JobSeekerContactConsented(
                    job_seeker_id=person,
                    first_name="Inès",
                    last_name="Lefebvre",
                    email=f"{person}@example.org",
                    consented_at=datetime.now(UTC),
                ),
            )
        await publish(
            kafka_bootstrap,
            topic,
            JobSeekerContactWithdrawn(job_seeker_id=withdrawn, withdrawn_at=datetime.now(UTC)),
        )

        async def directory_settled() -> bool:
            async with database.sessionmaker() as session:
                kept = await session.get(Recipient, ("job_seeker", str(consented)))
                gone = await session.get(Recipient, ("job_seeker", str(withdrawn)))
            return kept is not None and gone is None

        await eventually(directory_settled)
        for person, referral_id in referrals.items():
            await publish(kafka_bootstrap, topic, _sent(referral_id, person))
            await publish(kafka_bootstrap, topic, _declined(referral_id))

        async def all_answered() -> dict[uuid.UUID, list[Notification]]:
            found = {p: await _messages(database, r) for p, r in referrals.items()}
            counsellors = [
                m for ms in found.values() for m in ms if m.recipient_kind == "counsellor"
            ]
            return found if len(counsellors) == 3 else {}

        found = await eventually(all_answered)

    told = {p: sorted(m.recipient_kind for m in ms) for p, ms in found.items()}
    assert told[consented] == ["agency", "counsellor", "job_seeker", "job_seeker"]
    assert told[never] == ["agency", "counsellor"]
    assert told[withdrawn] == ["agency", "counsellor"]
    answer = next(
        m
        for m in found[consented]
        if m.recipient_kind == "job_seeker" and m.event_type == "coop.referral.status_changed.v1"
    )
    assert answer.body.startswith("Bonjour Inès Lefebvre,")
    assert "le poste est trop loin ou difficile d'accès pour vous" in answer.body
    assert "véhicule" not in answer.body
    counsellor = next(m for m in found[consented] if m.recipient_kind == "counsellor")
    assert "Commentaire de l'agence : Pas de véhicule pour les horaires de nuit." in counsellor.body
    assert "Inès Lefebvre" in counsellor.body
    anonymous = next(m for m in found[never] if m.recipient_kind == "counsellor")
    assert "Commentaire de l'agence : Pas de véhicule" in anonymous.body
    assert "Inès" not in anonymous.body
