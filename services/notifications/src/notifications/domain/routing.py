"""Routing as data: for each event type (or reminder), who is told, on which channels, with which
template. The rules live in ``notifications/data/routing.toml``; adding a rule is a data change.

An event type nobody is told about has an explicit ``[[silent]]`` decision with its reason, so a
new event type cannot be forgotten (``tests/unit/test_routing.py`` iterates over them).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from notifications.domain.delivery import CHANNELS
from shared.contracts import declared_event_types

#: Who can be told. How each is found is in :mod:`notifications.use_cases.recipients`.
AUDIENCES = ("agency", "counsellor", "tutor", "job_seeker", "organisation")

#: The parties of an immersion convention, each reached through its own link that the event
#: carries (``links``: role, name, e-mail, URL — the dispositifs service's signing and assessment
#: links, issue 13). Not directory entries: nothing of them is stored here.
PARTY_AUDIENCES = tuple(
    f"party_{role}"
    for role in (
        "beneficiary",
        "legal_representative",
        "host_representative",
        "tutor",
        "employer",
        "support_structure",
    )
)

#: The reminders' triggers (:mod:`notifications.use_cases.reminders`).
IMMERSION_STARTING = "reminder.immersion_starting"
REFERRAL_UNANSWERED = "reminder.referral_unanswered"

#: Triggers that are not events: the reminders, with the variables their templates get.
REMINDERS: dict[str, frozenset[str]] = {
    IMMERSION_STARTING: frozenset(
        {
            "convention_id",
            "referral_id",
            "job_seeker_id",
            "agency_id",
            "objet",
            "start_date",
            "end_date",
            "host_name",
            "tutor_name",
            "business_days",
        }
    ),
    REFERRAL_UNANSWERED: frozenset(
        {
            "referral_id",
            "agency_id",
            "network_id",
            "counsellor_id",
            "rome_code",
            "sent_at",
            "days_waiting",
        }
    ),
}

#: For each audience, the context variables of which at least one must exist to find them.
AUDIENCE_NEEDS: dict[str, frozenset[str]] = {
    "agency": frozenset({"agency_id", "referral_id"}),
    "counsellor": frozenset({"counsellor_id", "referral_id"}),
    "tutor": frozenset({"convention_id"}),
    "job_seeker": frozenset({"job_seeker_id", "referral_id"}),
    "organisation": frozenset({"structure_code"}),
    **{audience: frozenset({"links"}) for audience in PARTY_AUDIENCES},
}


class RoutingError(ValueError):
    """The routing table is malformed (raised at start-up)."""


@dataclass(frozen=True, slots=True)
class Rule:
    trigger: str
    audience: str
    channels: tuple[str, ...]
    template: str
    #: Kind of message, the unit of opt-out (``referral.update``, ``reminder.immersion``…).
    kind: str
    #: Required by the process: sent whatever the recipient's preferences.
    required: bool = False
    #: Only when the event's fields have one of these values (``when = {to_status =
    #: ["accepted", …]}``): the transitions worth telling this audience. Empty: always.
    when: tuple[tuple[str, frozenset[str]], ...] = ()

    def applies_to(self, context: Mapping[str, Any]) -> bool:
        """The event's fields meet :attr:`when` (enums compared by value)."""
        for name, values in self.when:
            value = context.get(name)
            if str(getattr(value, "value", value)) not in values:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Silent:
    """An explicit decision that nobody is told about ``trigger``, and why."""

    trigger: str
    reason: str


@dataclass(frozen=True)
class RoutingTable:
    rules: tuple[Rule, ...]
    silent: tuple[Silent, ...]

    def rules_for(self, trigger: str, context: Mapping[str, Any] | None = None) -> list[Rule]:
        """The rules of ``trigger`` (those whose ``when`` the event's ``context`` meets)."""
        return [
            rule
            for rule in self.rules
            if rule.trigger == trigger and (context is None or rule.applies_to(context))
        ]

    @property
    def routed_triggers(self) -> frozenset[str]:
        return frozenset(rule.trigger for rule in self.rules)

    @property
    def silent_triggers(self) -> frozenset[str]:
        return frozenset(decision.trigger for decision in self.silent)


def known_triggers() -> dict[str, frozenset[str]]:
    """Every trigger with the variables its templates get: event types, then reminders."""
    triggers = {
        name: frozenset(model.model_fields) for name, model in declared_event_types().items()
    }
    triggers.update(REMINDERS)
    return triggers


def load_routing(text: str | None = None) -> RoutingTable:
    """Parse ``routing.toml`` (or ``text``); raise :class:`RoutingError` on a malformed entry."""
    if text is None:
        text = resources.files("notifications.data").joinpath("routing.toml").read_text("utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"routing.toml: {exc}") from exc
    unknown = set(document) - {"rule", "silent"}
    if unknown:
        raise RoutingError(f"routing.toml: unknown sections {sorted(unknown)}")
    rules = tuple(_rule(i, entry) for i, entry in enumerate(document.get("rule", [])))
    silent = tuple(_silent(i, entry) for i, entry in enumerate(document.get("silent", [])))
    return RoutingTable(rules, silent)


def _rule(index: int, entry: dict[str, Any]) -> Rule:
    where = f"rule #{index + 1}"
    _expect_keys(
        where, entry, {"trigger", "audience", "channels", "template", "kind"}, {"required", "when"}
    )
    when = entry.get("when", {})
    if not isinstance(when, dict) or not all(
        isinstance(values, list) and values and all(isinstance(v, str) for v in values)
        for values in when.values()
    ):
        raise RoutingError(f"{where}: when must map field names to non-empty lists of values")
    channels = entry["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise RoutingError(f"{where}: channels must be a list of names")
    required = entry.get("required", False)
    if not isinstance(required, bool):
        raise RoutingError(f"{where}: required must be true or false")
    for key in ("trigger", "audience", "template", "kind"):
        if not isinstance(entry[key], str) or not entry[key]:
            raise RoutingError(f"{where}: {key} must be a non-empty string")
    return Rule(
        trigger=entry["trigger"],
        audience=entry["audience"],
        channels=tuple(channels),
        template=entry["template"],
        kind=entry["kind"],
        required=required,
        when=tuple((name, frozenset(values)) for name, values in sorted(when.items())),
    )


def _silent(index: int, entry: dict[str, Any]) -> Silent:
    where = f"silent #{index + 1}"
    _expect_keys(where, entry, {"trigger", "reason"}, set())
    if not isinstance(entry["reason"], str) or len(entry["reason"].strip()) < 10:
        raise RoutingError(f"{where}: give the reason nobody is told")
    return Silent(trigger=entry["trigger"], reason=entry["reason"].strip())


def _expect_keys(where: str, entry: dict[str, Any], required: set[str], optional: set[str]) -> None:
    missing = required - set(entry)
    extra = set(entry) - required - optional
    if missing or extra:
        raise RoutingError(f"{where}: missing {sorted(missing)}, unknown {sorted(extra)}")


def check_routing(
    table: RoutingTable, *, has_template: Any, triggers: dict[str, frozenset[str]] | None = None
) -> list[str]:
    """What is wrong with the table (empty: nothing). ``has_template(name, channel) -> bool``.

    Coverage (every trigger routed or silent) is checked separately by :func:`uncovered`.
    """
    triggers = triggers if triggers is not None else known_triggers()
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for rule in table.rules:
        where = f"{rule.trigger} → {rule.audience}"
        if rule.trigger not in triggers:
            problems.append(f"{where}: unknown trigger")
            continue
        if rule.audience not in (*AUDIENCES, *PARTY_AUDIENCES):
            known = ", ".join((*AUDIENCES, *PARTY_AUDIENCES))
            problems.append(f"{where}: unknown audience (known: {known})")
        elif not AUDIENCE_NEEDS[rule.audience] & triggers[rule.trigger]:
            problems.append(f"{where}: the trigger carries nothing to find this audience")
        for name, _values in rule.when:
            if name not in triggers[rule.trigger]:
                problems.append(f"{where}: when names {name!r}, not a field of the trigger")
        if (rule.trigger, rule.audience) in seen and not rule.when:
            problems.append(f"{where}: two rules for the same audience")
        seen.add((rule.trigger, rule.audience))
        if not rule.channels:
            problems.append(f"{where}: no channel")
        if len(set(rule.channels)) != len(rule.channels):
            problems.append(f"{where}: a channel is listed twice")
        for channel in rule.channels:
            if channel not in CHANNELS:
                problems.append(f"{where}: unknown channel {channel!r}")
            elif not has_template(rule.template, channel):
                problems.append(f"{where}: no template {rule.template!r} for channel {channel}")
    routed = table.routed_triggers
    for decision in table.silent:
        if decision.trigger not in triggers:
            problems.append(f"silent {decision.trigger}: unknown trigger")
        if decision.trigger in routed:
            problems.append(f"silent {decision.trigger}: also has routing rules")
    return problems


def uncovered(table: RoutingTable, triggers: Iterable[str] | None = None) -> list[str]:
    """Triggers with neither a rule nor an explicit silent decision."""
    triggers = triggers if triggers is not None else known_triggers()
    covered = table.routed_triggers | table.silent_triggers
    return sorted(set(triggers) - covered)
