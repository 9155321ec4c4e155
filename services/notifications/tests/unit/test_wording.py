"""Mails that read well (issue 12, item 10) and answers to each party (item 5), rendered from the
real templates: the métier's name, the agency's name and town, the person's name when known (their
contact consent), French dates, the agency's comment and the link for the counsellor; the decline
said plainly to the job seeker; the routing's ``when`` keeps the transitions worth telling them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from notifications.domain.catalog import ROUTING, TEMPLATES
from notifications.domain.routing import RoutingError, load_routing
from notifications.domain.wording import (
    DECLINE_FOR_JOB_SEEKER,
    EXTRA_VARIABLES,
    decline_for_job_seeker,
    referral_link,
)
from shared.contracts.referral import ReferralStatus, ReferralStatusChanged
from shared.contracts.vocabulary import ContractType, DeclineReason

STATUS_CHANGED = "coop.referral.status_changed.v1"


def _changed(to_status: ReferralStatus, **fields: Any) -> dict[str, Any]:
    data = ReferralStatusChanged(
        referral_id=uuid.UUID("6c0e7a52-32f4-4d3c-9d55-0c0c4b1f5e11"),
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        counsellor_id="conseiller.dupont",
        from_status=ReferralStatus.ACKNOWLEDGED,
        to_status=to_status,
        action="decline",
        occurred_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
        **fields,
    )
    return {name: getattr(data, name) for name in type(data).model_fields}


def _with(context: dict[str, Any], **extras: Any) -> dict[str, Any]:
    return {**dict.fromkeys(EXTRA_VARIABLES), **context, **extras}


NAMED = {
    "rome_label": "Soudeur / Soudeuse",
    "agency_name": "Intérim Nord",
    "agency_town": "Lille",
    "person_name": "Inès Lefebvre",
    "referral_url": "https://conseiller.example/orientations/6c0e",
}


def test_the_counsellor_reads_the_metier_the_agency_the_person_the_comment_and_the_link() -> None:
    context = _with(
        _changed(
            ReferralStatus.DECLINED,
            decline_reason=DeclineReason.LACKING_SKILLS,
            comment="Il manque la qualification TIG.",
        ),
        salutation="Bonjour Julie Conseil,",
        **NAMED,
    )
    mail = TEMPLATES.render("referral_status_changed_counsellor", "email", context)
    assert mail.subject == (
        "Orientation déclinée par l'agence — Inès Lefebvre — Intérim Nord (Lille)"
    )
    assert "L'orientation de Inès Lefebvre vers l'agence Intérim Nord (Lille)" in mail.body
    assert "au métier de Soudeur / Soudeuse" in mail.body
    assert "Motif indiqué par l'agence : Compétences insuffisantes pour le poste." in mail.body
    assert "Commentaire de l'agence : Il manque la qualification TIG." in mail.body
    assert "Mise à jour du mercredi 4 mars 2026." in mail.body
    assert "Suivre l'orientation : https://conseiller.example/orientations/6c0e" in mail.body
    inbox = TEMPLATES.render("referral_status_changed_counsellor", "inbox", context)
    assert "Commentaire de l'agence : Il manque la qualification TIG." in inbox.body


def test_without_consent_or_names_the_counsellor_reads_ids_and_no_person() -> None:
    context = _with(_changed(ReferralStatus.ACCEPTED), salutation="Bonjour,")
    mail = TEMPLATES.render("referral_status_changed_counsellor", "email", context)
    assert "agc-interim-nord-lille" in mail.subject
    assert " de " not in mail.body.split("vers")[0]  # nobody named
    assert "6c0e7a52-32f4-4d3c-9d55-0c0c4b1f5e11" in mail.body


def test_the_job_seeker_reads_the_decline_plainly_without_the_agency_comment() -> None:
    context = _with(
        _changed(
            ReferralStatus.DECLINED,
            decline_reason=DeclineReason.NO_POSITION,
            comment="Profil hors cible.",
        ),
        salutation="Bonjour Inès Lefebvre,",
        **NAMED,
    )
    mail = TEMPLATES.render("referral_answered_job_seeker", "email", context)
    assert mail.subject == "Votre candidature à l'agence d'emploi Intérim Nord (Lille)"
    assert mail.body.startswith("Bonjour Inès Lefebvre,")
    assert "ne peut pas donner suite à votre candidature pour le métier de Soudeur" in mail.body
    assert "l'agence n'a pas de poste ouvert pour ce métier en ce moment" in mail.body
    assert "Profil hors cible" not in mail.body
    assert "Compétences" not in mail.body
    assert "Pas de poste ouvert" not in mail.body


@pytest.mark.parametrize(
    ("to_status", "fields", "expected"),
    [
        (ReferralStatus.ACCEPTED, {}, "retient votre candidature"),
        (
            ReferralStatus.INTERVIEW_SCHEDULED,
            {"details": {"interview_at": "2026-03-05T14:30:00+01:00", "location": "Lille"}},
            "Rendez-vous le jeudi 5 mars 2026 à 14 h 30, à l'adresse : Lille.",
        ),
        (
            ReferralStatus.PLACED,
            {"contract_type": ContractType.MISSION, "placement_start_date": date(2026, 3, 9)},
            "à partir du lundi 9 mars 2026",
        ),
    ],
)
def test_the_job_seeker_reads_each_answer_worth_telling(
    to_status: ReferralStatus, fields: dict[str, Any], expected: str
) -> None:
    context = _with(_changed(to_status, **fields), salutation="Bonjour,")
    mail = TEMPLATES.render("referral_answered_job_seeker", "email", context)
    assert expected in mail.body
    assert "agc-interim-nord-lille" not in mail.subject + mail.body  # never an id to a person


def test_the_routing_tells_the_job_seeker_only_the_transitions_worth_telling() -> None:
    audiences = {
        status: {rule.audience for rule in ROUTING.rules_for(STATUS_CHANGED, _changed(status))}
        for status in ReferralStatus
    }
    told = {status.value for status, names in audiences.items() if "job_seeker" in names}
    # The lifecycle in full's states are told too once the referral service has them.
    later = {"postponed", "pool", "prior_to_hire", "hire_cancelled"}
    assert told == {"accepted", "interview_scheduled", "placed", "declined"} | (
        later & {s.value for s in ReferralStatus}
    )
    assert all("counsellor" in names for names in audiences.values())


def test_a_malformed_when_is_refused() -> None:
    with pytest.raises(RoutingError, match="when"):
        load_routing(
            '[[rule]]\ntrigger = "coop.referral.sent.v1"\naudience = "agency"\n'
            'channels = ["email"]\ntemplate = "referral_sent_agency"\nkind = "k"\n'
            "when = { to_status = [] }\n"
        )


def test_every_decline_reason_has_a_plain_phrase_for_the_job_seeker() -> None:
    assert set(DECLINE_FOR_JOB_SEEKER) == set(DeclineReason)
    assert decline_for_job_seeker(None) == DECLINE_FOR_JOB_SEEKER[DeclineReason.OTHER]
    assert decline_for_job_seeker("not_mobile").startswith("le poste est trop loin")


def test_the_referral_link_is_a_setting() -> None:
    assert referral_link(None, uuid.uuid4()) is None
    assert referral_link("https://x.example/o/{referral_id}", "abc") == "https://x.example/o/abc"


def _placed_again(action: str, **details: Any) -> dict[str, Any]:
    """A placed referral's answer that leaves it placed (an extension, a follow-up answer)."""
    return {
        **_changed(
            ReferralStatus.PLACED,
            contract_type=ContractType.CDD,
            placement_start_date=date(2026, 1, 5),
            placement_end_date=date(2026, 7, 4),
            details=details,
        ),
        "from_status": ReferralStatus.PLACED,
        "action": action,
    }


def test_a_follow_up_answer_is_not_a_new_hire_for_the_job_seeker() -> None:
    # "Toujours en poste ?" answered by the agency: nothing new for the job seeker, who would
    # otherwise read "Vous commencez à travailler… Bonne prise de poste !" again.
    follow_up = _placed_again("record_follow_up", milestone_months=3, still_employed=True)
    audiences = {rule.audience for rule in ROUTING.rules_for(STATUS_CHANGED, follow_up)}
    assert "job_seeker" not in audiences
    assert "counsellor" in audiences
    mail = TEMPLATES.render(
        "referral_status_changed_counsellor",
        "email",
        _with(follow_up, salutation="Bonjour,", **NAMED),
    )
    assert "Suivi à 3 mois : toujours en poste." in mail.body
    gone = _placed_again("record_follow_up", milestone_months=6, still_employed=False)
    inbox = TEMPLATES.render("referral_status_changed_counsellor", "inbox", _with(gone, **NAMED))
    assert "Suivi à 6 mois : plus en poste." in inbox.body


def test_an_extension_reads_as_an_extension_not_a_new_hire() -> None:
    extended = _placed_again("extend_placement", new_end_date="2026-07-04")
    assert "job_seeker" in {rule.audience for rule in ROUTING.rules_for(STATUS_CHANGED, extended)}
    mail = TEMPLATES.render(
        "referral_answered_job_seeker",
        "email",
        _with(extended, salutation="Bonjour Inès Lefebvre,", **NAMED),
    )
    assert "Votre contrat avec l'agence d'emploi Intérim Nord (Lille)" in mail.subject
    assert "est prolongé jusqu'au samedi 4 juillet 2026" in mail.body
    assert "Bonne prise de poste" not in mail.body
    assert "Vous commencez" not in mail.body
    counsellor = TEMPLATES.render(
        "referral_status_changed_counsellor",
        "email",
        _with(extended, salutation="Bonjour,", **NAMED),
    )
    assert "Contrat prolongé jusqu'au samedi 4 juillet 2026." in counsellor.body


def test_the_agency_may_keep_the_decline_reason_from_the_job_seeker() -> None:
    """As les emplois de l'inclusion's ``refusal_reason_shared_with_job_seeker``: the agency's
    choice (``reason_shared_with_job_seeker`` of its decline, in the answer's details)."""
    kept = _changed(
        ReferralStatus.DECLINED,
        decline_reason=DeclineReason.NOT_ELIGIBLE,
        details={"reason": "not_eligible", "reason_shared_with_job_seeker": False},
    )
    mail = TEMPLATES.render(
        "referral_answered_job_seeker", "email", _with(kept, salutation="Bonjour,", **NAMED)
    )
    assert "ne peut pas donner suite à votre candidature pour le métier de Soudeur" in mail.body
    assert DECLINE_FOR_JOB_SEEKER[DeclineReason.NOT_ELIGIBLE] not in mail.body
    assert "votre conseiller France Travail en est informé" in mail.body
    counsellor = TEMPLATES.render(
        "referral_status_changed_counsellor", "email", _with(kept, salutation="Bonjour,", **NAMED)
    )
    # The counsellor always reads the reason, and that it was kept from the job seeker.
    assert (
        f"Motif indiqué par l'agence : {DeclineReason.NOT_ELIGIBLE.label} (l'agence ne souhaite"
        " pas qu'il soit transmis au candidat)." in counsellor.body
    )
    shared = {**kept, "details": {"reason": "not_eligible", "reason_shared_with_job_seeker": True}}
    mail = TEMPLATES.render(
        "referral_answered_job_seeker", "email", _with(shared, salutation="Bonjour,", **NAMED)
    )
    assert DECLINE_FOR_JOB_SEEKER[DeclineReason.NOT_ELIGIBLE] in mail.body
    counsellor = TEMPLATES.render(
        "referral_status_changed_counsellor", "email", _with(shared, salutation="Bonjour,", **NAMED)
    )
    assert "transmis au candidat" not in counsellor.body


def test_a_transfer_names_both_agencies_not_their_ids() -> None:
    """The transfer's mails name the agency that handed the referral over and the one it went
    to (both carried by ``coop.referral.agency_changed.v1``), not their directory ids."""
    from shared.contracts.referral import ReferralAgencyChanged

    data = ReferralAgencyChanged(
        referral_id=uuid.UUID("6c0e7a52-32f4-4d3c-9d55-0c0c4b1f5e11"),
        agency_id="agc-interim-nord-arras",
        network_id="interim-nord",
        counsellor_id="conseiller.dupont",
        from_agency_id="agc-interim-nord-lille",
        from_status=ReferralStatus.ACKNOWLEDGED,
        to_status=ReferralStatus.TRANSFERRED,
        transferred_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
        agency_name="Intérim Nord — Arras",
        agency_town="Arras",
        from_agency_name="Intérim Nord — Lille",
    )
    context = _with(
        {name: getattr(data, name) for name in type(data).model_fields},
        salutation="Bonjour,",
        rome_label="Soudeur / Soudeuse",
    )
    for template in ("referral_transferred_counsellor", "referral_transferred_agency"):
        mail = TEMPLATES.render(template, "email", context)
        assert "Intérim Nord — Lille" in mail.body
        assert "agc-interim-nord" not in mail.subject + mail.body
    counsellor = TEMPLATES.render("referral_transferred_counsellor", "email", context)
    assert (
        "par l'agence Intérim Nord — Lille à l'agence Intérim Nord — Arras du même réseau"
        in counsellor.body
    )
