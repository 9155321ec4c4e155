"""What makes a mail read well besides the event's own fields (issue 12, item 10): the métier's
name rather than its ROME code, the agency's name and town rather than its id, the person's name
where their consent allows, a link to the referral in the counsellor's tool — and, for the job
seeker, an agency's decline said plainly (as les emplois de l'inclusion's
``refusal_reason_shared_with_job_seeker``).

Plain Python: :mod:`notifications.use_cases.messages` finds the values, templates print them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from shared.contracts.vocabulary import DeclineReason

#: The variables every template may use besides the event's fields, with example values (the
#: start-up check renders every template with them set, and with them all None).
EXTRA_VARIABLES: Mapping[str, Any] = MappingProxyType(
    {
        "rome_label": "Chaudronnier / Chaudronnière",
        "agency_name": "Intérim Nord — Lille",
        "agency_town": "Lille",
        "person_name": "Camille Martin",
        "referral_url": "https://conseiller.example/orientations/3f1c",
    }
)

#: Audiences a message may name the job seeker to: the job seeker themself, and their own
#: counsellor — and only when the notifications service knows the name, which it learns with
#: the contact consent alone. An agency learns the name on its feed, as consented, not by mail.
NAMED_TO = frozenset({"job_seeker", "counsellor"})

#: An agency's decline, as the job seeker reads it: plain, never blaming, saying what comes next.
DECLINE_FOR_JOB_SEEKER: Mapping[DeclineReason, str] = MappingProxyType(
    {
        DeclineReason.DID_NOT_COME: "l'agence n'a pas réussi à vous joindre",
        DeclineReason.DID_NOT_COME_TO_INTERVIEW: "l'agence ne vous a pas vu à l'entretien prévu",
        DeclineReason.HIRED_ELSEWHERE: "l'agence a appris que vous aviez déjà trouvé un emploi",
        DeclineReason.TRAINING: "l'agence a appris que vous suiviez une formation",
        DeclineReason.NOT_ELIGIBLE: "le poste demande des conditions que votre situation ne "
        "remplit pas pour l'instant",
        DeclineReason.NOT_MOBILE: "le poste est trop loin ou difficile d'accès pour vous",
        DeclineReason.NOT_INTERESTED: "vous avez indiqué que le poste ne vous intéressait pas",
        DeclineReason.LACKING_SKILLS: "le poste demande des compétences que vous pourrez "
        "acquérir, par exemple par une formation",
        DeclineReason.INCOMPATIBLE: "les conditions du poste ne conviennent pas à votre "
        "situation actuelle",
        DeclineReason.NO_POSITION: "l'agence n'a pas de poste ouvert pour ce métier en ce moment",
        DeclineReason.DUPLICATE: "votre candidature était déjà connue de l'agence",
        DeclineReason.OTHER: "l'agence ne peut pas donner suite pour le moment",
    }
)


def decline_for_job_seeker(reason: DeclineReason | str | None) -> str:
    """The decline reason as the job seeker reads it (template filter)."""
    if reason is None:
        return DECLINE_FOR_JOB_SEEKER[DeclineReason.OTHER]
    return DECLINE_FOR_JOB_SEEKER[DeclineReason(getattr(reason, "value", reason))]


def referral_link(template: str | None, referral_id: object) -> str | None:
    """The counsellor tool's page of the referral (``…/orientations/{referral_id}``), if set."""
    if not template or referral_id is None:
        return None
    return template.replace("{referral_id}", str(referral_id))
