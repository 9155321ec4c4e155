"""The one visibility policy of the notifications service: who may read or change which row.

- A message (``notifications``) and its deliveries are personal data of their recipient. Ops see
  and manage every one; a counsellor sees the in-app messages addressed to them (their token
  subject), an agency user those addressed to their agency — nobody else's, and someone else's
  message is as unknown as a missing one (404).
- The directory (contacts, webhooks) and retries are managed by ops only.
- Preferences: a caller changes their own (the recipient their token designates), ops anyone's.
- Following events, recording messages and reminders, sending: the platform itself
  (:data:`SYSTEM`: the consumers and the periodic jobs), nobody else.

Every query of :mod:`notifications.use_cases.queries` and every use case goes through here: no
router filters rows itself.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, true

from notifications.domain.delivery import Channel, DeliveryActor, DeliveryStatus
from notifications.models import Delivery, Notification
from shared.auth.tokens import Principal, Role
from shared.domain.errors import Forbidden

#: The platform itself: the consumers and the periodic jobs (delivery worker, reminders).
SYSTEM = Principal(subject="system:notifications", role=Role.OPS)


def own_recipient(principal: Principal) -> tuple[str, str]:
    """The recipient the caller is: a counsellor's own (token subject), an agency's."""
    if principal.role is Role.AGENCY and principal.agency_id:
        return "agency", principal.agency_id
    return "counsellor", principal.subject


def sees_everything(principal: Principal) -> bool:
    return principal.role is Role.OPS


def messages_visible_to(principal: Principal) -> ColumnElement[bool]:
    """The messages (and, joined, their deliveries) the caller may read: ops every one, anyone
    else those addressed to them."""
    if sees_everything(principal):
        return true()
    return addressed_to(principal)


def addressed_to(principal: Principal) -> ColumnElement[bool]:
    """The messages addressed to the caller (their own in-app messages, whatever their role)."""
    kind, recipient_id = own_recipient(principal)
    return and_(Notification.recipient_kind == kind, Notification.recipient_id == recipient_id)


def in_app_delivered() -> ColumnElement[bool]:
    """Join condition: the message's in-app delivery is done (it shows in ``GET /v1/inbox``)."""
    return and_(
        Delivery.notification_id == Notification.id,
        Delivery.channel == Channel.IN_APP.value,
        Delivery.status == DeliveryStatus.DELIVERED.value,
    )


def delivery_actor(principal: Principal) -> DeliveryActor:
    """Who moves a delivery: the platform itself (consumers, jobs), or ops."""
    return DeliveryActor.SYSTEM if principal == SYSTEM else DeliveryActor.OPS


def ensure_platform(principal: Principal) -> None:
    """What only the platform itself does: follow events, record messages and reminders, send."""
    if principal != SYSTEM:
        raise _refused("Réservé à la plateforme (consommateurs et tâches périodiques).")


def ensure_manages_directory(principal: Principal) -> None:
    """Contacts, webhooks and retries: ops only."""
    if not sees_everything(principal):
        raise _refused("Seule l'exploitation gère l'annuaire et les envois.")


def ensure_manages_deliveries(principal: Principal) -> None:
    ensure_manages_directory(principal)


def ensure_may_change_preferences(principal: Principal, kind: str, recipient_id: str) -> None:
    """A caller changes their own preferences; ops anyone's."""
    if not sees_everything(principal) and own_recipient(principal) != (kind, recipient_id):
        raise _refused("Vous ne pouvez modifier que vos propres préférences.")


def _refused(detail: str) -> Forbidden:
    return Forbidden(detail)
