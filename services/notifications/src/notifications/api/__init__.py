"""The HTTP API of the notifications service (``/v1``): routers that parse, call one use case or
query (:mod:`notifications.use_cases`), and map the result (:mod:`.schemas`).

- :mod:`.messages`, :mod:`.deliveries`, :mod:`.recipients`: ops (role ops);
- :mod:`.in_app`: the caller's own in-app messages (``/v1/inbox``) and preferences.
"""

from notifications.api import deliveries, in_app, messages, recipients

#: In the order of the OpenAPI document.
ROUTERS = [messages.router, deliveries.router, recipients.router, in_app.router]
