"""The one transition-log writer: a lifecycle step changes the aggregate's status and leaves a
row in its transition log (the timeline people read), in the same transaction."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.domain.transitions import Transition


def _value(status: object) -> Any:
    return status.value if isinstance(status, enum.Enum) else status


def record_transition(
    session: AsyncSession,
    aggregate: Any,
    transition: Transition[Any],
    *,
    current: object,
    log_model: type[Any],
    aggregate_fk: str,
    actor: object,
    actor_id: str | None,
    occurred_at: datetime,
    **fields: Any,
) -> Any:
    """Move ``aggregate`` to ``transition.target`` and add its log row (returned)."""
    aggregate.status = _value(transition.target)
    aggregate.updated_at = datetime.now(UTC)
    row = log_model(
        **{aggregate_fk: aggregate.id},
        from_status=_value(current),
        to_status=_value(transition.target),
        actor=_value(actor),
        actor_id=actor_id,
        occurred_at=occurred_at,
        **fields,
    )
    session.add(row)
    return row
