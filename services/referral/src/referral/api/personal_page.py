"""The job seeker's own page (server-rendered, in French, no account: a signed link) and the
counsellor's route that gives the link once the job seeker consented to be contacted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from referral.api.deps import Counsellor, Runtime, Settings
from referral.use_cases.personal_page import (
    IssueLink,
    issue_link,
    personal_view,
    withdraw_by_job_seeker,
)

router = APIRouter(tags=["job seeker's page"])
TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "templates"


@cache
def _template() -> Template:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("personal_page.html")


@router.post(
    "/v1/job-seekers/{job_seeker_id}/personal-link", summary="Lien vers la page du demandeur"
)
async def create_link(
    job_seeker_id: uuid.UUID, principal: Counsellor, runtime: Runtime, settings: Settings
) -> dict[str, Any]:
    command = IssueLink(
        job_seeker_id,
        settings.link_secret,
        datetime.now(UTC),
        timedelta(days=settings.job_seeker_link_days),
    )
    async with runtime.session() as session:
        token = await issue_link(session, command, principal)
    return {"url": f"/moi/{token}"}


@router.get("/moi/{token}", response_class=HTMLResponse, include_in_schema=False)
async def page(token: str, runtime: Runtime, settings: Settings, retire: str | None = None) -> str:
    async with runtime.session() as session:
        view = await personal_view(session, token, settings.link_secret, datetime.now(UTC))
    message = (
        "Votre consentement est retiré ; l'agence a reçu l'instruction de supprimer vos données."
        if retire
        else None
    )
    return _template().render(**view, base=f"/moi/{token}", message=message)


@router.post("/moi/{token}/consents/{consent_id}/withdraw", include_in_schema=False)
async def withdraw_consent(
    token: str, consent_id: uuid.UUID, runtime: Runtime, settings: Settings
) -> RedirectResponse:
    async with runtime.database.transaction() as session:
        await withdraw_by_job_seeker(
            session, token, consent_id, settings.link_secret, datetime.now(UTC)
        )
    return RedirectResponse(f"/moi/{token}?retire=1", status_code=303)
