"""Free text screened for NIR, bank details and health words; phone numbers checked as phone
numbers; both as pydantic field types answering a French 422 (issue 11, item 3). No I/O."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from shared.domain.errors import InvalidInput
from shared.http.domain_problems import install_domain_problem_handler
from shared.http.problems import install_problem_handlers
from shared.privacy import (
    FindingKind,
    PhoneNumber,
    PhoneNumberRefused,
    ScreenedText,
    normalise_phone,
    screen_text,
    screening,
)
from shared.privacy.screening import (
    REDACTED,
    HealthKeyword,
    health_allowed_phrases,
    health_keywords,
    raise_if_sensitive,
    redact_text,
)


def nir_with_key(first13: str) -> str:
    """The 15-character NIR: its key computed here from the rule, independently of the code
    under test (97 - number mod 97; Corsica 2A counts as 19, 2B as 18)."""
    digits = first13.replace("2A", "19").replace("2B", "18")
    return f"{first13}{97 - int(digits) % 97:02d}"


VALID_NIR = nir_with_key("1850575123456")  # 185057512345673
CORSICA_2A = nir_with_key("269052A123456")
CORSICA_2B = nir_with_key("178112B045012")
VALID_IBAN = "FR76 3000 6000 0112 3456 7890 189"  # the banks' published specimen


def kinds(text: str) -> list[FindingKind]:
    return [f.kind for f in screen_text(text, "message")]


def spans(text: str) -> list[str]:
    return [text[f.start : f.end] for f in screen_text(text, "message")]


def wrong_key(nir: str) -> str:
    key = (int(nir[13:]) + 1) % 100
    return f"{nir[:13]}{key:02d}"


# -- NIR -----------------------------------------------------------------------------------------
def test_the_issue_example_is_refused_for_its_nir_and_its_rqth() -> None:
    text = f"NIR {VALID_NIR[0]} {VALID_NIR[1:3]} {VALID_NIR[3:5]} {VALID_NIR[5:7]} "
    text += f"{VALID_NIR[7:10]} {VALID_NIR[10:13]} {VALID_NIR[13:]}, RQTH en cours"
    findings = screen_text(text, "message")
    assert [f.kind for f in findings] == [FindingKind.NIR, FindingKind.HEALTH]
    assert text[findings[0].start : findings[0].end] == "1 85 05 75 123 456 73"
    assert text[findings[1].start : findings[1].end] == "RQTH"
    assert findings[1].category == "handicap"


@pytest.mark.parametrize(
    "written",
    [
        VALID_NIR,
        "1 85 05 75 123 456 73",
        "1.85.05.75.123.456.73",
        "1-85-05-75-123-456-73",
        "185 05 75 123 456 73",
        "1 85 05 75 123 456 73".replace(" ", "\u00a0"),
    ],
)
def test_a_nir_is_found_whatever_its_separators(written: str) -> None:
    text = f"Candidat sérieux, n° {written} à contacter."
    assert spans(text) == [written]
    assert kinds(text) == [FindingKind.NIR]


@pytest.mark.parametrize("nir", [CORSICA_2A, CORSICA_2B])
def test_a_corsican_nir_is_found_with_its_own_key(nir: str) -> None:
    spaced = f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    assert kinds(f"NIR {nir}") == [FindingKind.NIR]
    assert kinds(f"NIR {spaced.lower()}") == [FindingKind.NIR]
    assert kinds(f"NIR {wrong_key(nir)}") == []


@st.composite
def written_nirs(draw: st.DrawFn) -> tuple[str, str]:
    """A NIR as people type it (groups joined by a space, dot, dash or nothing) and its key."""
    departement = draw(st.sampled_from(["2A", "2B", *(f"{d:02d}" for d in range(1, 96))]))
    first13 = (
        draw(st.sampled_from("12"))
        + f"{draw(st.integers(0, 99)):02d}"
        + f"{draw(st.integers(1, 12)):02d}"
        + departement
        + f"{draw(st.integers(1, 990)):03d}"
        + f"{draw(st.integers(1, 999)):03d}"
    )
    full = nir_with_key(first13)
    groups = [full[0], full[1:3], full[3:5], full[5:7], full[7:10], full[10:13], full[13:]]
    separator = draw(st.sampled_from(["", " ", ".", "-"]))
    return separator.join(groups), full[13:]


@settings(max_examples=200, deadline=None)
@given(written_nirs())
def test_any_nir_is_found_and_the_same_with_another_key_is_not(written: tuple[str, str]) -> None:
    nir, key = written
    text = f"Coordonnées : {nir}, merci."
    assert spans(text) == [nir]
    other_key = f"{(int(key) + 1) % 100:02d}"
    assert kinds(f"Coordonnées : {nir[: -len(key)]}{other_key}, merci.") == []


def test_a_fifteen_digit_number_whose_key_is_wrong_is_not_a_nir() -> None:
    # The issue's own example, "1 85 05 75 123 456 78", has a wrong key (73 is right).
    assert kinds("NIR 1 85 05 75 123 456 78") == []
    assert kinds(wrong_key(VALID_NIR)) == []


def test_a_nir_inside_a_longer_number_is_not_reported() -> None:
    assert kinds(f"réf. {VALID_NIR}9") == []
    assert kinds(f"réf. 9{VALID_NIR}") == []


def test_ordinary_numbers_are_not_findings() -> None:
    text = "Rendez-vous le 12/03/2026 à 14 h 30, offre 178452, tél. 06 12 34 56 78"
    text += ", SIRET 73282932000074, code postal 75011"
    assert screen_text(text, "message") == ()


# -- bank details --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [VALID_IBAN, VALID_IBAN.replace(" ", ""), VALID_IBAN.lower(), "DE89 3704 0044 0532 0130 00"],
)
def test_an_iban_with_a_right_checksum_is_found(written: str) -> None:
    text = f"Son IBAN : {written} MERCI"
    assert spans(text) == [written]
    assert kinds(text) == [FindingKind.BANK_ACCOUNT]


def test_an_iban_with_a_wrong_checksum_is_not_found() -> None:
    assert kinds("IBAN FR76 3000 6000 0112 3456 7890 188") == []


def test_a_french_rib_with_its_key_is_found_and_a_wrong_key_is_not() -> None:
    assert spans("RIB 30006 00001 12345678901 89.") == ["30006 00001 12345678901 89"]
    assert kinds("RIB 30006 00001 12345678901 88.") == []


def test_the_rib_inside_a_french_iban_is_one_finding() -> None:
    assert kinds(f"IBAN {VALID_IBAN}") == [FindingKind.BANK_ACCOUNT]


# -- health words --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Titulaire d'une rqth", "rqth"),
        ("Personne HANDICAPÉE", "HANDICAPÉE"),
        ("situation de handicap", "handicap"),
        ("une maladie chronique", "maladie"),
        ("diagnostic posé en mai", "diagnostic"),
        ("sous traitement lourd", "traitement"),
        ("sortie de depression", "depression"),
        ("Dépression sévère", "Dépression"),
        ("dossier MDPH en cours", "MDPH"),
        ("ancien burn out", "burn out"),
        ("absent pour raisons de santé", "raisons de santé"),
        ("des problèmes de santé récents", "problèmes de santé"),
        ("elle est enceinte", "est enceinte"),
        ("besoin d'un aménagement de poste", "aménagement de poste"),
    ],
)
def test_health_words_are_found_whatever_their_case_and_accents(text: str, found: str) -> None:
    findings = screen_text(text, "comment")
    assert [text[f.start : f.end] for f in findings] == [found]
    assert findings[0].kind is FindingKind.HEALTH


@pytest.mark.parametrize(
    "text",
    [
        "Un candidat maladroit mais motivé",  # malade/maladie are whole words only
        "Poste chez ALDI, rayon frais",
        "Merci pour le traitement de votre candidature",
        "Le traitement des candidatures prend une semaine",
        "Diagnostic de compétences réalisé en agence",
        "Diagnostic socio-professionnel fait le 3 mars",
        "Opérateur en traitement de surface, CACES 3",
        "Poste en hospitalisation à domicile",
        "Accueil dans l'enceinte de l'entreprise",
        "Secteur de la santé, aide-soignant de nuit",
    ],
)
def test_ordinary_wording_is_not_taken_for_health_data(text: str) -> None:
    assert screen_text(text, "message") == ()


def test_a_longer_keyword_is_reported_once_over_the_shorter_it_contains() -> None:
    text = "En arrêt maladie depuis janvier"
    findings = screen_text(text, "message")
    assert [text[f.start : f.end] for f in findings] == ["arrêt maladie"]


def test_the_keyword_list_is_data_with_the_words_the_issue_names() -> None:
    listed = " ".join(k.keyword.lower() for k in health_keywords())
    for word in ("rqth", "handicap", "maladie", "diagnostic", "traitement"):
        assert word in listed
    assert all(k.category and k.reason for k in health_keywords())
    assert health_allowed_phrases()


def _keyword_texts() -> list[str]:
    """For every keyword of the list, each alternative of its first word written as a person
    would (accents, capitals, a plural where the keyword takes any ending), in a sentence; and
    every allowed phrase, alone and around a keyword."""
    texts = []
    for keyword in health_keywords():
        first, *rest = keyword.keyword.split(" ")
        for alternative in first.split("|"):
            written = " ".join([alternative, *(w.split("|")[-1] for w in rest)])
            written = written.replace("*", "s").replace("_", " ")
            texts += [f"Candidat : {written}.", f"{written.upper()}, depuis mars", written]
    for phrase in health_allowed_phrases():
        texts += [phrase, f"{phrase} ; en arrêt maladie", f"Suivi d'une {phrase.upper()}"]
    return texts


def test_skipping_the_keywords_absent_from_a_text_changes_no_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keywords none of whose literal beginnings is in the text are not run (the screening's
    cost on every message): the findings are those of running every keyword."""
    texts = _keyword_texts()
    skipping = [screen_text(text, "message") for text in texts]
    assert sum(1 for found in skipping if found) > len(health_keywords())  # the list is exercised
    monkeypatch.setattr(screening, "_literal_starts", lambda _phrase: None)  # run every keyword
    assert [screen_text(text, "message") for text in texts] == skipping


def test_a_dpo_extended_list_is_applied() -> None:
    extra = HealthKeyword("mucoviscidose", "santé", "une mention de maladie rare")
    text = "Atteint de MUCOVISCIDOSE"
    assert screen_text(text, "message") == ()
    findings = screen_text(text, "message", keywords=[*health_keywords(), extra])
    assert [(f.kind, f.reason, text[f.start : f.end]) for f in findings] == [
        (FindingKind.HEALTH, "une mention de maladie rare", "MUCOVISCIDOSE")
    ]


# -- the messages --------------------------------------------------------------------------------
def test_a_finding_says_where_and_why_in_french_without_the_value() -> None:
    text = f"NIR : {VALID_NIR} ; IBAN {VALID_IBAN}"
    findings = screen_text(text, "message")
    assert [f.kind for f in findings] == [FindingKind.NIR, FindingKind.BANK_ACCOUNT]
    nir, bank = findings
    assert nir.message.startswith("Le champ « message » contient un numéro de sécurité sociale")
    assert "caractères 7 à 21" in nir.message
    assert "coordonnées bancaires" in bank.message
    for finding in findings:
        # Not a run of the value's digits: at most the positions (a few digits each).
        assert not re.search(r"\d{5}", finding.message)
        assert "3000" not in finding.message


def test_a_use_case_refuses_sensitive_texts_with_one_issue_per_finding() -> None:
    raise_if_sensitive({"comment": "RAS", "reason": None})
    with pytest.raises(InvalidInput) as refused:
        raise_if_sensitive({"comment": f"NIR {VALID_NIR}", "reason": "arrêt maladie"})
    assert refused.value.code == "personal-data-in-text"
    assert [(i.field, i.location) for i in refused.value.errors] == [
        ("comment", "body"),
        ("reason", "body"),
    ]
    assert refused.value.errors[0].message.startswith("Le champ « comment » contient un numéro")
    assert VALID_NIR not in str(refused.value) + " ".join(i.message for i in refused.value.errors)


def test_a_text_from_outside_can_be_kept_without_its_findings() -> None:
    text = f"Vu le candidat ({VALID_NIR}), RQTH, dispo lundi"
    redacted, findings = redact_text(text, "comment")
    assert redacted == f"Vu le candidat ({REDACTED}), {REDACTED}, dispo lundi"
    assert [f.kind for f in findings] == [FindingKind.NIR, FindingKind.HEALTH]
    assert redact_text("Dispo lundi", "comment") == ("Dispo lundi", ())


# -- phone numbers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("01 23 45 67 89", "+33123456789"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(written: str, e164: str) -> None:
    assert normalise_phone(written) == e164


def test_a_nir_typed_as_a_phone_number_is_refused_as_a_nir() -> None:
    with pytest.raises(PhoneNumberRefused) as refused:
        normalise_phone(VALID_NIR)
    assert "numéro de sécurité sociale" in refused.value.reason
    assert VALID_NIR[:5] not in refused.value.reason


@pytest.mark.parametrize("written", [wrong_key(VALID_NIR), "12", "06 12 34", "appelez-moi", ""])
def test_what_is_not_a_phone_number_is_refused(written: str) -> None:
    with pytest.raises(PhoneNumberRefused) as refused:
        normalise_phone(written)
    assert "n'est pas un numéro de téléphone" in refused.value.reason


# -- pydantic and HTTP ---------------------------------------------------------------------------
class ReferralIn(BaseModel):
    message: Annotated[ScreenedText, Field(min_length=1, max_length=4000)]
    comment: ScreenedText | None = None
    phone: PhoneNumber | None = None


def test_the_field_types_accept_clean_values_and_normalise_the_phone() -> None:
    model = ReferralIn(message="Profil motivé, disponible lundi", phone="06 12 34 56 78")
    assert model.phone == "+33612345678"
    assert model.comment is None


def test_the_field_types_refuse_with_a_french_message_naming_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        ReferralIn(message="ok", comment="Bénéficiaire de l'AAH", phone=VALID_NIR)
    errors = {e["loc"][0]: e for e in raised.value.errors()}
    assert set(errors) == {"comment", "phone"}
    assert errors["comment"]["type"] == "personal_data_in_text"
    assert errors["comment"]["msg"].startswith(
        "Le champ « comment » contient une mention de handicap"
    )
    assert errors["phone"]["type"] == "phone_number"
    assert errors["phone"]["msg"].startswith("Le champ « phone » contient un numéro de sécurité")
    assert VALID_NIR not in errors["phone"]["msg"]


async def test_a_route_answers_422_naming_the_field_and_never_echoing_the_value() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/referrals", status_code=201)
    async def create(body: ReferralIn) -> dict[str, str]:
        return {"message": body.message}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post(
            "/referrals", json={"message": f"NIR {VALID_NIR}, RQTH en cours"}
        )
        accepted = await client.post("/referrals", json={"message": "Profil motivé"})

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert [e["field"] for e in body["errors"]] == ["message"]
    assert "numéro de sécurité sociale" in body["errors"][0]["message"]
    assert "mention de handicap" in body["errors"][0]["message"]
    assert VALID_NIR not in refused.text
    assert accepted.status_code == 201


async def test_a_use_case_refusal_is_a_422_naming_the_field() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_domain_problem_handler(app)

    @app.post("/comments", status_code=201)
    async def comment(body: dict[str, str]) -> dict[str, str]:
        raise_if_sensitive({"comment": body.get("comment")})
        return body

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/comments", json={"comment": f"IBAN {VALID_IBAN}"})

    assert refused.status_code == 422
    body = refused.json()
    assert [e["field"] for e in body["errors"]] == ["comment"]
    assert "coordonnées bancaires" in body["errors"][0]["message"]
    assert "3000" not in refused.text
