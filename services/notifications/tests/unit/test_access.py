"""The visibility policy, without a store: whose messages a caller reads, who may do what."""

from __future__ import annotations

import pytest

from notifications import access
from shared.auth.tokens import Principal, Role
from shared.domain.errors import Forbidden

COUNSELLOR = Principal(subject="conseiller.dupont", role=Role.COUNSELLOR, ft_structure="75101")
AGENCY = Principal(subject="erp", role=Role.AGENCY, agency_id="agc-interim-nord-lille")
OPS = Principal(subject="ops", role=Role.OPS)


def test_a_counsellor_reads_their_own_messages_an_agency_its_agency_s() -> None:
    assert access.own_recipient(COUNSELLOR) == ("counsellor", "conseiller.dupont")
    assert access.own_recipient(AGENCY) == ("agency", "agc-interim-nord-lille")
    assert access.sees_everything(OPS)
    assert not access.sees_everything(COUNSELLOR)
    assert not access.sees_everything(AGENCY)


def test_preferences_are_changed_by_their_owner_or_ops() -> None:
    access.ensure_may_change_preferences(COUNSELLOR, "counsellor", "conseiller.dupont")
    access.ensure_may_change_preferences(OPS, "agency", "agc-other")
    with pytest.raises(Forbidden):
        access.ensure_may_change_preferences(COUNSELLOR, "counsellor", "conseiller.martin")
    with pytest.raises(Forbidden):
        access.ensure_may_change_preferences(AGENCY, "agency", "agc-other")


def test_the_directory_is_ops_and_sending_is_the_platform_s() -> None:
    access.ensure_manages_directory(OPS)
    with pytest.raises(Forbidden):
        access.ensure_manages_directory(AGENCY)
    access.ensure_platform(access.SYSTEM)
    with pytest.raises(Forbidden):
        access.ensure_platform(OPS)
    assert access.delivery_actor(access.SYSTEM) == "system"
    assert access.delivery_actor(OPS) == "ops"
