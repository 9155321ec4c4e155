"""Erasure of a job seeker in the notifications store (issue 11), on
``job_seeker.erasure_requested`` (the DPO's request, or the 2-year archive: the same event): the
job seeker's directory entry and their immersions' tutors' entries, the referrals and immersions
followed for reminders (with the counsellor's id), the rendered subjects and bodies of the
messages about their referrals (in-app, e-mail, webhook), the addresses the messages to them and
to their tutors were sent to, the published events and stored responses that mention them. The
messages' ``recipient_id`` stays: an agent's or an agency's id, the job seeker's pseudonym, a
convention's id for a tutor whose entry is gone. Answers ``notifications.erasure_completed`` with
what it did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import (
    OUTBOX,
    PLATFORM,
    Delivery,
    FollowedImmersion,
    KnownReferral,
    Notification,
    Recipient,
)
from shared.auth.tokens import Principal
from shared.contracts.erasure import (
    ErasureCounts,
    JobSeekerErasureRequested,
    NotificationsErasureCompleted,
)
from shared.privacy.erasure import ERASED_MARK, Erased, erase_platform_copies

SERVICE = "notifications"


@dataclass(frozen=True, slots=True)
class EraseJobSeeker:
    request: JobSeekerErasureRequested


async def erase_job_seeker(
    command: EraseJobSeeker, caller: Principal, session: AsyncSession
) -> None:
    data = command.request
    referral_ids = list(data.referral_ids)
    job_seeker = str(data.job_seeker_id)
    # The person's immersions: their tutors' entries (one per convention) go with them.
    conventions = [
        str(c)
        for c in await session.scalars(
            select(FollowedImmersion.convention_id).where(
                or_(
                    FollowedImmersion.job_seeker_id == data.job_seeker_id,
                    FollowedImmersion.referral_id.in_(referral_ids),
                )
            )
        )
    ]
    report = await erase_platform_copies(
        session, PLATFORM, [job_seeker, *(str(i) for i in referral_ids)]
    )
    about = select(Notification.id).where(
        or_(
            Notification.referral_id.in_(referral_ids),
            (Notification.recipient_kind == "job_seeker")
            & (Notification.recipient_id == job_seeker),
        )
    )
    # Subjects name the person too (with consent, issue 12), bodies do: both go.
    notifications = await session.execute(
        update(Notification)
        .where(Notification.id.in_(about))
        .values(subject=ERASED_MARK, body=ERASED_MARK)
    )
    report.append(Erased("notifications", _count(notifications), "erased"))
    deliveries = await session.execute(
        update(Delivery)
        .where(Delivery.notification_id.in_(about))
        .values(subject=ERASED_MARK, body=ERASED_MARK)
        .execution_options(synchronize_session=False)
    )
    report.append(Erased("deliveries", _count(deliveries), "erased"))
    # What was sent to the job seeker themselves went to their own address (their e-mail, their
    # phone): erased too; an agency's or a counsellor's address is not theirs and stays.
    # The tutor of an immersion of theirs: the convention no longer points to anyone, and its
    # tutor's address has no purpose left either.
    to_them = select(Notification.id).where(
        or_(
            (Notification.recipient_kind == "job_seeker")
            & (Notification.recipient_id == job_seeker),
            (Notification.recipient_kind == "tutor") & Notification.recipient_id.in_(conventions),
        )
    )
    addressed = await session.execute(
        update(Delivery)
        .where(Delivery.notification_id.in_(to_them))
        .values(address=ERASED_MARK)
        .execution_options(synchronize_session=False)
    )
    report.append(Erased("deliveries.address", _count(addressed), "erased"))
    recipients = await session.execute(
        delete(Recipient).where(Recipient.kind == "job_seeker", Recipient.id == job_seeker)
    )
    report.append(Erased("recipients", _count(recipients)))
    tutors = await session.execute(
        delete(Recipient).where(Recipient.kind == "tutor", Recipient.id.in_(conventions))
    )
    report.append(Erased("recipients (tuteurs)", _count(tutors)))
    followed = await session.execute(
        delete(KnownReferral).where(KnownReferral.referral_id.in_(referral_ids))
    )
    report.append(Erased("followed_referrals", _count(followed)))
    immersions = await session.execute(
        delete(FollowedImmersion).where(
            or_(
                FollowedImmersion.job_seeker_id == data.job_seeker_id,
                FollowedImmersion.referral_id.in_(referral_ids),
            )
        )
    )
    report.append(Erased("followed_immersions", _count(immersions)))
    now = datetime.now(UTC)
    await OUTBOX.stage(
        session,
        NotificationsErasureCompleted(
            erasure_id=data.erasure_id,
            service=SERVICE,
            report=[ErasureCounts(table=r.table, rows=r.rows, action=r.action) for r in report],
            completed_at=now,
        ),
        subject=f"erasures/{data.erasure_id}",
        occurred_at=now,
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
