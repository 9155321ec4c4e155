"""The parties' pages (server-rendered HTML in French, no account): each party opens its own
signed link, reads the convention, signs it or points out an error; the tutor assesses it from
the last day on; an incident or accident can be reported. A page router is a router: it parses
the form, calls one use case and renders a template (a refusal is rendered too, with its HTTP
status)."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dispositifs.api.deps import Runtime, settings_of
from dispositifs.domain.immersion import HOST_DECLARATIONS, AssessmentOutcome, ImmersionStatus
from dispositifs.domain.signing import SignatoryRole
from dispositifs.domain.working_time import WeeklySchedule
from dispositifs.use_cases import Session, assessments
from dispositifs.use_cases import signatures as signing
from shared.contracts.vocabulary import ContractType, ImmersionObjet
from shared.domain.errors import DomainError, RulesBroken
from shared.http.domain_problems import status_of
from shared.http.rate_limit import RateLimiter

WEB = Path(__file__).resolve().parent.parent / "data" / "pages"
router = APIRouter(
    prefix="/conventions", tags=["pages des parties (HTML)"], include_in_schema=False
)

_DONE = {
    "signe": "Votre signature est enregistrée. Merci !",
    "erreur": "Votre signalement est transmis au conseiller, qui corrigera la convention.",
    "bilan": "Votre bilan est enregistré. Merci !",
    "incident": "Le signalement est transmis au prescripteur.",
    "vu": "Vous avez pris connaissance du bilan. Merci !",
}
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_OBJETS = {
    ImmersionObjet.DISCOVER.value: "Découvrir un métier ou un secteur d'activité",
    ImmersionObjet.CONFIRM_PROJECT.value: "Confirmer un projet professionnel",
    ImmersionObjet.START_RECRUITMENT.value: "Initier une démarche de recrutement",
}


@functools.cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(WEB / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _page(
    view: signing.LinkView,
    token: str,
    *,
    done: str | None = None,
    problem: DomainError | None = None,
) -> HTMLResponse:
    c = view.convention
    status = ImmersionStatus(c.status)
    declared = c.host_declarations or {}
    fields = []
    if isinstance(problem, RulesBroken):
        fields = [v.message for v in problem.violations]
    elif problem is not None and problem.errors:
        fields = [e.message for e in problem.errors]
    return _render(
        "link.html",
        status_of(problem) if problem else 200,
        view=view,
        base=f"/conventions/lien/{token}",
        role_label=view.claims.role.label,
        status_label=status.label,
        objet_label=_OBJETS.get(c.objet, c.objet),
        beneficiary=" ".join(x for x in (c.beneficiary_first_name, c.beneficiary_last_name) if x)
        or "—",
        schedule=WeeklySchedule.from_json(c.schedule_plan),
        declarations=[text for name, text in HOST_DECLARATIONS.items() if declared.get(name)],
        role_labels={r.value: r.label for r in SignatoryRole},
        contract_types=[(t.value, t.label) for t in ContractType],
        outcome_label=AssessmentOutcome(c.assessment_outcome).label
        if c.assessment_outcome
        else None,
        job_label=ContractType(c.job_contract_type).label if c.job_contract_type else None,
        incident_allowed=status
        in {ImmersionStatus.VALIDATED, ImmersionStatus.IN_PROGRESS, ImmersionStatus.COMPLETED},
        done=_DONE.get(done or ""),
        problem=problem.message if problem else None,
        problem_fields=fields,
    )


def _error(exc: DomainError) -> HTMLResponse:
    return _render("error.html", status_of(exc), message=exc.message)


#: The rate-limit buckets of the parties' pages: per client address, and per link.
LINK_CLIENT = "link-client"
LINK_TOKEN = "link-token"  # noqa: S105 (a bucket's name, not a secret)


def _throttled(request: Request, token: str) -> HTMLResponse | None:
    """The 429 page when this client, or this link, asked too often (the links need no account:
    the buckets bound how fast they may be tried or replayed). The link is keyed by its digest:
    the limiter never holds a usable link."""
    limiter: RateLimiter | None = getattr(request.app.state, "link_rate_limiter", None)
    if limiter is None:
        return None
    client = request.client.host if request.client else "unknown"
    link = hashlib.sha256(token.encode("utf-8")).hexdigest()
    # The client's bucket first: a client already refused does not use up the link's.
    wait = limiter.take(LINK_CLIENT, client) or limiter.take(LINK_TOKEN, link)
    if wait is None:
        return None
    seconds = max(1, math.ceil(wait))
    page = _render("too_many.html", 429, seconds=seconds)
    page.headers["Retry-After"] = str(seconds)
    return page


@router.get("/static/signing.css")
async def stylesheet() -> Response:
    css = (WEB / "static" / "signing.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/lien/{token}", response_class=HTMLResponse)
async def open_link(
    token: str, request: Request, runtime: Runtime, fait: str | None = None
) -> HTMLResponse:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    try:
        caller = signing.read_caller(token, settings_of(runtime))
        async with runtime.session() as session:
            view = await signing.open_link(session, caller)
            return _page(view, token, done=fait)
    except DomainError as exc:
        return _error(exc)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0].strip() for k, v in parse_qs(body, max_num_fields=30).items()}


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value.replace(",", ".")) if value else None
    except ValueError:
        return None


async def _act(
    runtime: Any,
    token: str,
    done: str,
    run: Callable[[Session, Any], Awaitable[signing.LinkView]],
) -> Response:
    """Run the party's action in one transaction; then back to the page (303), or the page
    again with the refusal."""
    try:
        caller = signing.read_caller(token, settings_of(runtime))
    except DomainError as exc:
        return _error(exc)
    try:
        async with runtime.database.transaction() as session:
            await run(session, caller)
    except DomainError as exc:
        try:
            async with runtime.session() as session:
                view = await signing.open_link(session, caller)
                return _page(view, token, problem=exc)
        except DomainError as again:
            return _error(again)
    return RedirectResponse(f"/conventions/lien/{token}?fait={done}", status_code=303)


@router.post("/lien/{token}/signer")
async def sign(token: str, request: Request, runtime: Runtime) -> Response:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    form = await _form(request)
    command = signing.SignByLink(consent=form.get("consent") == "oui")
    return await _act(
        runtime, token, "signe", lambda session, caller: signing.sign(session, caller, command)
    )


@router.post("/lien/{token}/erreur")
async def report_error(token: str, request: Request, runtime: Runtime) -> Response:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    form = await _form(request)
    command = signing.ReportError(message=form.get("message", ""))
    return await _act(
        runtime,
        token,
        "erreur",
        lambda session, caller: signing.report_error(session, caller, command),
    )


@router.post("/lien/{token}/bilan")
async def assess(token: str, request: Request, runtime: Runtime) -> Response:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    form = await _form(request)
    try:
        outcome = AssessmentOutcome(form.get("outcome", ""))
        contract = (
            ContractType(form["job_contract_type"]) if form.get("job_contract_type") else None
        )
    except ValueError:
        outcome, contract = AssessmentOutcome.COMPLETED, None
        form["objectives_reached"] = ""  # refused below: the form was not the page's
    command = assessments.AssessByLink(
        outcome=outcome,
        objectives_reached=form.get("objectives_reached") == "oui",
        job_offered=form.get("job_offered") == "oui",
        last_day=_date(form.get("last_day")),
        missed_hours=_float(form.get("missed_hours")),
        job_contract_type=contract,
        job_start_date=_date(form.get("job_start_date")),
        comment=form.get("comment") or None,
        answered=all(form.get(k) in {"oui", "non"} for k in ("objectives_reached", "job_offered")),
    )
    settings = settings_of(runtime)
    return await _act(
        runtime,
        token,
        "bilan",
        lambda session, caller: assessments.assess(session, caller, command, settings),
    )


@router.post("/lien/{token}/vu")
async def acknowledge(token: str, request: Request, runtime: Runtime) -> Response:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    command = assessments.AcknowledgeAssessment()
    return await _act(
        runtime,
        token,
        "vu",
        lambda session, caller: assessments.acknowledge(session, caller, command),
    )


@router.post("/lien/{token}/incident")
async def report_incident(token: str, request: Request, runtime: Runtime) -> Response:
    if (throttled := _throttled(request, token)) is not None:
        return throttled
    form = await _form(request)
    command = assessments.ReportIncident(
        kind=form.get("kind", ""),
        occurred_on=_date(form.get("occurred_on")) or date.min,
        description=form.get("description", ""),
    )
    return await _act(
        runtime,
        token,
        "incident",
        lambda session, caller: assessments.report_incident(session, caller, command),
    )
