"""Every 422 speaks French and names the field as the client sent it (alias, dotted path, index)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import APIRouter, Header, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.http.validation import Omittable
from shared.testing import http_test_app


class Kind(enum.StrEnum):
    MRS = "mrs"
    POEI = "poei"


class Seeker(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ft_identifier: str = Field(pattern=r"^\d{7}[A-Z0-9]{1,4}$")
    first_name: str = Field(min_length=1, max_length=5)


class Item(BaseModel):
    code: str = Field(min_length=2)
    hours: int = Field(default=1, ge=1, le=35)


class Cat(BaseModel):
    species: Literal["cat"]
    lives: int


class Dog(BaseModel):
    species: Literal["dog"]
    name: str


class Referral(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    rome_code: str = Field(pattern=r"^[A-N]\d{4}$")
    starts_at: AwareDatetime = Field(alias="startsAt")
    birth_date: date | None = None
    kind: Kind = Kind.MRS
    channel: Literal["phone", "in_person"] = "phone"
    offer_id: uuid.UUID | None = None
    weekly_hours: int = 35
    tags: list[str] = Field(default_factory=list, max_length=2)
    items: list[Item] = Field(default_factory=list)
    job_seeker: Seeker | None = None
    reference: int | str = 0
    pet: Annotated[Cat | Dog, Field(discriminator="species")] | None = None
    message: str = Field(default="ok", max_length=10)

    @model_validator(mode="after")
    def _hours_for_poei(self) -> Referral:
        if self.kind is Kind.POEI and self.weekly_hours < 20:
            raise ValueError("POEI : 20 heures par semaine au moins")
        return self


GOOD: dict[str, Any] = {"rome_code": "M1607", "startsAt": "2026-03-02T09:30:00+01:00"}


class Prescriber(BaseModel):
    kind: str
    name: str


class ConventionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prescriber: Omittable[Prescriber] = None
    schedule: Omittable[str] = None
    comment: str | None = None  # null means "erase the comment"


def _router() -> APIRouter:
    router = APIRouter()

    @router.patch("/v1/conventions/{convention_id}")
    async def patch(convention_id: uuid.UUID, body: ConventionPatch) -> dict[str, Any]:
        return body.model_dump(exclude_unset=True)

    @router.post("/v1/referrals")
    async def create(
        body: Referral, idempotency_key: Annotated[str, Header(alias="Idempotency-Key")]
    ) -> dict[str, str]:
        return {"rome_code": body.rome_code}

    @router.get("/v1/referrals")
    async def listing(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, int]:
        return {"limit": limit}

    return router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = http_test_app([_router()])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as c:
        yield c


async def _errors(client: httpx.AsyncClient, body: Any, **kwargs: Any) -> list[dict[str, str]]:
    headers = {"Idempotency-Key": "k1", **kwargs.pop("headers", {})}
    response = await client.post("/v1/referrals", json=body, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Requête invalide"
    errors: list[dict[str, str]] = problem["errors"]
    assert problem["detail"] == "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    for error in errors:
        _assert_french(error["message"])
    return errors


def _assert_french(text: str) -> None:
    for english in ("should", "Input", "Field required", "Value error", "Extra inputs", "valid "):
        assert english not in text, text


def _one(errors: list[dict[str, str]]) -> tuple[str, str]:
    assert len(errors) == 1, errors
    return errors[0]["field"], errors[0]["message"]


async def test_a_good_request_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/referrals", json=GOOD, headers={"Idempotency-Key": "k"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"rome_code": None}, "rome_code", "Valeur null non acceptée : chaîne de caractères"),
        ({"rome_code": "H29"}, "rome_code", r"Format invalide (motif attendu : ^[A-N]\d{4}$)."),
        ({"rome_code": 1607}, "rome_code", "Chaîne de caractères attendue."),
        ({"startsAt": "lundi"}, "startsAt", "Date et heure attendues (ISO 8601"),
        ({"startsAt": "2026-03-02T09:30:00"}, "startsAt", "Fuseau horaire obligatoire"),
        ({"startsAt": None}, "startsAt", "Valeur null non acceptée"),
        ({"birth_date": "02/03/1990"}, "birth_date", "Date attendue (AAAA-MM-JJ)."),
        ({"kind": "aij"}, "kind", "Valeur non reconnue ; valeurs acceptées : 'mrs' ou 'poei'."),
        ({"channel": "fax"}, "channel", "valeurs acceptées : 'phone' ou 'in_person'."),
        ({"offer_id": "42"}, "offer_id", "Identifiant UUID attendu"),
        ({"weekly_hours": "beaucoup"}, "weekly_hours", "Nombre entier attendu."),
        ({"weekly_hours": 3.5}, "weekly_hours", "sans partie décimale"),
        ({"tags": ["a", "b", "c"]}, "tags", "Trop d'éléments : 2 au plus."),
        ({"tags": "a"}, "tags", "Liste attendue."),
        ({"tags": ["a", 3]}, "tags[1]", "Chaîne de caractères attendue."),
        ({"items": [{"code": "AB"}, {"code": "A"}]}, "items[1].code", "Trop court : 2"),
        ({"items": [{"code": "AB", "hours": 40}]}, "items[0].hours", "inférieur ou égal à 35"),
        ({"items": [{}]}, "items[0].code", "Champ obligatoire."),
        ({"job_seeker": "Léa"}, "job_seeker", "Objet JSON attendu."),
        (
            {"job_seeker": {"ft_identifier": "12AB", "first_name": "Léa"}},
            "job_seeker.ft_identifier",
            "Format invalide",
        ),
        (
            {"job_seeker": {"ft_identifier": "1234567A", "first_name": "Léa", "rqth": True}},
            "job_seeker.rqth",
            "Champ inconnu",
        ),
        ({"unexpected": 1}, "unexpected", "Champ inconnu : il n'est pas accepté ici."),
        ({"message": "x" * 11}, "message", "Trop long : 10 caractère(s) au plus."),
        ({"reference": [1]}, "reference", ""),
        ({"pet": {"species": "cat", "lives": "neuf"}}, "pet.lives", "Nombre entier attendu."),
        ({"pet": {"species": "cat"}}, "pet.lives", "Champ obligatoire."),
        ({"pet": {"species": "fish"}}, "pet", "Valeur de « species » non reconnue"),
        ({"kind": "poei", "weekly_hours": 10}, "body", "POEI : 20 heures par semaine au moins"),
    ],
)
async def test_each_error_is_french_and_names_the_clients_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str, message: str
) -> None:
    errors = await _errors(client, {**GOOD, **change})
    fields = {error["field"] for error in errors}
    assert fields == {field}, errors
    assert all(message in error["message"] for error in errors), errors


async def test_a_missing_field_is_named_and_required(client: httpx.AsyncClient) -> None:
    assert _one(await _errors(client, {"startsAt": GOOD["startsAt"]})) == (
        "rome_code",
        "Champ obligatoire.",
    )


async def test_a_missing_or_null_body_is_field_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/referrals", headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "location": "body", "message": "Champ obligatoire."}
    ]
    field, message = _one(await _errors(client, None))
    assert field == "body"
    _assert_french(message)
    field, message = _one(await _errors(client, ["not", "an", "object"]))
    assert (field, message) == ("body", "Objet JSON attendu.")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"rome_code": "M1607",', "JSON illisible à la position 22 : nom de champ"),
        (b'{"rome_code" "M1607"}', "JSON illisible à la position 13 : deux-points attendu."),
        (b"{'rome_code': 1}", "JSON illisible à la position 1 : nom de champ"),
        (b'{"a": 1} 2', "JSON illisible à la position 9 : données en trop"),
    ],
)
async def test_broken_json_is_reported_on_body_with_its_position(
    client: httpx.AsyncClient, raw: bytes, message: str
) -> None:
    response = await client.post(
        "/v1/referrals",
        content=raw,
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["field"] == "body"
    assert errors[0]["location"] == "body"
    assert errors[0]["message"].startswith(message), errors


async def test_query_and_header_errors_name_the_parameter(client: httpx.AsyncClient) -> None:
    for value, expected in (("abc", "Nombre entier attendu."), ("0", "supérieur ou égal à 1")):
        response = await client.get("/v1/referrals", params={"limit": value})
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert (error["field"], error["location"]) == ("limit", "query")
        assert expected in error["message"]
    response = await client.post("/v1/referrals", json=GOOD)
    assert response.json()["errors"] == [
        {"field": "Idempotency-Key", "location": "header", "message": "Champ obligatoire."}
    ]


async def test_several_errors_are_all_reported(client: httpx.AsyncClient) -> None:
    errors = await _errors(client, {"rome_code": "X", "startsAt": "x", "tags": [1, 2, 3]})
    assert {e["field"] for e in errors} == {"rome_code", "startsAt", "tags"}


class Contact(BaseModel):
    email: EmailStr


async def test_an_invalid_email_is_french() -> None:
    router = APIRouter()

    @router.post("/v1/contacts")
    async def contacts(body: Contact) -> dict[str, str]:
        return {"email": body.email}

    app = http_test_app([router])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://edge.test"
    ) as client:
        response = await client.post("/v1/contacts", json={"email": "pas-une-adresse"})
    assert response.json()["errors"] == [
        {"field": "email", "location": "body", "message": "Adresse e-mail invalide."}
    ]


async def test_a_patch_field_may_be_omitted_but_not_null(client: httpx.AsyncClient) -> None:
    url = f"/v1/conventions/{uuid.uuid4()}"
    assert (await client.patch(url, json={"comment": None})).json() == {"comment": None}
    assert (await client.patch(url, json={"schedule": "9h-17h"})).json() == {"schedule": "9h-17h"}
    for field in ("prescriber", "schedule"):
        response = await client.patch(url, json={field: None})
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "field": field,
                "location": "body",
                "message": "Valeur null non acceptée : omettez le champ pour ne pas le modifier.",
            }
        ]
    response = await client.patch("/v1/conventions/pas-un-uuid", json={})
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == ("convention_id", "path")
    assert error["message"].startswith("Identifiant UUID attendu")


def test_a_custom_error_of_ours_keeps_its_own_french_message() -> None:
    from shared.http.validation import describe

    error = {"type": "coop_text_screened", "loc": ("body", "message"), "msg": "Texte refusé."}
    assert describe(error, {"message": "…"}) == ("body", "message", "Texte refusé.")
    unmapped_builtin = {"type": "callable_type", "loc": ("body", "x"), "msg": "Input should be…"}
    assert describe(unmapped_builtin, {"x": 1})[2] == "Valeur invalide."
