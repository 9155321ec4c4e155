"""A referral's timeline: the lifecycle transitions interleaved with the dispositifs events
(schemes) it went through. Plain Python."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.contracts.referral import PriorToHireAction, ReferralAction


class Scheme(enum.StrEnum):
    """France Travail schemes (dispositifs) a referral can go through."""

    IMMERSION = "immersion"
    MRS = "mrs"
    POEI = "poei"
    POEC = "poec"

    @property
    def label(self) -> str:
        return {
            Scheme.IMMERSION: "Immersion (PMSMP)",
            Scheme.MRS: "Méthode de recrutement par simulation (MRS)",
            Scheme.POEI: "POEI",
            Scheme.POEC: "POEC",
        }[self]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a referral's timeline: a lifecycle transition or a dispositifs event."""

    kind: str  # "transition" | "scheme_event"
    occurred_at: datetime
    #: The time the entry is placed at: never earlier than the transition before it, so that the
    #: timeline reads in order even when an agency's clock is behind ours.
    sort_at: datetime
    label: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoggedTransition:
    occurred_at: datetime
    label: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoggedSchemeEvent:
    occurred_at: datetime
    label: str
    payload: dict[str, Any]


def build_timeline(
    transitions: Sequence[LoggedTransition], scheme_events: Iterable[LoggedSchemeEvent]
) -> list[TimelineEntry]:
    """Interleave the transition log (kept in the order it was applied: that order *is* the
    lifecycle) with the dispositifs events (placed by the time they happened)."""
    entries: list[TimelineEntry] = []
    floor: datetime | None = None
    for transition in transitions:
        sort_at = transition.occurred_at if floor is None else max(floor, transition.occurred_at)
        floor = sort_at
        entries.append(
            TimelineEntry(
                "transition", transition.occurred_at, sort_at, transition.label, transition.payload
            )
        )
    events = sorted(scheme_events, key=lambda e: e.occurred_at)
    merged: list[TimelineEntry] = []
    i = 0
    for event in events:
        # A scheme event goes after every transition placed at or before its time.
        while i < len(entries) and entries[i].sort_at <= event.occurred_at:
            merged.append(entries[i])
            i += 1
        # Every entry already placed is at or before this event's time: it sorts at its own.
        merged.append(
            TimelineEntry(
                "scheme_event", event.occurred_at, event.occurred_at, event.label, event.payload
            )
        )
    merged.extend(entries[i:])
    return merged


# -- what a transition's line says -----------------------------------------------------------------


def _day(value: Any) -> str | None:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return None


def transition_label(action: str, details: dict[str, Any] | None = None) -> str:
    """The timeline's French line for a transition: the action's label, with what the answer
    said when it matters to the counsellor (the date to come back, the pool's trades, the action
    before hiring, the new agency, the new end date, the follow-up's answer)."""
    label = ReferralAction(action).label
    details = details or {}
    extra: str | None = None
    if action == ReferralAction.POSTPONE and (day := _day(details.get("come_back_on"))):
        extra = f"jusqu'au {day}"
    elif action == ReferralAction.ADD_TO_POOL and details.get("rome_codes"):
        extra = "métiers : " + ", ".join(str(code) for code in details["rome_codes"])
    elif action == ReferralAction.START_PRIOR_TO_HIRE and details.get("prior_action"):
        try:
            extra = PriorToHireAction(details["prior_action"]).label
        except ValueError:
            extra = None
    elif action == ReferralAction.TRANSFER and details.get("to_agency_id"):
        extra = f"vers l'agence {details['to_agency_id']}"
    elif action == ReferralAction.EXTEND_PLACEMENT and (day := _day(details.get("new_end_date"))):
        extra = f"jusqu'au {day}"
    elif action in (ReferralAction.ASK_FOLLOW_UP, ReferralAction.RECORD_FOLLOW_UP):
        months = details.get("milestone_months")
        if action == ReferralAction.RECORD_FOLLOW_UP and "still_employed" in details:
            answer = "toujours en poste" if details["still_employed"] else "plus en poste"
            extra = f"à {months} mois, {answer}"
        elif months:
            extra = f"à {months} mois"
    return f"{label} ({extra})" if extra else label
