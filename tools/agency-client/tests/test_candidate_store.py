"""What the reference client holds of candidates follows the feed's consent and erasure events:
a withdrawal deletes the identity (or only the RQTH), an erasure instruction deletes every
referral it names (issue 11). Pure: events built from the contract models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agency_client.client import CandidateStore, describe
from shared.contracts.agency_feed import Candidate, ReferralReceived
from shared.contracts.base import EventData
from shared.contracts.erasure import (
    AgencyErasureInstruction,
    CandidateIdentityShared,
    CandidateIdentityWithdrawn,
)
from shared.envelope import CloudEvent

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
CANDIDATE = Candidate(ft_identifier="1234567A", first_name="Léa", last_name="Roy", rqth=True)


def _event(data: EventData) -> CloudEvent:
    return CloudEvent(
        type=data.event_type, source="/coop/referral", data=data.model_dump(mode="json")
    )


def _received(referral_id: uuid.UUID, candidate: Candidate | None) -> CloudEvent:
    return _event(
        ReferralReceived(
            referral_id=referral_id,
            agency_id="agc-a",
            network_id="net-a",
            rome_code="H2913",
            message="Bonjour",
            identity_shared=candidate is not None,
            candidate=candidate,
            sent_at=NOW,
        )
    )


def test_withdrawal_and_erasure_delete_what_the_erp_holds() -> None:
    store = CandidateStore()
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    store.apply(_received(first, CANDIDATE))
    store.apply(_received(second, None))
    assert set(store.candidates) == {str(first)}
    store.apply(
        _event(
            CandidateIdentityShared(
                referral_id=second,
                agency_id="agc-a",
                network_id="net-a",
                candidate=CANDIDATE,
                shared_at=NOW,
            )
        )
    )
    store.apply(_received(third, CANDIDATE))
    assert set(store.candidates) == {str(first), str(second), str(third)}

    rqth_only = _event(
        CandidateIdentityWithdrawn(
            referral_id=first,
            agency_id="agc-a",
            network_id="net-a",
            withdrawn=["rqth"],
            withdrawn_at=NOW,
        )
    )
    assert store.apply(rqth_only) == [str(first)]
    assert "rqth" not in store.candidates[str(first)]
    assert store.candidates[str(first)]["last_name"] == "Roy"

    identity = _event(
        CandidateIdentityWithdrawn(
            referral_id=first,
            agency_id="agc-a",
            network_id="net-a",
            withdrawn=["identity", "rqth"],
            withdrawn_at=NOW,
        )
    )
    assert store.apply(identity) == [str(first)]
    assert str(first) not in store.candidates

    erasure = _event(
        AgencyErasureInstruction(
            erasure_id=uuid.uuid4(),
            network_id="net-a",
            referral_ids=[second, third],
            requested_at=NOW,
        )
    )
    assert sorted(store.apply(erasure)) == sorted([str(second), str(third)])
    assert store.candidates == {}
    assert describe(erasure).startswith("[effacement]")
