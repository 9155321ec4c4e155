"""Counsellor and ops HTTP API of the referral service (``/v1``): thin routers that translate
HTTP to the use cases."""

from __future__ import annotations

from referral.api import (
    agencies,
    audit,
    consents,
    conventions,
    erasure,
    indicators,
    job_datings,
    job_seekers,
    networks,
    offers,
    personal_page,
    referrals,
    steering,
)

ROUTERS = [
    referrals.router,
    job_seekers.router,
    consents.router,
    erasure.router,
    offers.router,
    agencies.router,
    indicators.router,
    networks.router,
    audit.router,
    personal_page.router,
    conventions.router,
    steering.router,
    job_datings.router,
]
