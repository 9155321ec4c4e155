"""Base class and registry of event data models."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

#: Every declared event type, by its CloudEvents ``type``.
EVENT_TYPES: dict[str, type[EventData]] = {}


class UnknownEventType(LookupError):
    """No contract declares this type (or this version of it)."""


class EventData(BaseModel):
    """The ``data`` of one event type. Subclasses set ``event_type`` and ``topic``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    #: The topic this event is published to by default.
    topic: ClassVar[str]
    #: Name of the field whose value is the aggregate id, used as the record key.
    key_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type:
            if event_type in EVENT_TYPES and EVENT_TYPES[event_type] is not cls:
                raise TypeError(f"event type {event_type} declared twice")
            EVENT_TYPES[event_type] = cls

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))


def event_model_for(event_type: str) -> type[EventData]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(
            f"type d'événement inconnu du contrat : {event_type!r} (voir docs/asyncapi.yaml)"
        ) from None


def declared_event_types() -> dict[str, type[EventData]]:
    """The platform's event types: those declared in ``shared.contracts`` (tests may register
    types of their own in ``EVENT_TYPES``)."""
    return {
        event_type: model
        for event_type, model in sorted(EVENT_TYPES.items())
        if model.__module__.startswith("shared.contracts.")
    }
