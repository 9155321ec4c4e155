"""The in-app inbox: the message is already stored; delivering it makes it visible in
``GET /v1/inbox`` for its recipient."""

from __future__ import annotations

from notifications.channels.base import Outgoing


class InboxSender:
    async def send(self, outgoing: Outgoing) -> str:
        return "stored in the inbox"
