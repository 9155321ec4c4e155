"""The notifications service's rules, in plain Python (no database, no HTTP, no network).

- :mod:`~notifications.domain.routing`: who is told what, on which channels (``data/routing.toml``);
- :mod:`~notifications.domain.rendering`: the French templates (``data/templates``), strict;
- :mod:`~notifications.domain.catalog`: the table and templates this process uses, checked at start;
- :mod:`~notifications.domain.examples`: example data of every trigger, from the contracts;
- :mod:`~notifications.domain.messages`: what a message is about (:class:`Cause`), the webhook body;
- :mod:`~notifications.domain.recipients`: an addressee and where each channel reaches them;
- :mod:`~notifications.domain.delivery`: channels, delivery statuses and their transitions, backoff;
- :mod:`~notifications.domain.following`: what the events say of a referral or immersion followed;
- :mod:`~notifications.domain.business_days`: the French business-day calendar of reminders.
"""
