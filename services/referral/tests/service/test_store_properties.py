"""Invariants over random sequences of commands and agency answers on the real store
(hypothesis): one open referral per job seeker/agency/offer, no change after a final state, a
complete transition log that reads as a chain."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from referral.domain import OPEN_STATUSES, ReferralStatus
from referral.models import Referral, ReferralTransition
from referral.settings import ReferralSettings
from referral.use_cases.expiry import expire_due_referrals
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.offers import OfferInput, create_offer
from referral.use_cases.referrals import (
    SendReferral,
    WithdrawReferral,
    send_referral,
    withdraw_referral,
)
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.db.database import Database
from shared.domain.errors import DomainError
from shared.http.domain_problems import status_of
from shared.messaging.consumer import PermanentError

from .. import answers

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
AGENCIES = ["agc-interim-nord-lille", "agc-interim-nord-arras"]


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    async with db.transaction() as session:
        offer = await create_offer(
            session, OfferInput("Soudeur", "H2913", "59", ContractType.MISSION), COUNSELLOR
        )
    db.offer_id = offer.id  # type: ignore[attr-defined]
    yield db
    await db.dispose()


ANSWERS = ["ack", "accept", "decline", "interview", "place", "end", "withdraw", "expire"]
commands = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"), st.integers(0, 1), st.integers(0, 1), st.booleans()
        ),  # seeker, agency, with offer
        st.tuples(st.sampled_from(ANSWERS), st.integers(0, 7), st.integers(0, 1), st.booleans()),
    ),
    min_size=1,
    max_size=20,
)


async def _do(
    database: Database, command: tuple[str, int, int, bool], run: dict[str, object]
) -> None:
    kind, a, b, flag = command
    referrals: list[uuid.UUID] = run["referrals"]  # type: ignore[assignment]
    seekers: list[str] = run["seekers"]  # type: ignore[assignment]
    now = datetime.now(UTC)
    if kind == "send":
        try:
            async with database.transaction() as session:
                referral = await send_referral(
                    session,
                    SendReferral(
                        job_seeker=JobSeekerInput(seekers[a], "P", "Q"),
                        agency_id=AGENCIES[b],
                        rome_code="H2913",
                        offer_id=database.offer_id if flag else None,  # type: ignore[attr-defined]
                        message="m",
                    ),
                    COUNSELLOR,
                )
            referrals.append(referral.id)
        except DomainError as exc:
            run["send_refusals"].append(status_of(exc))  # type: ignore[attr-defined]
        return
    if not referrals:
        return
    referral_id = referrals[a % len(referrals)]
    async with database.sessionmaker() as session:
        agency = (await session.get(Referral, referral_id)).agency_id  # type: ignore[union-attr]
    responses = {
        "ack": lambda: answers.acknowledged(referral_id, now, agency),
        "accept": lambda: answers.accepted(referral_id, now, agency),
        "decline": lambda: answers.declined(referral_id, now, DeclineReason.OTHER, agency),
        "interview": lambda: answers.interview(referral_id, now, agency),
        "place": lambda: answers.placed(
            referral_id, now, ContractType.CDI, now.date(), agency=agency
        ),
        "end": lambda: answers.a.PlacementEnded(
            referral_id=referral_id, agency_id=agency, occurred_at=now, end_date=now.date()
        ),
    }
    try:
        if kind in responses:
            await answers.answer(database, responses[kind]())
        elif kind == "withdraw":
            async with database.transaction() as session:
                await withdraw_referral(session, WithdrawReferral(referral_id, "r"), COUNSELLOR)
        else:
            await expire_due_referrals(
                database.sessionmaker, delay=timedelta(0), now=now + timedelta(1)
            )
    except (PermanentError, DomainError):
        pass  # refused: the invariants below say it left no trace


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands)
async def test_invariants_hold_over_random_sequences(
    database: Database, sequence: list[tuple[str, int, int, bool]]
) -> None:
    # Each example works on job seekers of its own, so examples do not see each other.
    run: dict[str, object] = {
        "referrals": [],
        "seekers": [f"{uuid.uuid4().int % 10**7:07d}{i}" for i in range(2)],
        "send_refusals": [],
    }
    for command in sequence:
        await _do(database, command, run)

    # A send is refused only as a second open referral.
    assert set(run["send_refusals"]) <= {409}  # type: ignore[arg-type]
    ids: list[uuid.UUID] = run["referrals"]  # type: ignore[assignment]
    async with database.sessionmaker() as session:
        rows = list(await session.scalars(select(Referral).where(Referral.id.in_(ids))))
        logs = list(
            await session.scalars(
                select(ReferralTransition)
                .where(ReferralTransition.referral_id.in_(ids))
                .order_by(ReferralTransition.id)
            )
        )
    open_per_key: dict[tuple[object, ...], int] = {}
    for row in rows:
        if ReferralStatus(row.status) in OPEN_STATUSES:
            key = (row.job_seeker_id, row.agency_id, row.offer_id)
            open_per_key[key] = open_per_key.get(key, 0) + 1
    assert all(count == 1 for count in open_per_key.values()), open_per_key

    for row in rows:
        chain = [t for t in logs if t.referral_id == row.id]
        assert (chain[0].from_status, chain[0].action) == (None, "send")
        for before, after in itertools.pairwise(chain):
            assert after.from_status == before.to_status
            assert not ReferralStatus(before.to_status).is_final
        assert chain[-1].to_status == row.status
