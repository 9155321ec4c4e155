"""French message templates (Jinja2), one per rule and channel, in ``notifications/data/templates``.

A template file ``<name>.<channel>.j2`` (or ``<name>.j2`` for every channel of the rule) defines two
blocks, ``subject`` and ``body``. Rendering is strict: an unknown variable raises
(``StrictUndefined``) and so does printing ``None`` (an optional field must be guarded with
``{% if %}``), so a missing value is an error caught by the tests, never a blank in a mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, UndefinedError

from notifications.domain.wording import decline_for_job_seeker

PARIS = ZoneInfo("Europe/Paris")

#: The macros every template may use, as ``w`` (not a rule's template).
WORDING = "_wording.j2"

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

#: Referral statuses as the referral service names them (``to_status`` of status_changed).
REFERRAL_STATUS_LABELS = {
    "sent": "envoyée",
    "acknowledged": "prise en compte par l'agence",
    "accepted": "acceptée par l'agence",
    "interview_scheduled": "entretien programmé",
    "placed": "candidat en poste",
    "declined": "déclinée par l'agence",
    "withdrawn": "retirée",
    "expired": "expirée sans réponse",
    "closed": "clôturée",
    # The lifecycle in full (issue 12, the referral service's new states).
    "postponed": "mise en attente par l'agence",
    "pool": "candidat inscrit dans le vivier de l'agence",
    "prior_to_hire": "action préalable à l'embauche engagée",
    "hire_cancelled": "embauche annulée",
    "transferred": "transférée à une autre agence du réseau",
    "obsolete": "sans objet : candidat embauché ailleurs",
    "no_news": "clôturée faute de nouvelles de l'agence",
}


class TemplateError(Exception):
    """A template is missing, or cannot be rendered from the data it was given."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def date_fr(value: date | datetime) -> str:
    """``lundi 4 mai 2026``."""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    day = "1er" if value.day == 1 else str(value.day)
    return f"{_WEEKDAYS[value.weekday()]} {day} {_MONTHS[value.month - 1]} {value.year}"


def datetime_fr(value: datetime | str) -> str:
    """``lundi 4 mai 2026 à 14 h 30`` (Paris time)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(PARIS) if value.tzinfo else value
    return f"{date_fr(local.date())} à {local.hour} h {local.minute:02d}"


def capitalize_first(value: str) -> str:
    """The first letter upper-cased, the rest untouched (``l'agence X`` → ``L'agence X``)."""
    return value[:1].upper() + value[1:]


def referral_status(value: str) -> str:
    return REFERRAL_STATUS_LABELS.get(value, value)


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise TemplateError("a template printed None: guard the optional value with {% if %}")
    return value


class Templates:
    """The template set; :meth:`render` is the only way a message gets its text."""

    def __init__(self, package: str = "notifications", folder: str = "data/templates") -> None:
        self._env = Environment(
            loader=PackageLoader(package, folder),
            undefined=StrictUndefined,
            finalize=_refuse_none,
            # Plain-text mails, in-app text and JSON string fields: never HTML, nothing to escape.
            autoescape=False,  # noqa: S701
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # The files ship with the package: compiled once, never checked again on disk.
            auto_reload=False,
        )
        self._env.filters.update(
            date_fr=date_fr,
            datetime_fr=datetime_fr,
            referral_status=referral_status,
            decline_for_job_seeker=decline_for_job_seeker,
            capitalize_first=capitalize_first,
        )
        # Shared phrases (``w.agency(…)``, ``w.metier(…)``), in ``_wording.j2`` when the set has
        # one.
        #: The files of the set, listed once (not at every message).
        self._names = frozenset(self._env.list_templates(extensions=["j2"]))
        if WORDING in self._names:
            self._env.globals["w"] = self._env.get_template(WORDING).module
        #: (template, channel) → its file, resolved once.
        self._sources: dict[tuple[str, str], str | None] = {}

    def source_name(self, template: str, channel: str) -> str | None:
        """The file used for ``template`` on ``channel``, or None if there is none."""
        key = (template, channel)
        if key not in self._sources:
            self._sources[key] = next(
                (
                    name
                    for name in (f"{template}.{channel}.j2", f"{template}.j2")
                    if name in self._names
                ),
                None,
            )
        return self._sources[key]

    def has(self, template: str, channel: str) -> bool:
        return self.source_name(template, channel) is not None

    def render(self, template: str, channel: str, context: Mapping[str, Any]) -> Rendered:
        name = self.source_name(template, channel)
        if name is None:
            raise TemplateError(f"no template {template!r} for channel {channel}")
        try:
            compiled = self._env.get_template(name)
        except TemplateNotFound as exc:
            raise TemplateError(str(exc)) from exc
        for block in ("subject", "body"):
            if block not in compiled.blocks:
                raise TemplateError(f"{name}: no {{% block {block} %}}")
        try:
            ctx = compiled.new_context(dict(context))
            subject = "".join(compiled.blocks["subject"](ctx))
            body = "".join(compiled.blocks["body"](ctx))
        except UndefinedError as exc:
            raise TemplateError(f"{name}: {exc}") from exc
        except TemplateError as exc:
            raise TemplateError(f"{name}: {exc}") from exc
        subject = " ".join(subject.split())
        if not subject:
            raise TemplateError(f"{name}: empty subject")
        if len(subject) > 300:
            raise TemplateError(f"{name}: subject longer than 300 characters")
        return Rendered(subject=subject, body=_tidy(body))


def _tidy(body: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by conditionals."""
    lines = [line.rstrip() for line in body.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if not line and tidy and not tidy[-1]:
            continue
        tidy.append(line)
    return "\n".join(tidy)
