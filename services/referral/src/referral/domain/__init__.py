"""The referral world without I/O (no database, no web, no broker): the lifecycle as a transition
table, priority publics and consent, placements, the timeline, the agency suggestion's scoring and
the convention's indicators.

The names most modules need are re-exported here; the computations (:mod:`.suggestion`,
:mod:`.indicators`) are imported from their modules.
"""

from __future__ import annotations

from referral.domain.lifecycle import (
    ANSWER_ACTIONS,
    ENDED_STATUSES,
    FINAL_STATUSES,
    LIFECYCLE,
    OPEN_STATUSES,
    STALE_WATCHED,
    TRANSITIONS,
    Action,
    ActionRule,
    Actor,
    PriorToHireAction,
    ReferralStatus,
    TransitionNotAllowed,
    apply,
    transition,
)
from referral.domain.placements import (
    DURABLE_CONTRACT_TYPES,
    FOLLOW_UP_MONTHS,
    HardToFillSource,
    follow_up_due,
    is_durable_placement,
    months_between,
)
from referral.domain.publics import (
    JEUNE_AGE_LIMIT,
    ConsentScope,
    PriorityPublic,
    PublicsRules,
    age_on,
    priority_publics,
)
from referral.domain.timeline import (
    LoggedSchemeEvent,
    LoggedTransition,
    Scheme,
    TimelineEntry,
    build_timeline,
    transition_label,
)

__all__ = [
    "ANSWER_ACTIONS",
    "DURABLE_CONTRACT_TYPES",
    "ENDED_STATUSES",
    "FINAL_STATUSES",
    "FOLLOW_UP_MONTHS",
    "JEUNE_AGE_LIMIT",
    "LIFECYCLE",
    "OPEN_STATUSES",
    "STALE_WATCHED",
    "TRANSITIONS",
    "Action",
    "ActionRule",
    "Actor",
    "ConsentScope",
    "HardToFillSource",
    "LoggedSchemeEvent",
    "LoggedTransition",
    "PriorToHireAction",
    "PriorityPublic",
    "PublicsRules",
    "ReferralStatus",
    "Scheme",
    "TimelineEntry",
    "TransitionNotAllowed",
    "age_on",
    "apply",
    "build_timeline",
    "follow_up_due",
    "is_durable_placement",
    "months_between",
    "priority_publics",
    "transition",
    "transition_label",
]
