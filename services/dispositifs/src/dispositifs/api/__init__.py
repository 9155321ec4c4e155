"""Counsellor and ops HTTP API of the dispositifs service (``/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from dispositifs.api import (
    immersions,
    indicators,
    mrs,
    offer_requests,
    pages,
    pathways,
    referrals,
    trainings,
)

ROUTERS: list[APIRouter] = [
    immersions.router,
    mrs.router,
    trainings.router,
    pathways.router,
    indicators.router,
    referrals.router,
    pages.router,
    offer_requests.router,
]
