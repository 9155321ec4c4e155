"""What every router of the service uses: the runtime (sessions, transactions) and the roles.

Domain refusals are mapped to problem+json once, by the shared app factory.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query

from notifications.adapters.webhook import target_rules
from notifications.adapters.webhook_targets import TargetRules
from notifications.domain.delivery import DELIVERY_STATUSES
from notifications.domain.routing import AUDIENCES
from notifications.settings import NotificationsSettings
from shared.auth.tokens import Principal, Role
from shared.http.app import RuntimeDep
from shared.http.pagination import CursorQuery, LimitQuery
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

Runtime = RuntimeDep

#: Ops: messages, deliveries, retries, the directory.
Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
#: A recipient reading their own in-app messages and preferences (counsellor tools, agencies).
Reader = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.AGENCY))]

DeliveryStatusName = Literal["pending", "delivered", "failed", "skipped"]
assert set(DeliveryStatusName.__args__) == set(DELIVERY_STATUSES)  # type: ignore[attr-defined]
RecipientKind = Literal["agency", "counsellor", "tutor", "job_seeker", "organisation"]
assert set(RecipientKind.__args__) == set(AUDIENCES)  # type: ignore[attr-defined]

KindPath = Annotated[
    RecipientKind, Path(description="agency | counsellor | tutor | job_seeker | organisation")
]
#: A recipient's id, at most what ``recipients.id`` holds (``String(255)``; issue 10).
RecipientIdPath = Annotated[str, Path(max_length=255, description="Identifiant du contact.")]
#: Ops listings: up to 500 a page (as they always allowed; other lists: ``LimitQuery``, 200).
OpsLimit = Annotated[int, Query(ge=1, le=500)]
#: The in-app list: up to 200 a page.
InAppLimit = LimitQuery
Cursor = CursorQuery


def webhook_targets(runtime: ServiceRuntime) -> TargetRules:
    """Which webhook URLs may be registered, from the service's settings."""
    settings = runtime.settings
    assert isinstance(settings, NotificationsSettings)
    return target_rules(settings)
