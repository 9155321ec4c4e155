"""Example data for every trigger, built from the contracts themselves.

Used at start-up and by the tests to render every template of every rule twice: with every optional
field set, and with every optional field left out. A new field or event type needs no new example.
"""

from __future__ import annotations

import enum
import types
import typing
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from notifications.domain.routing import IMMERSION_STARTING, REFERRAL_UNANSWERED
from shared.contracts import EventData, declared_event_types
from shared.contracts.vocabulary import ImmersionObjet

M = TypeVar("M", bound=BaseModel)

_NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

#: Values for fields whose format is constrained (patterns, ranges) or whose name says what
#: they are.
_BY_NAME: dict[str, Any] = {
    "rome_code": "H2913",
    "host_siret": "73282932000074",
    "departement": "59",
    "weekly_hours": 35.0,
    "hours": 400,
    "agency_id": "agc-interim-nord-lille",
    "network_id": "interim-nord",
    "counsellor_id": "conseiller.dupont",
    "structure_code": "75101",
    "host_name": "Boulangerie Martin",
    "host_address": "12 rue de la Paix, 59000 Lille",
    "tutor_name": "Claire Dubois",
    "tutor_function": "Cheffe boulangère",
    "tutor_email": "claire.dubois@boulangerie-martin.example",
    "reason": "Les objectifs de l'immersion ne sont pas précisés",
    "article": "D5135-2",
    "justification": "La structure d'accueil a fermé temporairement",
    "details": {"interview_at": "2026-03-05T14:30:00+01:00", "location": "Agence de Lille"},
    "start_date": date(2026, 3, 9),
    "end_date": date(2026, 3, 20),
    "placement_start_date": date(2026, 3, 9),
    "placement_end_date": date(2026, 9, 8),
    "expected_end_date": date(2026, 9, 8),
}


def example_event(model: type[EventData], *, full: bool) -> EventData:
    """A valid instance of ``model``: every optional field set (``full``) or left out."""
    return _example(model, full)


def _example(model: type[M], full: bool) -> M:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not full and not field.is_required():
            continue
        values[name] = _value(name, field, full)
    return model.model_validate(values)


def example_events(full: bool, only: Iterable[str] | None = None) -> dict[str, EventData]:
    """Examples of every event type (or of those in ``only``)."""
    declared = declared_event_types()
    names = declared if only is None else [name for name in only if name in declared]
    return {name: example_event(declared[name], full=full) for name in names}


def example_reminders(full: bool) -> dict[str, dict[str, Any]]:
    """Template variables of each reminder, as :mod:`notifications.use_cases.reminders` builds
    them."""
    return {
        IMMERSION_STARTING: {
            "convention_id": uuid.uuid4(),
            "referral_id": uuid.uuid4() if full else None,
            "job_seeker_id": uuid.uuid4() if full else None,
            "agency_id": "agc-interim-nord-lille" if full else None,
            "objet": ImmersionObjet.DISCOVER,
            "start_date": date(2026, 3, 9),
            "end_date": date(2026, 3, 20),
            "host_name": "Boulangerie Martin",
            "tutor_name": "Claire Dubois" if full else None,
            "business_days": 2,
        },
        REFERRAL_UNANSWERED: {
            "referral_id": uuid.uuid4(),
            "agency_id": "agc-interim-nord-lille",
            "network_id": "interim-nord",
            "counsellor_id": "conseiller.dupont",
            "rome_code": "H2913",
            "sent_at": _NOW - timedelta(days=8),
            "days_waiting": 8,
        },
    }


def _value(name: str, field: FieldInfo, full: bool) -> Any:
    annotation = _unwrap_optional(field.annotation)
    kind = typing.get_origin(annotation) or annotation
    if name in _BY_NAME and isinstance(kind, type) and isinstance(_BY_NAME[name], kind):
        return _BY_NAME[name]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _example(annotation, full)
    if kind is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return [_example(item, full)]
        return [_for_type(name, item)]
    return _for_type(name, annotation)


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return args[0]
    return annotation


def _for_type(name: str, annotation: Any) -> Any:
    if annotation is uuid.UUID:
        return uuid.uuid4()
    if annotation is datetime:
        return _NOW
    if annotation is date:
        return _NOW.date()
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.0
    if annotation is str:
        return f"Exemple de {name}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    if typing.get_origin(annotation) is dict or annotation is dict:
        return {}
    raise TypeError(f"no example value for field {name!r} of type {annotation!r}")
