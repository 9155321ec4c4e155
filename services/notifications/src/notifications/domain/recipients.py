"""Who is told, and where each channel reaches them.

Events carry ids, not contact details (minimisation); the directory (``recipients``, see
:mod:`notifications.use_cases.recipients`) holds what this service may know:

- **agency**: the agency's contact email and webhook, registered by ops
  (``PUT /v1/recipients/agency/{agency_id}``; ``make up`` registers the demo agencies). The agency
  is the event's ``agency_id`` or, failing that, the agency of the referral it is about.
- **counsellor**: the event's ``counsellor_id`` (the token subject of the counsellor who sent the
  referral) or the referral's counsellor; reachable in the in-app message list without any
  registration, by email once ops register an address.
- **tutor**: one per immersion convention, with the name and email of
  ``coop.immersion.validated.v1``.
- **job seeker**: reachable only once they consented to be contacted by the platform: the
  referral service then publishes ``coop.job_seeker.contact_consented.v1`` with their name and
  address, which become their directory entry, deleted on ``contact_withdrawn`` or erasure. No
  entry, no message (ops cannot register one by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notifications.domain.delivery import Channel

#: The job seeker's audience and directory kind.
JOB_SEEKER = "job_seeker"


@dataclass(frozen=True, slots=True)
class Addressee:
    kind: str
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None
    opted_out_channels: frozenset[str] = field(default_factory=frozenset)
    opted_out_kinds: frozenset[str] = field(default_factory=frozenset)

    def address_for(self, channel: str) -> str | None:
        """Where ``channel`` reaches them, or None when nothing is on file."""
        if channel == Channel.EMAIL:
            return self.email
        if channel == Channel.WEBHOOK:
            return self.webhook_url
        if channel == Channel.IN_APP:
            return in_app_address(self.kind, self.id)
        if channel == Channel.SMS:
            return self.phone
        raise ValueError(f"unknown channel {channel}")

    def opted_out(self, channel: str, kind: str) -> bool:
        """They refused this channel, or this kind of message."""
        return channel in self.opted_out_channels or kind in self.opted_out_kinds


def in_app_address(kind: str, recipient_id: str) -> str:
    """The address of an in-app delivery: ``<kind>:<id>`` of its recipient."""
    return f"{kind}:{recipient_id}"


def salutation(addressee: Addressee) -> str:
    return f"Bonjour {addressee.name}," if addressee.name else "Bonjour,"
