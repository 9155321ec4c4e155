"""The skills-gap pathway: when an agency declines a referral for lacking skills, or training is
asked for, propose the fitting scheme, and say which rule chose it.

Order: a POEI when an offer and its employer exist (the shortest way to that hire); else a POEC
when a branch session is open for the métier; else an immersion to confirm the project.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from dispositifs.domain.immersion import ART_OBJET, Actor
from dispositifs.domain.training import ART_POEC, ART_POEI
from shared.domain.errors import Violation
from shared.domain.transitions import Transition, TransitionTable


class Scheme(enum.StrEnum):
    IMMERSION = "immersion"
    POEI = "poei"
    POEC = "poec"


class ProposalTrigger(enum.StrEnum):
    DECLINED_LACKING_SKILLS = "declined_lacking_skills"
    TRAINING_REQUESTED = "training_requested"


class ProposalStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


_P = ProposalStatus
_COUNSELLOR = frozenset({Actor.COUNSELLOR.value})

#: A proposal is made by this service (a decline for lacking skills) or at a counsellor's request,
#: then accepted, or dismissed with a reason, once.
PROPOSAL_LIFECYCLE: TransitionTable[ProposalStatus] = TransitionTable(
    "proposition",
    [
        Transition(
            "propose",
            frozenset({None}),
            _P.PROPOSED,
            frozenset({Actor.SYSTEM.value, Actor.COUNSELLOR.value}),
        ),
        Transition("accept", frozenset({_P.PROPOSED}), _P.ACCEPTED, _COUNSELLOR),
        Transition(
            "dismiss",
            frozenset({_P.PROPOSED}),
            _P.DISMISSED,
            _COUNSELLOR,
            justification_required=True,
        ),
    ],
)


def check_decision(
    current: ProposalStatus, *, accept: bool, comment: str | None
) -> list[Violation]:
    """A proposal is decided once; dismissing it needs a reason."""
    step = PROPOSAL_LIFECYCLE.find("accept" if accept else "dismiss", current)
    if step is None:
        return [Violation("pathway.decided", "status", f"proposition déjà {current.value}")]
    if step.justification_required and not (comment and comment.strip()):
        return [
            Violation("pathway.dismissal", "comment", "écarter une proposition demande un motif")
        ]
    return []


@dataclass(frozen=True, slots=True)
class Proposal:
    scheme: Scheme
    rule: str
    reason: str
    poec_session_id: uuid.UUID | None = None


def propose_scheme(*, offer_id: str | None, open_poec_session_id: uuid.UUID | None) -> Proposal:
    if offer_id:
        return Proposal(
            Scheme.POEI,
            "pathway.poei_offer_and_employer",
            f"Une offre et son employeur existent : POEI avant l'embauche ({ART_POEI}).",
        )
    if open_poec_session_id is not None:
        return Proposal(
            Scheme.POEC,
            "pathway.poec_branch_session_open",
            f"Une session POEC de branche est ouverte pour ce métier ({ART_POEC}).",
            open_poec_session_id,
        )
    return Proposal(
        Scheme.IMMERSION,
        "pathway.immersion_confirm_project",
        "Ni offre ni session POEC ouverte : une immersion (PMSMP) pour confirmer le projet "
        f"professionnel ({ART_OBJET}).",
    )
