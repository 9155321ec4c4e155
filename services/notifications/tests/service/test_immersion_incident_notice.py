"""Issue 13 item 5: an incident or accident reported from a party's link during an immersion
reaches the prescriber's counsellor at once (inbox and mail, required: within the day), without
its description (it stays in the dispositifs service)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from devstack.mailbox import Mailbox
from notifications.jobs import DeliveryWorker
from notifications.settings import NotificationsSettings
from notifications.use_cases import recipients
from shared.contracts.dispositifs import ImmersionIncidentReported
from shared.db.database import Database
from shared.testing_kafka import eventually

from ..conftest import record_event


async def test_an_incident_reported_during_an_immersion_is_mailed_to_its_counsellor(
    settings: NotificationsSettings, database: Database, mailbox: Mailbox
) -> None:
    async with database.transaction() as session:
        await recipients.upsert(
            session,
            "counsellor",
            "conseillere.leroy",
            display_name="Mme Leroy",
            email="leroy@ft.example",
        )
    convention_id = uuid.uuid4()
    recorded = await record_event(
        database,
        ImmersionIncidentReported(
            convention_id=convention_id,
            structure_code="59350",
            occurred_at=datetime.now(UTC),
            incident_id=uuid.uuid4(),
            kind="accident",
            occurred_on=date(2026, 12, 1),
            reported_by="tutor",
            counsellor_id="conseillere.leroy",
        ),
    )
    assert {(n.recipient_kind, n.recipient_id, n.required) for n in recorded} == {
        ("counsellor", "conseillere.leroy", True)
    }

    mailbox.start()
    worker = DeliveryWorker(settings)

    async def mailed() -> bool | None:
        await worker.run_once(database)
        return True if mailbox.messages else None

    await eventually(mailed, timeout=20, interval=0.05)
    [mail] = mailbox.messages
    assert mail.rcpt_tos == ("leroy@ft.example",)
    assert mail.subject == "Incident signalé pendant une immersion (accident)"
    assert str(convention_id) in mail.text
    assert "mardi 1er décembre 2026" in mail.text
    # In French: who reported it reads as a person, not as the role's code.
    assert "(par : le tuteur)" in mail.text
