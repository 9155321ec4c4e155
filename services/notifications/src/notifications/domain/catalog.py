"""The routing table and templates this process uses, loaded once, and the start-up check that
every rule can be rendered for every trigger it names."""

from __future__ import annotations

from typing import Any

from notifications.domain.examples import example_events, example_reminders
from notifications.domain.recipients import Addressee, salutation
from notifications.domain.rendering import TemplateError, Templates
from notifications.domain.routing import RoutingTable, check_routing, load_routing
from notifications.domain.wording import EXTRA_VARIABLES

ROUTING: RoutingTable = load_routing()
TEMPLATES = Templates()


class CatalogError(RuntimeError):
    """The routing table or a template is wrong: the service refuses to start."""


def example_contexts(full: bool, routing: RoutingTable = ROUTING) -> dict[str, dict[str, Any]]:
    """Template variables for every routed trigger, from the contracts' example data."""
    contexts: dict[str, dict[str, Any]] = {
        trigger: {name: getattr(data, name) for name in type(data).model_fields}
        for trigger, data in example_events(full, only=routing.routed_triggers).items()
    }
    contexts.update(example_reminders(full))
    # The variables the use case adds (the métier's name, the agency's, the person's, the
    # link): all set, or none. An event's own field of the same name keeps its example value.
    extras = {name: value if full else None for name, value in EXTRA_VARIABLES.items()}
    return {trigger: {**extras, **context} for trigger, context in contexts.items()}


def problems(routing: RoutingTable = ROUTING, templates: Templates = TEMPLATES) -> list[str]:
    """Everything wrong with the table and its templates (empty: all good)."""
    found = check_routing(routing, has_template=templates.has)
    if found:
        return found
    named = Addressee(kind="agency", id="agc-example", name="Agence Exemple")
    anonymous = Addressee(kind="agency", id="agc-example")
    for full, addressee in ((True, named), (False, anonymous)):
        contexts = example_contexts(full, routing)
        for rule in routing.rules:
            context = {**contexts[rule.trigger], "salutation": salutation(addressee)}
            for channel in rule.channels:
                try:
                    templates.render(rule.template, channel, context)
                except TemplateError as exc:
                    variant = "all optional fields" if full else "no optional field"
                    found.append(f"{rule.trigger} → {rule.audience} ({variant}): {exc}")
    return found


def check() -> None:
    found = problems()
    if found:
        raise CatalogError("routing/templates are invalid:\n  " + "\n  ".join(found))
