"""Demo contacts of the notifications service for ``make up``: the demo agencies' contact emails
(the agencies seeded by ``python -m referral seed``) and the demo prescribing organisations'
mailboxes (told before a job-seeker record they own is archived), registered through the ops API."""

from __future__ import annotations

import httpx

#: agency id (see services/referral/src/referral/seed.py), display name, contact email
DEMO_AGENCY_CONTACTS = [
    ("agc-interim-nord-lille", "Intérim Nord — Lille", "lille@interim-nord.example"),
    ("agc-interim-nord-arras", "Intérim Nord — Arras", "arras@interim-nord.example"),
    ("agc-travail-plus-lyon", "Travail Plus — Lyon 3e", "lyon3@travail-plus.example"),
    ("agc-travail-plus-marseille", "Travail Plus — Marseille", "marseille@travail-plus.example"),
    ("agc-emploi-ouest-rennes", "Emploi Ouest — Rennes", "rennes@emploi-ouest.example"),
]

#: organisation key (``shared.auth.tokens.organisation_key``), display name, service mailbox
DEMO_ORGANISATION_CONTACTS = [
    ("75101", "France Travail Paris 1er", "ft-75101@francetravail.example"),
    ("59350", "France Travail Lille", "ft-59350@francetravail.example"),
]


def register_demo_contacts(notifications_url: str, ops_token: str) -> str:
    """PUT each demo agency's contact (idempotent); return a one-line summary."""
    headers = {"Authorization": f"Bearer {ops_token}"}
    with httpx.Client(base_url=notifications_url, headers=headers, timeout=10) as client:
        for agency_id, name, email in DEMO_AGENCY_CONTACTS:
            response = client.put(
                f"/v1/recipients/agency/{agency_id}",
                json={"display_name": name, "email": email},
            )
            response.raise_for_status()
        for code, name, email in DEMO_ORGANISATION_CONTACTS:
            response = client.put(
                f"/v1/recipients/organisation/{code}",
                json={"display_name": name, "email": email},
            )
            response.raise_for_status()
    return (
        f"{len(DEMO_AGENCY_CONTACTS)} demo agency contacts and "
        f"{len(DEMO_ORGANISATION_CONTACTS)} organisation mailboxes registered"
    )
