"""The referral world without I/O (no database, no web, no broker): the lifecycle as a transition
table, priority publics and consent, placements, the timeline, the agency suggestion's scoring and
the convention's indicators.

The names most modules need are re-exported here; the computations (:mod:`.suggestion`,
:mod:`.indicators`) are imported from their modules.
"""

from __future__ import annotations

from referral.domain.lifecycle import (
    ANSWER_ACTIONS,
    FINAL_STATUSES,
    LIFECYCLE,
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    ActionRule,
    Actor,
    ReferralStatus,
    TransitionNotAllowed,
    apply,
    transition,
)
from referral.domain.placements import (
    DURABLE_CONTRACT_TYPES,
    HardToFillSource,
    is_durable_placement,
    months_between,
)
from referral.domain.publics import (
    JEUNE_AGE_LIMIT,
    ConsentScope,
    PriorityPublic,
    age_on,
    priority_publics,
)
from referral.domain.timeline import (
    LoggedSchemeEvent,
    LoggedTransition,
    Scheme,
    TimelineEntry,
    build_timeline,
)

__all__ = [
    "ANSWER_ACTIONS",
    "DURABLE_CONTRACT_TYPES",
    "FINAL_STATUSES",
    "JEUNE_AGE_LIMIT",
    "LIFECYCLE",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Action",
    "ActionRule",
    "Actor",
    "ConsentScope",
    "HardToFillSource",
    "LoggedSchemeEvent",
    "LoggedTransition",
    "PriorityPublic",
    "ReferralStatus",
    "Scheme",
    "TimelineEntry",
    "TransitionNotAllowed",
    "age_on",
    "apply",
    "build_timeline",
    "is_durable_placement",
    "months_between",
    "priority_publics",
    "transition",
]
