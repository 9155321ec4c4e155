"""Phone numbers checked as phone numbers (issue 11, item 3), with Google's libphonenumber
metadata (``phonenumbers``).

A French number may be written nationally (``06 12 34 56 78``) or internationally
(``+33 6 12 34 56 78``); a foreign one needs its ``+`` prefix. Whatever is accepted is stored in
E.164 (``+33612345678``), so the same number is always the same string. A NIR typed in a phone
field (it has 15 digits, a French number 10) is refused with a message that says so.
"""

from __future__ import annotations

import phonenumbers

from shared.privacy.screening import contains_nir

#: Numbers without a ``+`` prefix are read as French ones.
DEFAULT_REGION = "FR"
#: E.164 allows 15 digits at most; anything longer is not worth parsing.
_MAX_INPUT_LENGTH = 40


class PhoneNumberRefused(ValueError):
    """The value is not a phone number. ``reason`` completes "Le champ « … » …", in French."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


NOT_A_PHONE = (
    "n'est pas un numéro de téléphone valide : attendu un numéro français (06 12 34 56 78) "
    "ou international précédé de + (+44 20 7946 0958)"
)
NIR_IN_PHONE = (
    "contient un numéro de sécurité sociale (NIR), pas un numéro de téléphone : le NIR ne doit "
    "jamais figurer sur la plateforme (décret 2019-341)"
)


def normalise_phone(value: str, *, region: str = DEFAULT_REGION) -> str:
    """The number in E.164, or :class:`PhoneNumberRefused`. The message never repeats the value."""
    text = value.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        raise PhoneNumberRefused(NOT_A_PHONE)
    if contains_nir(text):
        raise PhoneNumberRefused(NIR_IN_PHONE)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneNumberRefused(NOT_A_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberRefused(NOT_A_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
