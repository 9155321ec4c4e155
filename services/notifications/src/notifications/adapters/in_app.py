"""The in-app message list: the message is already stored; delivering it makes it visible in
``GET /v1/inbox`` for its recipient (:mod:`notifications.api.in_app`)."""

from __future__ import annotations

from notifications.adapters.base import Outgoing


class InAppSender:
    async def send(self, outgoing: Outgoing) -> str:
        return "stored in the inbox"
