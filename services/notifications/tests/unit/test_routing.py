"""Routing and templates, without I/O: every event type of the platform is routed or explicitly
silent, every rule renders from the contracts' data, strictly."""

from __future__ import annotations

import pytest

from notifications.consumers import CONSUMERS
from notifications.domain import catalog
from notifications.domain import recipients as directory
from notifications.domain.catalog import ROUTING, TEMPLATES, example_contexts
from notifications.domain.rendering import (
    REFERRAL_STATUS_LABELS,
    TemplateError,
    date_fr,
    datetime_fr,
)
from notifications.domain.routing import (
    REMINDERS,
    RoutingError,
    check_routing,
    load_routing,
    uncovered,
)
from shared.contracts import EVENT_TYPES, declared_event_types


@pytest.mark.parametrize("event_type", sorted(declared_event_types()))
def test_every_event_type_has_a_rule_or_an_explicit_silent_decision(event_type: str) -> None:
    rules = ROUTING.rules_for(event_type)
    silent = [d for d in ROUTING.silent if d.trigger == event_type]
    assert rules or silent, f"{event_type}: add a [[rule]] or a [[silent]] to routing.toml"
    assert not (rules and silent)
    for decision in silent:
        assert len(decision.reason) > 20


def test_the_table_covers_every_trigger_and_is_consistent() -> None:
    assert uncovered(ROUTING) == []
    assert catalog.problems() == []
    for reminder in REMINDERS:
        assert ROUTING.rules_for(reminder), reminder


def test_every_routed_event_type_is_consumed() -> None:
    handled = {
        event_type
        for spec in CONSUMERS
        for event_type in spec.registry.event_types
        if EVENT_TYPES[event_type].topic in {topic.name for topic in spec.topics}
    }
    routed_events = ROUTING.routed_triggers & set(EVENT_TYPES)
    assert routed_events <= handled, routed_events - handled


def test_a_new_event_type_without_rule_is_reported() -> None:
    declared = [*declared_event_types(), "coop.something.new.v1"]
    assert uncovered(ROUTING, declared) == ["coop.something.new.v1"]


@pytest.mark.parametrize("full", [True, False], ids=["all-optional-fields", "no-optional-field"])
def test_every_rule_renders_in_french_on_every_channel(full: bool) -> None:
    contexts = example_contexts(full)
    for rule in ROUTING.rules:
        for channel in rule.channels:
            rendered = TEMPLATES.render(
                rule.template, channel, {**contexts[rule.trigger], "salutation": "Bonjour,"}
            )
            assert rendered.subject, (rule.template, channel)
            assert rendered.body, (rule.template, channel)
            assert "None" not in rendered.body
            assert "None" not in rendered.subject
            assert "{{" not in rendered.body


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    context = example_contexts(True)["coop.referral.sent.v1"]
    del context["rome_code"]
    with pytest.raises(TemplateError, match="rome_code"):
        TEMPLATES.render("referral_sent_agency", "email", {**context, "salutation": "Bonjour,"})


def test_printing_none_is_an_error() -> None:
    context = example_contexts(True)["coop.referral.sent.v1"]
    with pytest.raises(TemplateError, match="None"):
        TEMPLATES.render(
            "referral_sent_agency",
            "email",
            {**context, "rome_code": None, "salutation": "Bonjour,"},
        )


def test_missing_salutation_is_caught() -> None:
    with pytest.raises(TemplateError, match="salutation"):
        TEMPLATES.render(
            "referral_sent_agency", "email", example_contexts(True)["coop.referral.sent.v1"]
        )


@pytest.mark.parametrize("to_status", sorted(REFERRAL_STATUS_LABELS))
def test_status_change_reads_in_french_for_every_status(to_status: str) -> None:
    context = {
        **example_contexts(False)["coop.referral.status_changed.v1"],
        "to_status": to_status,
        "salutation": "Bonjour,",
    }
    rendered = TEMPLATES.render("referral_status_changed_counsellor", "email", context)
    assert REFERRAL_STATUS_LABELS[to_status] in rendered.subject


def test_malformed_rules_are_refused() -> None:
    with pytest.raises(RoutingError, match="unknown"):
        load_routing(
            '[[rule]]\ntrigger = "x"\naudience = "agency"\nchannels = ["email"]\n'
            'template = "t"\nkind = "k"\ncolour = "blue"\n'
        )
    with pytest.raises(RoutingError, match="reason"):
        load_routing('[[silent]]\ntrigger = "coop.referral.accepted.v1"\nreason = ""\n')
    table = load_routing(
        '[[rule]]\ntrigger = "coop.referral.sent.v1"\naudience = "mayor"\nchannels = ["fax"]\n'
        'template = "nope"\nkind = "k"\n'
        '[[rule]]\ntrigger = "coop.referral.sent.v1"\naudience = "tutor"\nchannels = ["email"]\n'
        'template = "referral_sent_agency"\nkind = "k"\n'
        '[[rule]]\ntrigger = "coop.unknown.v1"\naudience = "agency"\nchannels = ["email"]\n'
        'template = "referral_sent_agency"\nkind = "k"\n'
    )
    problems = check_routing(table, has_template=TEMPLATES.has)
    assert any("unknown audience" in p for p in problems)
    assert any("unknown channel 'fax'" in p for p in problems)
    assert any("nothing to find this audience" in p for p in problems)
    assert any("unknown trigger" in p for p in problems)


def test_job_seekers_are_reached_only_through_their_contact_consent() -> None:
    """Job seekers have rules, found only in the directory that their contact consent fills
    (``coop.job_seeker.contact_consented.v1``; see tests/service/test_job_seeker_messages.py)."""
    assert not hasattr(directory, "JOB_SEEKERS_REACHABLE")
    assert any(rule.audience == "job_seeker" for rule in ROUTING.rules)
    assert "coop.job_seeker.contact_consented.v1" in {s.trigger for s in ROUTING.silent}


def test_french_dates() -> None:
    from datetime import UTC, date, datetime

    assert date_fr(date(2026, 5, 1)) == "vendredi 1er mai 2026"
    assert date_fr(date(2026, 8, 17)) == "lundi 17 août 2026"
    # 12:30 UTC is 14:30 in Paris in summer
    assert (
        datetime_fr(datetime(2026, 7, 1, 12, 30, tzinfo=UTC))
        == "mercredi 1er juillet 2026 à 14 h 30"
    )
