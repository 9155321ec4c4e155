"""Every refusal an agency's answer can get is French and says what to do (issue 12, item 7):
the transition table's, the invalid data's summary, the audit's wording of the shared consumer's
envelope and registry refusals."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from referral.domain import Action, Actor, ReferralStatus, TransitionNotAllowed, apply
from referral.use_cases.networks import partner_error
from shared.contracts import agency as a
from shared.messaging.consumer import _validation_summary

ENGLISH = ("cannot", "may not", "unknown", "not allowed", "referral in state")


@pytest.mark.parametrize(
    ("state", "action", "actor"),
    list(itertools.product([None, *ReferralStatus], Action, Actor)),
)
def test_every_refused_transition_is_said_in_french(
    state: ReferralStatus | None, action: Action, actor: Actor
) -> None:
    try:
        apply(state, action, actor)
    except TransitionNotAllowed as exc:
        message = str(exc)
        assert f"« {action.label} »" in message
        assert "impossible" in message or "réservée" in message
        assert not any(word in message for word in ENGLISH), message


def test_invalid_data_is_summarised_in_french_with_the_fields_at_fault() -> None:
    with pytest.raises(ValidationError) as caught:
        a.ReferralDeclined.model_validate(
            {
                "referral_id": "pas-un-uuid",
                "agency_id": "agc-interim-nord-lille",
                "occurred_at": "2026-11-26T10:00:00",
                "reason": "busy",
            }
        )
    summary = _validation_summary(caught.value)
    assert summary.startswith("Données invalides, corrigez puis renvoyez : ")
    assert "referral_id : identifiant invalide (UUID attendu)" in summary
    assert "occurred_at : date-heure sans fuseau horaire" in summary
    assert "reason : valeur inconnue : attendu" in summary
    assert "Input should" not in summary
    assert "busy" not in summary.split("attendu")[0]  # the value is not echoed before


def test_the_audit_words_the_shared_refusals_in_french() -> None:
    error = partner_error("unknown_event_type", "unknown event type 'coop.referral.x.v9'")
    assert error.startswith("Type d'événement inconnu du contrat")
    assert error.endswith("Détail : unknown event type 'coop.referral.x.v9'")
    assert partner_error("rejected", "déjà en français") == "déjà en français"
