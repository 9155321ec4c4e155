"""An agency's request for a scheme (PMSMP, MRS, POEI) on a France Travail hard-to-fill offer
(issue 16, item 5), as the dispositifs service keeps it: open when it arrives from the referral
service, then taken on by a counsellor of the offer's structure (who finds candidates and starts
the scheme with them: an immersion, an MRS session, a POEI enrolment, each needing a referral),
or dismissed. No candidate is known at this stage, so no personal data.

Plain Python: no I/O."""

from __future__ import annotations

import enum

from dispositifs.domain.immersion import Actor
from shared.domain.transitions import Transition, TransitionTable


class OfferRequestStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    DISMISSED = "dismissed"


_R = OfferRequestStatus
_COUNSELLOR = frozenset({Actor.COUNSELLOR.value})

#: Opened by this service (the event), then taken on or dismissed by a counsellor, once.
OFFER_REQUEST_LIFECYCLE: TransitionTable[OfferRequestStatus] = TransitionTable(
    "demande pour une offre en tension",
    [
        Transition("open", frozenset({None}), _R.OPEN, frozenset({Actor.SYSTEM.value})),
        Transition("take", frozenset({_R.OPEN}), _R.TAKEN, _COUNSELLOR, label="Prise en charge"),
        Transition("dismiss", frozenset({_R.OPEN}), _R.DISMISSED, _COUNSELLOR, label="Écartée"),
    ],
)
