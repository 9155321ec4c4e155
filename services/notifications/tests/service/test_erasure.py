"""Erasure of a job seeker in the notifications store (issue 11) on the real store: the referral
they were referred by is no longer followed, the rendered bodies about it are erased, and the
service answers with its report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from notifications.access import SYSTEM
from notifications.models import OUTBOX, Delivery, KnownReferral, Notification, Recipient
from notifications.use_cases.erasure import EraseJobSeeker, erase_job_seeker
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.referral import ReferralSent
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.database import Database
from shared.privacy.erasure import ERASED_MARK

from ..conftest import record_event


async def test_erasure_forgets_the_referral_and_its_rendered_messages(database: Database) -> None:
    referral_id, job_seeker_id, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for rid in (referral_id, other):
        await record_event(
            database,
            ReferralSent(
                referral_id=rid,
                job_seeker_id=job_seeker_id if rid == referral_id else uuid.uuid4(),
                agency_id="agc-interim-nord-lille",
                network_id="interim-nord",
                rome_code="H2913",
                counsellor_id="conseiller.dupont",
                sent_at=datetime.now(UTC),
            ),
        )
    erasure_id = uuid.uuid4()
    async with database.transaction() as session:
        await erase_job_seeker(
            EraseJobSeeker(
                JobSeekerErasureRequested(
                    erasure_id=erasure_id,
                    job_seeker_id=job_seeker_id,
                    referral_ids=[referral_id],
                    requested_at=datetime.now(UTC),
                )
            ),
            SYSTEM,
            session,
        )
    async with database.transaction() as session:
        followed = {r.referral_id for r in await session.scalars(select(KnownReferral))}
        assert followed == {other}
        bodies = {n.referral_id: n.body for n in await session.scalars(select(Notification))}
        assert bodies[referral_id] == ERASED_MARK
        assert bodies[other] != ERASED_MARK
        for delivery in await session.scalars(select(Delivery)):
            assert (delivery.body == ERASED_MARK) == (
                delivery.notification.referral_id == referral_id
            )
        answers = (
            await session.execute(
                select(OUTBOX.tables.outbox.c.data).where(
                    OUTBOX.tables.outbox.c.event_type == "coop.notifications.erasure_completed.v1"
                )
            )
        ).all()
    assert len(answers) == 1
    report = {line["table"]: line["rows"] for line in answers[0].data["report"]}
    assert report["followed_referrals"] == 1
    assert report["notifications"] >= 1


async def test_erasure_forgets_their_immersions_tutor_and_keeps_recipient_ids(
    database: Database,
) -> None:
    """The tutor's entry (one per convention, from ``immersion.validated``) and the address the
    tutor was written to go with the person: the convention no longer points to anyone. The
    messages keep their ``recipient_id`` (the convention's id: its entry is gone)."""
    referral_id, job_seeker_id, convention_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    other_convention = uuid.uuid4()
    for cid, seeker in ((convention_id, job_seeker_id), (other_convention, uuid.uuid4())):
        await record_event(
            database,
            ImmersionValidated(
                convention_id=cid,
                referral_id=referral_id if cid == convention_id else None,
                job_seeker_id=seeker,
                agency_id="agc-interim-nord-lille",
                occurred_at=datetime.now(UTC),
                objet=ImmersionObjet.START_RECRUITMENT,
                start_date=date.today() + timedelta(days=7),
                end_date=date.today() + timedelta(days=20),
                host_name="Entrepôts du Nord",
                tutor_name="Nadia Benali",
                tutor_email=f"tuteur-{cid.hex[:6]}@entrepots.example",
            ),
        )
    async with database.transaction() as session:
        await erase_job_seeker(
            EraseJobSeeker(
                JobSeekerErasureRequested(
                    erasure_id=uuid.uuid4(),
                    job_seeker_id=job_seeker_id,
                    referral_ids=[referral_id],
                    requested_at=datetime.now(UTC),
                )
            ),
            SYSTEM,
            session,
        )
    async with database.transaction() as session:
        tutors = set(await session.scalars(select(Recipient.id).where(Recipient.kind == "tutor")))
        assert tutors == {str(other_convention)}
        to_tutor = list(
            await session.scalars(
                select(Notification).where(Notification.recipient_kind == "tutor")
            )
        )
        assert {n.recipient_id for n in to_tutor} == {str(convention_id), str(other_convention)}
        for notification in to_tutor:
            for delivery in notification.deliveries:
                if delivery.channel != "email":
                    continue
                erased = notification.recipient_id == str(convention_id)
                assert (delivery.address == ERASED_MARK) == erased, delivery.address
        answers = (
            await session.execute(
                select(OUTBOX.tables.outbox.c.data).where(
                    OUTBOX.tables.outbox.c.event_type == "coop.notifications.erasure_completed.v1"
                )
            )
        ).all()
    report = {line["table"]: line["rows"] for line in answers[0].data["report"]}
    assert report["recipients (tuteurs)"] == 1
