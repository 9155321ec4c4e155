"""MRS (méthode de recrutement par simulation): France Travail evaluates candidates on the
habiletés the post needs, by exercises reproducing it, without CV, diploma or experience.

A session assesses a subset of the referential's habiletés; each candidate gets a result per
habileté and an overall result; candidates evaluated positively meet the employer, whose hiring
decision is recorded. Method rules, not legal ones: no article.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispositifs.domain.violations import Violation


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
