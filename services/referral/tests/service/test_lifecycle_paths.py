"""The referral as agencies live it (issue 12): each new path of the transition table through the
use cases, on the real store — postponement, vivier, pre-hire action, cancelled hire, transfer,
re-opened decline, placement from acknowledged, hired elsewhere, staleness with a moved clock,
uniqueness per ROME code, extension and durability, outcome follow-up, derived publics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referral.api.referrals import referral_out
from referral.app import create_app
from referral.domain import ConsentScope, PriorityPublic, ReferralStatus
from referral.domain.indicators import Rules, measure
from referral.models import PLATFORM, Agency, Referral, ReferralTransition
from referral.settings import ReferralSettings
from referral.use_cases.agency_answers import AnswerRules, apply_agency_response
from referral.use_cases.consents import RecordConsent, record_consent
from referral.use_cases.expiry import expire_due_referrals, remind_or_close_stale_referrals
from referral.use_cases.indicators import IndicatorFilters, indicator_facts
from referral.use_cases.job_seekers import JobSeekerInput, register_job_seeker
from referral.use_cases.placements import ask_due_follow_ups
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts import agency as a
from shared.contracts.referral import PriorToHireAction
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.db.database import Database
from shared.domain.errors import Conflict
from shared.messaging.consumer import PermanentError

from ..answers import accepted, acknowledged, answer, declined, interview, placed
from ..conftest import bearer

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
LILLE = "agc-interim-nord-lille"
ARRAS = "agc-interim-nord-arras"  # same network (interim-nord)
LYON = "agc-travail-plus-lyon"  # another network (travail-plus)


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    yield db
    await db.dispose()


async def _send(
    database: Database,
    ft: str = "5100001A",
    agency: str = LILLE,
    rome_code: str = "H2913",
    **job_seeker: Any,
) -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput(ft, "Camille", "Martin", **job_seeker),
                agency_id=agency,
                rome_code=rome_code,
                message="Bonjour",
            ),
            COUNSELLOR,
        )
    return referral.id


async def _row(database: Database, referral_id: uuid.UUID) -> Referral:
    async with database.sessionmaker() as session:
        referral = await session.get(Referral, referral_id)
        assert referral is not None
        return referral


async def _actions(database: Database, referral_id: uuid.UUID) -> list[str]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(ReferralTransition.action)
            .where(ReferralTransition.referral_id == referral_id)
            .order_by(ReferralTransition.id)
        )
        return list(rows)


async def _outbox(database: Database, topic: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = PLATFORM.outbox
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(outbox).where(outbox.c.topic == topic).order_by(outbox.c.id)
        )
        return [(row.event_type, row.data) for row in rows]


async def _answer_at(
    database: Database, response: a.AgencyResponse, received_at: datetime, **rules: Any
) -> None:
    async with database.transaction() as session:
        referral = await session.get(Referral, response.referral_id)
        assert referral is not None
        await apply_agency_response(
            session,
            response,
            network_id=referral.network_id,
            event_id=str(uuid.uuid4()),
            received_at=received_at,
            rules=AnswerRules(**rules),
        )


def _now() -> datetime:
    return datetime.now(UTC)


async def test_postponed_with_a_date_then_accepted(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    come_back = (now + timedelta(days=10)).date()
    await answer(
        database,
        a.ReferralPostponed(
            referral_id=referral_id, agency_id=LILLE, occurred_at=now, come_back_on=come_back
        ),
    )
    row = await _row(database, referral_id)
    assert (row.status, row.postponed_until) == ("postponed", come_back)
    await answer(database, accepted(referral_id, now))
    assert (await _row(database, referral_id)).status == "accepted"
    assert await _actions(database, referral_id) == ["send", "postpone", "accept"]


async def test_a_come_back_date_already_past_is_refused_in_french(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    with pytest.raises(PermanentError, match=r"come_back_on .* est déjà passé"):
        await answer(
            database,
            a.ReferralPostponed(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now,
                come_back_on=(now - timedelta(days=2)).date(),
            ),
        )
    assert (await _row(database, referral_id)).status == "sent"


async def test_pool_with_trades_then_a_mission(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    await answer(
        database,
        a.ReferralPooled(
            referral_id=referral_id,
            agency_id=LILLE,
            occurred_at=now,
            rome_codes=["H2913", "N1103"],
        ),
    )
    row = await _row(database, referral_id)
    assert (row.status, row.pool_rome_codes) == ("pool", ["H2913", "N1103"])
    await answer(database, placed(referral_id, now, ContractType.MISSION, now.date()))
    assert (await _row(database, referral_id)).status == "placed"
    other = await _send(database, ft="5100002A")
    with pytest.raises(PermanentError, match="A9999 inconnu"):
        await answer(
            database,
            a.ReferralPooled(
                referral_id=other, agency_id=LILLE, occurred_at=now, rome_codes=["A9999"]
            ),
        )


async def test_pre_hire_pmsmp_then_hire_then_cancelled(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    await answer(database, acknowledged(referral_id, now))
    await answer(
        database,
        a.PriorToHireStarted(
            referral_id=referral_id,
            agency_id=LILLE,
            occurred_at=now,
            prior_action=PriorToHireAction.PMSMP,
        ),
    )
    row = await _row(database, referral_id)
    assert (row.status, row.prior_to_hire_action) == ("prior_to_hire", "pmsmp")
    await answer(database, placed(referral_id, now, ContractType.CDD, now.date()))
    assert (await _row(database, referral_id)).placed_at is not None
    await answer(
        database,
        a.HireCancelled(
            referral_id=referral_id, agency_id=LILLE, occurred_at=now, reason="Poste supprimé"
        ),
    )
    row = await _row(database, referral_id)
    # Not a placement any more (the indicators count placed_at); final.
    assert (row.status, row.placed_at, row.finished_at is not None) == (
        "hire_cancelled",
        None,
        True,
    )


async def test_placement_straight_from_acknowledged(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    await answer(database, acknowledged(referral_id, now))
    await answer(database, placed(referral_id, now, ContractType.MISSION, now.date()))
    assert (await _row(database, referral_id)).status == "placed"


async def test_transfer_to_a_sister_agency_the_referral_follows(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    await answer(database, acknowledged(referral_id, now))
    await _answer_at(
        database,
        a.ReferralTransferred(
            referral_id=referral_id, agency_id=LILLE, occurred_at=now, to_agency_id=ARRAS
        ),
        now,
        answer_within=timedelta(days=30),
    )
    row = await _row(database, referral_id)
    assert (row.status, row.agency_id, row.transferred_from_agency_id) == (
        "transferred",
        ARRAS,
        LILLE,
    )
    assert row.awaiting_answer_since == now
    # The counsellor is told on referral.events, the network on its feed.
    internal = await _outbox(database, "referral.events")
    assert internal[-1][0] == "coop.referral.agency_changed.v1"
    assert (internal[-1][1]["agency_id"], internal[-1][1]["from_agency_id"]) == (ARRAS, LILLE)
    feed = await _outbox(database, "agency.interim-nord.feed")
    assert feed[-1][0] == "coop.agency.referral_transferred.v1"
    assert feed[-1][1]["agency_id"] == ARRAS
    assert feed[-1][1]["answer_before"] is not None
    # The old agency no longer answers; the new one does.
    with pytest.raises(PermanentError, match="n'est pas adressée à l'agence"):
        await answer(database, accepted(referral_id, now, agency=LILLE))
    await answer(database, accepted(referral_id, now, agency=ARRAS))
    assert (await _row(database, referral_id)).status == "accepted"


async def test_transfer_outside_the_network_or_to_itself_is_refused(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    for target, message in ((LYON, "n'est pas une agence du réseau interim-nord"), (LILLE, "déjà")):
        with pytest.raises(PermanentError, match=message):
            await answer(
                database,
                a.ReferralTransferred(
                    referral_id=referral_id, agency_id=LILLE, occurred_at=now, to_agency_id=target
                ),
            )
    row = await _row(database, referral_id)
    assert (row.status, row.agency_id) == ("sent", LILLE)


async def test_a_transferred_referral_expires_from_the_transfer(database: Database) -> None:
    referral_id = await _send(database)
    sent_at = (await _row(database, referral_id)).created_at
    later = sent_at + timedelta(days=20)
    await _answer_at(
        database,
        a.ReferralTransferred(
            referral_id=referral_id, agency_id=LILLE, occurred_at=later, to_agency_id=ARRAS
        ),
        later,
    )
    delay = timedelta(days=30)
    # 31 days after sending, 11 after the transfer: not due.
    assert (
        await expire_due_referrals(
            database.sessionmaker, delay=delay, now=sent_at + timedelta(days=31)
        )
        == []
    )
    assert await expire_due_referrals(
        database.sessionmaker, delay=delay, now=later + timedelta(days=31)
    ) == [referral_id]


async def test_a_decline_reopens_within_the_delay_only(database: Database) -> None:
    reopened = await _send(database)
    too_late = await _send(database, ft="5100002A")
    now = _now()
    await answer(database, declined(reopened, now, DeclineReason.NO_POSITION))
    await answer(database, declined(too_late, now, DeclineReason.NO_POSITION))
    await _answer_at(
        database,
        a.DeclineReopened(referral_id=reopened, agency_id=LILLE, occurred_at=now),
        now + timedelta(days=3),
        reopen_within=timedelta(days=30),
    )
    row = await _row(database, reopened)
    assert (row.status, row.declined_at, row.decline_reason, row.finished_at) == (
        "acknowledged",
        None,
        None,
        None,
    )
    with pytest.raises(PermanentError, match="déclinée il y a plus de 30 jours"):
        await _answer_at(
            database,
            a.DeclineReopened(
                referral_id=too_late, agency_id=LILLE, occurred_at=now + timedelta(days=31)
            ),
            now + timedelta(days=31),
            reopen_within=timedelta(days=30),
        )
    assert (await _row(database, too_late)).status == "declined"


async def test_a_decline_does_not_reopen_over_a_newer_open_referral(database: Database) -> None:
    first = await _send(database)
    now = _now()
    await answer(database, declined(first, now, DeclineReason.NO_POSITION))
    await _send(database)  # declined is no longer open: a new referral may be sent
    with pytest.raises(PermanentError, match="déjà en cours"):
        await answer(
            database, a.DeclineReopened(referral_id=first, agency_id=LILLE, occurred_at=now)
        )


async def test_hired_elsewhere_makes_the_other_referrals_obsolete(database: Database) -> None:
    hiring = await _send(database)
    competitor = await _send(database, agency=LYON)
    sister = await _send(database, agency=ARRAS, rome_code="N1103")
    closed_before = await _send(database, agency=ARRAS)
    now = _now()
    await answer(database, declined(closed_before, now, DeclineReason.NO_POSITION, agency=ARRAS))
    await answer(database, accepted(competitor, now, agency=LYON))
    await answer(database, accepted(hiring, now))
    await answer(database, placed(hiring, now, ContractType.CDI, now.date()))

    assert (await _row(database, hiring)).status == "placed"
    for other in (competitor, sister):
        row = await _row(database, other)
        assert (row.status, row.finished_at is not None) == ("obsolete", True)
        assert (await _actions(database, other))[-1] == "make_obsolete"
    assert (await _row(database, closed_before)).status == "declined"
    internal = [d for t, d in await _outbox(database, "referral.events") if "obsoleted" in t]
    assert {d["referral_id"] for d in internal} == {str(competitor), str(sister)}
    assert {d["placed_referral_id"] for d in internal} == {str(hiring)}
    # Each on its own network's feed; the competitor is not told who hired.
    lyon_feed = await _outbox(database, "agency.travail-plus.feed")
    assert lyon_feed[-1][0] == "coop.agency.referral_obsolete.v1"
    assert lyon_feed[-1][1]["referral_id"] == str(competitor)
    assert LILLE not in str(lyon_feed[-1][1])
    assert str(hiring) not in str(lyon_feed[-1][1])
    nord_feed = [d for t, d in await _outbox(database, "agency.interim-nord.feed") if "obsol" in t]
    assert [d["referral_id"] for d in nord_feed] == [str(sister)]


async def test_staleness_with_a_moved_clock_reminds_then_closes(database: Database) -> None:
    stale = await _send(database)
    answered_again = await _send(database, ft="5100002A")
    now = _now()
    await answer(database, accepted(stale, now))
    await _answer_at(database, interview(answered_again, now), now)
    remind, close = timedelta(days=30), timedelta(days=15)
    run = remind_or_close_stale_referrals

    assert await run(database.sessionmaker, remind_after=remind, close_after=close, now=now) == (
        [],
        [],
    )
    day31 = now + timedelta(days=31)
    reminded, closed = await run(
        database.sessionmaker, remind_after=remind, close_after=close, now=day31
    )
    assert (sorted(reminded), closed) == (sorted([stale, answered_again]), [])
    # Reminded once only.
    assert await run(database.sessionmaker, remind_after=remind, close_after=close, now=day31) == (
        [],
        [],
    )
    feed = [d for t, d in await _outbox(database, "agency.interim-nord.feed") if "reminder" in t]
    assert len(feed) == 2
    assert "sans nouvelles" in feed[0]["message"]
    # News after the reminder: that one is not closed.
    await _answer_at(database, interview(answered_again, day31), day31 + timedelta(days=1))
    day40 = now + timedelta(days=40)
    assert await run(database.sessionmaker, remind_after=remind, close_after=close, now=day40) == (
        [],
        [],
    )
    day47 = now + timedelta(days=47)
    assert await run(database.sessionmaker, remind_after=remind, close_after=close, now=day47) == (
        [],
        [stale],
    )
    row = await _row(database, stale)
    assert (row.status, row.finished_at) == ("no_news", day47)
    assert (await _row(database, answered_again)).status == "interview_scheduled"
    assert (await _actions(database, stale))[-2:] == ["remind_stale", "close_no_news"]
    internal = await _outbox(database, "referral.events")
    assert internal[-1][0] == "coop.referral.closed_no_news.v1"


async def test_offer_less_referrals_are_unique_per_rome_code(database: Database) -> None:
    await _send(database, rome_code="H2913")
    await _send(database, rome_code="N1103")  # another trade: allowed (was a 409)
    with pytest.raises(Conflict):
        await _send(database, rome_code="H2913")


async def test_extension_past_six_months_makes_a_placement_durable(database: Database) -> None:
    referral_id = await _send(database)
    now = _now()
    await answer(database, accepted(referral_id, now))
    start = date(2026, 1, 1)
    await answer(database, placed(referral_id, now, ContractType.CDD, start, date(2026, 3, 31)))
    assert referral_out(await _row(database, referral_id))["placement"]["durable"] is False
    with pytest.raises(PermanentError, match="doit être après la fin prévue"):
        await answer(
            database,
            a.PlacementExtended(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now,
                new_end_date=date(2026, 3, 1),
            ),
        )
    await answer(
        database,
        a.PlacementExtended(
            referral_id=referral_id,
            agency_id=LILLE,
            occurred_at=now,
            new_end_date=date(2026, 6, 30),
        ),
    )
    out = referral_out(await _row(database, referral_id))
    assert (out["status"], out["placement"]["expected_end_date"], out["placement"]["durable"]) == (
        "placed",
        "2026-06-30",
        True,
    )
    internal = await _outbox(database, "referral.events")
    assert internal[-1][1]["action"] == "extend_placement"
    assert internal[-1][1]["placement_end_date"] == "2026-06-30"
    # The placement as it stands (a reader of "to placed" records the same hire again).
    assert (internal[-1][1]["contract_type"], internal[-1][1]["placement_start_date"]) == (
        "cdd",
        "2026-01-01",
    )


async def test_follow_up_at_one_three_six_months_measures_durable_employment(
    database: Database,
) -> None:
    referral_id = await _send(database)
    now = _now()
    start = date(2026, 1, 15)
    await answer(database, accepted(referral_id, now))
    await answer(database, placed(referral_id, now, ContractType.CDI, start))
    with pytest.raises(PermanentError, match="pas encore demandé"):
        await answer(
            database,
            a.PlacementFollowUpAnswered(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now,
                milestone_months=1,
                still_employed=True,
            ),
        )
    asked: list[tuple[uuid.UUID, int]] = []
    for day in (date(2026, 2, 14), date(2026, 2, 15), date(2026, 4, 15), date(2026, 7, 15)):
        at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        asked += await ask_due_follow_ups(database.sessionmaker, now=at)
        if asked and asked[-1][1] in (1, 3):
            await answer(
                database,
                a.PlacementFollowUpAnswered(
                    referral_id=referral_id,
                    agency_id=LILLE,
                    occurred_at=now,
                    milestone_months=asked[-1][1],
                    still_employed=True,
                ),
            )
    assert asked == [(referral_id, 1), (referral_id, 3), (referral_id, 6)]
    feed = [d for t, d in await _outbox(database, "agency.interim-nord.feed") if "follow_up" in t]
    assert [d["milestone_months"] for d in feed] == [1, 3, 6]
    assert "toujours en poste" in feed[0]["question"]
    out = referral_out(await _row(database, referral_id))
    assert (
        out["placement"]["still_employed_months"],
        out["placement"]["durable_employment_measured"],
    ) == (3, False)
    await answer(
        database,
        a.PlacementFollowUpAnswered(
            referral_id=referral_id,
            agency_id=LILLE,
            occurred_at=now,
            milestone_months=6,
            still_employed=True,
        ),
    )
    out = referral_out(await _row(database, referral_id))
    assert out["placement"]["durable_employment_measured"] is True


async def test_deld_is_derived_from_the_registration_date_and_wins(database: Database) -> None:
    today = _now().date()
    long_ago = await _send(
        database, ft="5100003A", ft_registration_date=today - timedelta(days=400), deld=False
    )
    recent = await _send(
        database, ft="5100004A", ft_registration_date=today - timedelta(days=100), deld=True
    )
    typed = await _send(database, ft="5100005A", deld=True)  # no date: the box counts
    publics = {r: (await _row(database, r)).priority_publics for r in (long_ago, recent, typed)}
    assert PriorityPublic.DELD in publics[long_ago]
    assert PriorityPublic.DELD not in publics[recent]
    assert PriorityPublic.DELD in publics[typed]


async def _consented_referral(database: Database, ft: str, *agencies: str) -> uuid.UUID:
    """A referral to Lille sharing the identity, the job seeker having consented for
    ``agencies``."""
    async with database.transaction() as session:
        job_seeker = await register_job_seeker(
            session, JobSeekerInput(ft, "Camille", "Martin"), COUNSELLOR
        )
        for agency in agencies:
            await record_consent(
                session,
                RecordConsent(job_seeker.id, agency, ConsentScope.IDENTITY),
                COUNSELLOR,
            )
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker_id=job_seeker.id,
                agency_id=LILLE,
                rome_code="H2913",
                message="Bonjour",
                share_identity=True,
            ),
            COUNSELLOR,
        )
    return referral.id


@pytest.mark.parametrize(("consented_for_arras", "shared_after"), [(False, False), (True, True)])
async def test_the_identity_follows_a_transfer_only_with_consent_for_the_new_agency(
    database: Database, consented_for_arras: bool, shared_after: bool
) -> None:
    agencies = (LILLE, ARRAS) if consented_for_arras else (LILLE,)
    referral_id = await _consented_referral(database, "5100009A", *agencies)
    assert (await _row(database, referral_id)).identity_shared is True
    now = _now()
    await answer(
        database,
        a.ReferralTransferred(
            referral_id=referral_id, agency_id=LILLE, occurred_at=now, to_agency_id=ARRAS
        ),
    )
    assert (await _row(database, referral_id)).identity_shared is shared_after
    feed = await _outbox(database, "agency.interim-nord.feed")
    assert feed[-1][0] == "coop.agency.referral_transferred.v1"
    assert feed[-1][1]["identity_shared"] is shared_after


# Written out independently of OPEN_STATUSES: the states a referral is still open in.
OPEN_STATES = {
    "sent",
    "acknowledged",
    "accepted",
    "interview_scheduled",
    "postponed",
    "pool",
    "prior_to_hire",
    "transferred",
    "placed",
}


@pytest.mark.parametrize("status", [s.value for s in ReferralStatus])
async def test_each_open_state_blocks_a_second_referral_and_each_ended_one_frees_it(
    database: Database, status: str
) -> None:
    """Item 4: one open referral per (job seeker, agency, offer or ROME code) whatever the state
    of the first — the use case's 409 and the store's partial unique index alike, for the new
    states (vivier, en attente, action préalable, transférée) as for the old ones."""
    first = await _send(database, ft="5200001A")
    async with database.transaction() as session:
        row = await session.get(Referral, first)
        assert row is not None
        row.status = status
    original = await _row(database, first)
    columns = {c.key: getattr(original, c.key) for c in Referral.__table__.columns}
    # The store alone (the use case's check bypassed): a second open copy of the first.
    copy = Referral(**{**columns, "id": uuid.uuid4(), "status": "sent"})
    if status in OPEN_STATES:
        with pytest.raises(Conflict):
            await _send(database, ft="5200001A")
        with pytest.raises(IntegrityError):
            async with database.transaction() as session:
                session.add(copy)
    else:
        async with database.transaction() as session:
            session.add(copy)  # the ended first one leaves the way open…
        with pytest.raises(Conflict):  # …to one open referral only
            await _send(database, ft="5200001A")


async def test_a_referral_closed_without_news_is_counted_in_the_indicators(
    database: Database,
) -> None:
    """Item 3: ``no_news`` is counted (``closed_no_news``), from the store's facts."""
    stale = await _send(database, ft="5200002A")
    await _send(database, ft="5200003A")  # answered, never stale
    now = _now()
    await answer(database, accepted(stale, now))
    run = remind_or_close_stale_referrals
    rules = {"remind_after": timedelta(days=30), "close_after": timedelta(days=15)}
    await run(database.sessionmaker, now=now + timedelta(days=31), **rules)
    assert await run(database.sessionmaker, now=now + timedelta(days=47), **rules) == ([], [stale])
    async with database.sessionmaker() as session:
        facts = await indicator_facts(session, Principal("ops", Role.OPS), IndicatorFilters())
    total = measure(facts, Rules())
    assert (total["referrals_sent"], total["closed_no_news"]) == (2, 1)


async def test_a_decline_tells_the_counsellor_its_comment_and_whether_the_reason_is_shared(
    database: Database,
) -> None:
    """Item 5: the agency's answer to the counsellor carries its comment; whether the job seeker
    may read the reason (``reason_shared_with_job_seeker``, as les emplois de l'inclusion) goes
    with it, for the notifications service."""
    kept, shared = await _send(database, ft="5200004A"), await _send(database, ft="5200005A")
    now = _now()
    for referral_id, share in ((kept, False), (shared, True)):
        await answer(
            database,
            a.ReferralDeclined(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now,
                reason=DeclineReason.NOT_ELIGIBLE,
                comment="Habilitation électrique manquante.",
                reason_shared_with_job_seeker=share,
            ),
        )
    changed = {
        d["referral_id"]: d
        for t, d in await _outbox(database, "referral.events")
        if t == "coop.referral.status_changed.v1"
    }
    for referral_id, share in ((kept, False), (shared, True)):
        data = changed[str(referral_id)]
        assert (data["decline_reason"], data["comment"]) == (
            "not_eligible",
            "Habilitation électrique manquante.",
        )
        assert data["details"]["reason_shared_with_job_seeker"] is share


async def test_a_job_seekers_publics_follow_the_same_settings_as_their_referrals(
    referral_settings: ReferralSettings,
) -> None:
    """Item 9: the jeune age limit and the DELD months are settings — for the job seeker's record
    as for the snapshot their referral takes (not the defaults on one side and the settings on
    the other)."""
    settings = referral_settings.model_copy(update={"jeune_age_limit": 20, "deld_months": 24})
    app = create_app(settings)
    headers = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
    today = _now().date()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://referral.test") as c:
            created = await c.post(
                "/v1/job-seekers",
                json={
                    "ft_identifier": "5200006A",
                    "first_name": "Léa",
                    "last_name": "Roux",
                    # 22 years old, registered 15 months ago: jeune and DELD by the defaults
                    # (26, 12 months), neither by these settings (20, 24 months).
                    "birth_date": today.replace(year=today.year - 22).isoformat(),
                    "ft_registration_date": (today - timedelta(days=460)).isoformat(),
                },
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
            assert created.json()["priority_publics"] == []
            read = await c.get(f"/v1/job-seekers/{created.json()['id']}", headers=headers)
            assert read.json()["priority_publics"] == []
            referral = await c.post(
                "/v1/referrals",
                json={
                    "job_seeker_id": created.json()["id"],
                    "agency_id": LILLE,
                    "rome_code": "H2913",
                    "message": "Bonjour",
                },
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert referral.status_code == 201, referral.text
            assert referral.json()["priority_publics"] == []
    finally:
        await app.state.runtime.stop()


async def test_a_transfer_tells_the_counsellor_the_names_of_both_agencies(
    database: Database,
) -> None:
    """Item 10: ``coop.referral.agency_changed.v1`` names the agency that handed the referral
    over and the new one (and its town), for the mails — the notifications service knows the
    referral by its first agency only."""
    async with database.transaction() as session:
        arras = await session.get(Agency, ARRAS)
        assert arras is not None
        arras.address = "3 place des Héros, 62000 Arras"
    referral_id = await _send(database, ft="5200007A")
    now = _now()
    await answer(database, acknowledged(referral_id, now))
    await _answer_at(
        database,
        a.ReferralTransferred(
            referral_id=referral_id, agency_id=LILLE, occurred_at=now, to_agency_id=ARRAS
        ),
        now,
    )
    async with database.sessionmaker() as session:
        lille, arras = await session.get(Agency, LILLE), await session.get(Agency, ARRAS)
        assert lille is not None
        assert arras is not None
    event_type, data = (await _outbox(database, "referral.events"))[-1]
    assert event_type == "coop.referral.agency_changed.v1"
    assert (data["from_agency_name"], data["agency_name"]) == (lille.name, arras.name)
    assert data["agency_town"] == "Arras"
