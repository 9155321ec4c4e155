"""Pydantic types for request models and contracts: ``ScreenedText`` and ``PhoneNumber``.

Used as field types, they refuse the value with a French message naming the field; through
FastAPI (and the shared problem handler) that is a 422 whose ``errors`` give the field and the
message, never the value::

    class ReferralIn(BaseModel):
        message: Annotated[ScreenedText, Field(min_length=1, max_length=4000)]
        phone: PhoneNumber | None = None

A pydantic error's ``input`` holds the refused value: the shared handler leaves it out of the
problem body, and so must any other place that reports a ``ValidationError``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from shared.privacy.phone import PhoneNumberRefused, normalise_phone
from shared.privacy.screening import screen_text

#: The error type in pydantic errors, for clients and tests that match on it.
SCREENED_TEXT_ERROR = "personal_data_in_text"
PHONE_NUMBER_ERROR = "phone_number"


def _field_name(info: ValidationInfo) -> str:
    return info.field_name or "texte"


def _screened(value: str, info: ValidationInfo) -> str:
    findings = screen_text(value, _field_name(info))
    if findings:
        # No context dict: the message is final, and nothing of the value rides along.
        raise PydanticCustomError(SCREENED_TEXT_ERROR, " ".join(f.message for f in findings))
    return value


def _phone(value: str, info: ValidationInfo) -> str:
    try:
        return normalise_phone(value)
    except PhoneNumberRefused as refused:
        raise PydanticCustomError(
            PHONE_NUMBER_ERROR, f"Le champ « {_field_name(info)} » {refused.reason}."
        ) from None


#: Free text that may reach another organisation: refused when it holds a NIR, bank details or a
#: health word (:func:`shared.privacy.screening.screen_text`).
ScreenedText = Annotated[str, AfterValidator(_screened)]

#: A phone number, French or international, stored in E.164.
PhoneNumber = Annotated[
    str,
    AfterValidator(_phone),
    Field(
        description="Numéro de téléphone, français (06 12 34 56 78) ou international "
        "(+44 20 7946 0958); enregistré au format E.164.",
        examples=["+33612345678"],
    ),
]
