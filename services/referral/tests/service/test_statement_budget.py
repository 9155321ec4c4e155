"""How many SQL statements one ``POST /v1/referrals`` and one ``GET /v1/referrals/{id}`` run
(issue 14, item 2), counted on the real store by a ``before_cursor_execute`` listener: the count
is deterministic, so a statement added to the hot path fails here instead of creeping back
unnoticed. No timing is asserted.

The counts are the statements SQLAlchemy executes; the transaction's ``BEGIN IMMEDIATE`` (sent
straight to the driver, ``shared.db.database``) and its ``COMMIT`` come on top."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
import greenlet
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats

from referral.models import PLATFORM, Consent, PersonalDataAccess
from shared.auth.tokens import Role
from shared.testing import store_kind

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
AGENCY = "agc-interim-nord-lille"


@dataclass(frozen=True, slots=True)
class Executed:
    statement: str
    rows: int  # parameter sets: several for an executemany
    #: Compiled before and found in the engine's cache (not compiled again for this request).
    cached: bool = True
    #: Which hand-off ran it: the greenlet (``AsyncSession.execute`` and ``run_sync`` each spawn
    #: one; the greenlet itself, kept alive by the list: no id reused by a later one) and, on
    #: SQLite, how many calls to aiosqlite's thread came before it (the statements that
    #: ``shared.db.direct`` runs together are announced before their one call).
    hand_off: object = None

    @property
    def verb(self) -> str:
        return (
            " ".join(self.statement.split()[:3])
            if self.statement.startswith("INSERT")
            else (self.statement.split()[0])
        )


@contextmanager
def statements(app: FastAPI) -> Iterator[list[Executed]]:
    engine = app.state.runtime.database.engine.sync_engine
    seen: list[Executed] = []
    calls = [0]  # calls to aiosqlite's thread so far
    stock = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await stock(self, fn, *args, **kwargs)

    def listen(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        cached = getattr(context, "cache_hit", CacheStats.CACHE_HIT) == CacheStats.CACHE_HIT
        hand_off = (greenlet.getcurrent(), calls[0])
        seen.append(Executed(statement, len(parameters) if many else 1, cached, hand_off))

    event.listen(engine, "before_cursor_execute", listen)
    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        aiosqlite.Connection._execute = stock  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", listen)


def _referral(rome_code: str = "H2913", **job_seeker: Any) -> dict[str, Any]:
    return {
        "agency_id": AGENCY,
        "rome_code": rome_code,
        "message": "Profil motivé, soudure MIG validée en formation.",
        **job_seeker,
    }


def _inline(ft_identifier: str) -> dict[str, Any]:
    return {
        "job_seeker": {
            "ft_identifier": ft_identifier,
            "first_name": "Camille",
            "last_name": "Martin",
        }
    }


async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    headers = {**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())}
    response = await client.post("/v1/referrals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response


async def test_a_referral_with_a_new_job_seeker_costs_eight_statements(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _post(client, _referral(**_inline("7654321B")))  # compiled statements warm
    with statements(app) as seen:
        created = await _post(client, _referral(**_inline("1234567A")))
    assert [s.verb for s in seen] == [
        "SELECT",  # the agency (not its specialisations)
        "SELECT",  # the job seeker by identifier (none)
        "INSERT INTO job_seekers",
        "INSERT INTO personal_data_access",  # the job seeker's and the referral's audit rows
        "INSERT INTO referrals",
        "INSERT INTO referral_transitions",
        "INSERT INTO outbox",  # referral.events and the agency feed, one statement
        "INSERT INTO idempotency_keys",
    ]
    audit = next(s for s in seen if s.verb == "INSERT INTO personal_data_access")
    # An executemany of two rows (SQLite), or two VALUES tuples in one statement (PostgreSQL's
    # "insertmanyvalues").
    assert audit.rows == 2 or audit.statement.count("), (") == 1
    outbox = next(s for s in seen if s.verb == "INSERT INTO outbox")
    # Two rows in one statement: an executemany (SQLite), or two VALUES tuples (PostgreSQL).
    assert outbox.rows == 2 or outbox.statement.count("), (") == 1
    # Every statement of the warm path comes from the compiled cache: none is compiled again
    # per request (a multi-row ``values([...])`` has no cache key and was, every time).
    assert [s.verb for s in seen if not s.cached] == []

    referral_id = uuid.UUID(created.json()["id"])
    async with app.state.runtime.session() as session:
        actions = (
            await session.scalars(
                select(PersonalDataAccess.action)
                .where(
                    PersonalDataAccess.job_seeker_id == uuid.UUID(created.json()["job_seeker_id"])
                )
                .order_by(PersonalDataAccess.action)
            )
        ).all()
        events = await session.scalar(
            select(func.count()).where(PLATFORM.outbox.c.key == str(referral_id))
        )
    assert actions == ["create", "refer"]
    assert events == 2


def _hand_offs(seen: list[Executed]) -> list[list[str]]:
    """The statements grouped by the hand-off that ran them, in order."""
    groups: list[list[str]] = []
    last: object = None
    for executed in seen:
        if executed.hand_off != last:
            groups.append([])
            last = executed.hand_off
        groups[-1].append(executed.verb)
    return groups


@pytest.mark.skipif(
    store_kind() != "sqlite",
    reason="a hand-off is a call to aiosqlite's thread; on PostgreSQL each statement is a round "
    "trip of its own, counted by test_a_referral_with_a_new_job_seeker_costs_eight_statements",
)
async def test_a_referral_s_rows_events_and_key_are_written_in_one_hand_off(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _post(client, _referral(**_inline("7654320B")))  # compiled statements warm
    with statements(app) as seen:
        await _post(client, _referral(**_inline("1234560A")))
    assert _hand_offs(seen) == [
        ["SELECT"],
        ["SELECT"],
        [
            "INSERT INTO job_seekers",
            "INSERT INTO personal_data_access",
            "INSERT INTO referrals",
            "INSERT INTO referral_transitions",
            "INSERT INTO outbox",
            "INSERT INTO idempotency_keys",
        ],
    ]
    # The hand-offs are told apart: no two statements of distinct ones share an id.
    assert len({s.hand_off for s in seen}) == 3
    assert len({s.hand_off for s in seen[2:]}) == 1


async def test_a_referral_of_a_known_job_seeker_costs_nine_statements(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await _post(client, _referral(**_inline("1234567A")))
    job_seeker_id = first.json()["job_seeker_id"]
    await _post(client, _referral("H2909", job_seeker_id=job_seeker_id))  # warm
    with statements(app) as seen:
        await _post(client, _referral("N1103", job_seeker_id=job_seeker_id))
    assert [s.verb for s in seen] == [
        "SELECT",  # the agency
        "SELECT",  # the job seeker with their shares (who else may refer them), joined
        "SELECT",  # their pending consents to this agency, once
        "SELECT",  # an open referral like this one
        "INSERT INTO personal_data_access",
        "INSERT INTO referrals",
        "INSERT INTO referral_transitions",
        "INSERT INTO outbox",
        "INSERT INTO idempotency_keys",
    ]
    assert _hand_offs(seen)[4:] == [[s.verb for s in seen[4:]]]  # the five INSERTs in one


async def test_a_referral_of_a_job_seeker_sent_inline_again_costs_eleven_statements(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _post(client, _referral(**_inline("1234567A")))
    await _post(client, _referral("H2909", **_inline("1234567A")))  # warm
    with statements(app) as seen:
        await _post(client, _referral("N1103", **_inline("1234567A")))
    assert [s.verb for s in seen] == [
        "SELECT",  # the agency
        "SELECT",  # the job seeker's id by identifier (found)
        "SELECT",  # the job seeker with their shares, joined
        "UPDATE",  # the record as sent (its updated_at at least)
        "SELECT",  # their pending consents to this agency
        "SELECT",  # an open referral like this one
        "INSERT INTO personal_data_access",  # the update's and the referral's audit rows
        "INSERT INTO referrals",
        "INSERT INTO referral_transitions",
        "INSERT INTO outbox",
        "INSERT INTO idempotency_keys",
    ]


async def test_the_referral_s_own_rows_go_through_no_unit_of_work(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The job seeker, the referral, its transition and the audit rows are written through Core
    (``adapters/referral_rows.py``): no ORM flush has anything to write for a new job seeker's
    referral (the consent a referral takes is the one object the ORM still writes)."""
    flushed: list[int] = []

    def before_flush(session: Any, _context: Any, _instances: Any) -> None:
        flushed.append(len(session.new) + len(session.dirty) + len(session.deleted))

    session_class = app.state.runtime.database.sync_session_class
    event.listen(session_class, "before_flush", before_flush)
    try:
        created = await _post(client, _referral(**_inline("1234567A")))
    finally:
        event.remove(session_class, "before_flush", before_flush)
    assert sum(flushed) == 0
    detail = await client.get(created.headers["Location"], headers=COUNSELLOR)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [(e["action"], e["to_status"]) for e in body.pop("timeline")] == [("send", "sent")]
    assert body == created.json()  # what the POST answered is what was written


async def test_a_referral_sharing_identity_takes_its_consent_in_the_same_flush(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await _post(client, _referral(**_inline("1234567A")))
    job_seeker_id = first.json()["job_seeker_id"]
    consent = await client.post(
        f"/v1/job-seekers/{job_seeker_id}/consents",
        json={"agency_id": AGENCY, "scope": "identity", "channel": "in_person"},
        headers={**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert consent.status_code == 201, consent.text
    with statements(app) as seen:
        shared = await _post(
            client, _referral("H2909", job_seeker_id=job_seeker_id, share_identity=True)
        )
    assert len(seen) == 10  # the nine above and the consent's UPDATE
    # The consent references the referral: its rows first, the consent's UPDATE, then the
    # events and the key together.
    assert _hand_offs(seen)[4:] == [
        [
            "INSERT INTO personal_data_access",
            "INSERT INTO referrals",
            "INSERT INTO referral_transitions",
        ],
        ["UPDATE"],  # the consent
        ["INSERT INTO outbox", "INSERT INTO idempotency_keys"],
    ]
    assert shared.json()["identity_shared"] is True
    async with app.state.runtime.session() as session:
        taken = await session.scalar(
            select(Consent.referral_id).where(Consent.id == uuid.UUID(consent.json()["id"]))
        )
    assert taken == uuid.UUID(shared.json()["id"])


async def test_reading_a_referral_costs_three_statements(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await _post(client, _referral(**_inline("1234567A")))
    await client.get(created.headers["Location"], headers=COUNSELLOR)  # warm
    with statements(app) as seen:
        response = await client.get(created.headers["Location"], headers=COUNSELLOR)
    assert response.status_code == 200
    # The referral, its transitions, its scheme events.
    assert [s.verb for s in seen] == ["SELECT", "SELECT", "SELECT"]


async def test_without_the_key_looked_up_first_a_retry_is_still_a_replay(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The POST tries the creation before looking the key up: a retry whose referral stands in
    the way (still open), or no longer does (withdrawn since), gets the first answer again; the
    same key with another body is refused; nothing is created twice."""
    body = _referral(**_inline("1234567A"))
    headers = {**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/referrals", json=body, headers=headers)
    assert first.status_code == 201, first.text
    with statements(app) as seen:
        again = await client.post("/v1/referrals", json=body, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "INSERT INTO idempotency_keys" not in [s.verb for s in seen]

    withdrawn = await client.post(
        f"{first.headers['Location']}/withdraw", json={"reason": "Erreur"}, headers=COUNSELLOR
    )
    assert withdrawn.status_code == 200, withdrawn.text
    after = await client.post("/v1/referrals", json=body, headers=headers)
    assert (after.status_code, after.json()["id"]) == (201, first.json()["id"])
    assert after.headers["Idempotent-Replayed"] == "true"

    other = await client.post(
        "/v1/referrals", json=_referral("H2909", **_inline("1234567A")), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    listing = (await client.get("/v1/referrals", headers=COUNSELLOR)).json()
    assert [item["id"] for item in listing["items"]] == [first.json()["id"]]
