"""Consent evidence (DESIGN.md "Personal data and access"): the channel through which the job
seeker gave it and the version of the text they were read. The time and the person who recorded
it are the server's. Plain Python."""

from __future__ import annotations

import enum

from referral.domain.publics import ConsentScope


class ConsentChannel(enum.StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    WRITTEN = "written"

    @property
    def label(self) -> str:
        return {
            ConsentChannel.IN_PERSON: "En entretien",
            ConsentChannel.PHONE: "Par téléphone",
            ConsentChannel.WRITTEN: "Par écrit",
        }[self]


#: The text read to the job seeker for each scope, and its version (recorded with the consent).
CONSENT_TEXTS: dict[ConsentScope, tuple[str, str]] = {
    ConsentScope.IDENTITY: (
        "2026-11-v1",
        "J'accepte que mon identité et mes coordonnées soient transmises à cette agence d'emploi "
        "pour cette orientation. Je peux retirer ce consentement à tout moment.",
    ),
    ConsentScope.RQTH: (
        "2026-11-v1",
        "J'accepte que ma reconnaissance de la qualité de travailleur handicapé (RQTH) soit "
        "transmise à cette agence d'emploi pour cette orientation uniquement.",
    ),
    ConsentScope.CONTACT: (
        "2026-11-v1",
        "J'accepte d'être contacté par la plateforme au sujet de mes orientations.",
    ),
}


def text_version(scope: ConsentScope) -> str:
    return CONSENT_TEXTS[scope][0]


#: Scopes given to one agency, for one referral (contact is given to the platform).
AGENCY_SCOPES = frozenset({ConsentScope.IDENTITY, ConsentScope.RQTH})
