"""MRS (méthode de recrutement par simulation): France Travail evaluates candidates on the
habiletés the post needs, by exercises reproducing it, without CV, diploma or experience.

A session assesses a subset of the referential's habiletés; each candidate gets a result per
habileté and an overall result; candidates evaluated positively meet the employer, whose hiring
decision is recorded. Method rules, not legal ones: no article.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from dispositifs.domain.immersion import Actor
from shared.domain.errors import Violation
from shared.domain.transitions import Transition, TransitionTable


class CandidateStage(enum.StrEnum):
    """Where an MRS candidate stands, read from their results and the employer's decision."""

    REGISTERED = "registered"
    POSITIVE = "evaluated_positive"
    NEGATIVE = "evaluated_negative"
    HIRED = "hired"
    NOT_HIRED = "not_hired"


def candidate_stage(positive: bool | None, hired: bool | None) -> CandidateStage:
    if positive is None:
        return CandidateStage.REGISTERED
    if not positive:
        return CandidateStage.NEGATIVE
    if hired is None:
        return CandidateStage.POSITIVE
    return CandidateStage.HIRED if hired else CandidateStage.NOT_HIRED


_C = CandidateStage
_COUNSELLOR = frozenset({Actor.COUNSELLOR.value})

#: A candidate is evaluated once; the employer meets the positively evaluated ones and decides
#: once; a placement on the candidate's referral means they were hired (even after a "no").
CANDIDATE_LIFECYCLE: TransitionTable[CandidateStage] = TransitionTable(
    "candidat MRS",
    [
        Transition("evaluate_positive", frozenset({_C.REGISTERED}), _C.POSITIVE, _COUNSELLOR),
        Transition("evaluate_negative", frozenset({_C.REGISTERED}), _C.NEGATIVE, _COUNSELLOR),
        Transition("hire", frozenset({_C.POSITIVE}), _C.HIRED, _COUNSELLOR),
        Transition("not_hire", frozenset({_C.POSITIVE}), _C.NOT_HIRED, _COUNSELLOR),
        Transition(
            "placed",
            frozenset({_C.POSITIVE, _C.NOT_HIRED}),
            _C.HIRED,
            frozenset({Actor.SYSTEM.value}),
        ),
    ],
)


def evaluation_action(positive: bool) -> str:
    return "evaluate_positive" if positive else "evaluate_negative"


def decision_action(hired: bool) -> str:
    return "hire" if hired else "not_hire"


def check_session_habiletes(
    codes: Sequence[str], referential: Mapping[str, str]
) -> list[Violation]:
    found = []
    if not codes:
        found.append(
            Violation("mrs.habiletes", "habiletes", "une session évalue au moins une habileté")
        )
    if len(set(codes)) != len(codes):
        found.append(Violation("mrs.habiletes", "habiletes", "habileté citée deux fois"))
    unknown = [code for code in codes if code not in referential]
    if unknown:
        found.append(
            Violation(
                "mrs.habiletes",
                "habiletes",
                f"habileté(s) hors du référentiel : {', '.join(unknown)}",
            )
        )
    return found


def check_capacity(registered: int, capacity: int) -> list[Violation]:
    if registered >= capacity:
        return [
            Violation(
                "mrs.capacity", "job_seeker_id", f"session complète ({capacity} places occupées)"
            )
        ]
    return []


def check_evaluation(
    results: Mapping[str, bool], session_habiletes: Sequence[str]
) -> list[Violation]:
    """A result for each habileté of the session, and only for those."""
    missing = [code for code in session_habiletes if code not in results]
    extra = [code for code in results if code not in session_habiletes]
    found = []
    if missing:
        found.append(
            Violation("mrs.evaluation", "results", f"résultat manquant : {', '.join(missing)}")
        )
    if extra:
        found.append(
            Violation(
                "mrs.evaluation",
                "results",
                f"habileté(s) non évaluée(s) dans cette session : {', '.join(extra)}",
            )
        )
    return found


def overall_result(results: Mapping[str, bool], *, min_share: float) -> bool:
    """Positive when at least ``min_share`` of the habiletés are acquired (1.0: all of them)."""
    if not results:
        return False
    acquired = sum(1 for ok in results.values() if ok)
    return acquired >= min_share * len(results) - 1e-9


def check_evaluation_open(stage: CandidateStage, positive: bool) -> list[Violation]:
    """A candidate is evaluated once."""
    if CANDIDATE_LIFECYCLE.find(evaluation_action(positive), stage) is None:
        return [Violation("mrs.evaluation", "results", "candidat déjà évalué")]
    return []


def check_decision_open(stage: CandidateStage, hired: bool) -> list[Violation]:
    """The employer decides once, on a positively evaluated candidate."""
    if CANDIDATE_LIFECYCLE.find(decision_action(hired), stage) is not None:
        return []
    if stage in {CandidateStage.HIRED, CandidateStage.NOT_HIRED}:
        return [Violation("mrs.decision", "hired", "décision déjà enregistrée")]
    return check_hiring_decision(None if stage is CandidateStage.REGISTERED else False)


def check_hiring_decision(positive: bool | None) -> list[Violation]:
    if positive is None:
        return [Violation("mrs.decision", "hired", "le candidat n'a pas encore été évalué")]
    if not positive:
        return [
            Violation(
                "mrs.decision",
                "hired",
                "seuls les candidats évalués positivement rencontrent l'employeur",
            )
        ]
    return []
