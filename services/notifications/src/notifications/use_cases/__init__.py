"""What the notifications service does, one module per aggregate; each use case takes a typed
command (a frozen dataclass), the caller (:class:`shared.auth.tokens.Principal`; the platform
itself, :data:`notifications.access.SYSTEM`, for consumers and jobs) and the session.

- :mod:`.messages`: record who must be told about a cause; mark in-app messages read;
- :mod:`.deliveries`: claim due deliveries, record an attempt's outcome, retry a delivery;
- :mod:`.recipients`: the directory (find the people a rule names, register a contact);
- :mod:`.preferences`: a recipient's opt-outs;
- :mod:`.following`: the referrals and immersions followed from the events;
- :mod:`.reminders`: the reminders that are due;
- :mod:`.queries`: every read of the HTTP API, through :mod:`notifications.access`.
"""
