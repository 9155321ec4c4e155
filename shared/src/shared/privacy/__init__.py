"""Personal-data protection every service applies the same way (issue 11, DESIGN.md "Personal data
and access").

- :mod:`shared.privacy.screening`: free text (referral messages, comments) searched for what must
  never travel in it: a NIR (social security number, décret 2019-341), bank details (IBAN, RIB), and
  health words (GDPR art. 9) from a list kept as data (``health_keywords.csv``) that a DPO extends;
  ``raise_if_sensitive`` refuses such texts from a use case or consumer, ``redact_text`` keeps a
  text from outside without them.
- :mod:`shared.privacy.phone`: phone numbers checked as phone numbers and normalised to E.164.
- :mod:`shared.privacy.fields`: the pydantic types routers and contracts use, ``ScreenedText`` and
  ``PhoneNumber``, which turn a finding into a French 422 message naming the field.
- :mod:`shared.privacy.statistical_secrecy`: indicator tables with cells under the secrecy
  threshold hidden, and enough other cells hidden that no total gives them back
  (``protect_table``, ``protect_counts`` for one count per group, ``rate_is_secret``).

- :mod:`shared.privacy.retention`: published outbox rows and idempotency records deleted past
  their retention (7 days, 24 hours: settings), for each service's periodic job.

Plain Python except ``retention`` (which works in the caller's database session): no broker, no
HTTP. The data files are read once from the package.
"""

from shared.privacy.fields import PhoneNumber, ScreenedText
from shared.privacy.phone import PhoneNumberRefused, normalise_phone
from shared.privacy.screening import (
    Finding,
    FindingKind,
    raise_if_sensitive,
    redact_text,
    screen_error_text,
    screen_text,
)
from shared.privacy.statistical_secrecy import (
    DEFAULT_SECRECY_THRESHOLD,
    SECRET_MARK,
    ProtectedCell,
    ProtectedTable,
    Suppression,
    disclosed_cells,
    protect_counts,
    protect_table,
    rate_is_secret,
)

__all__ = [
    "DEFAULT_SECRECY_THRESHOLD",
    "SECRET_MARK",
    "Finding",
    "FindingKind",
    "PhoneNumber",
    "PhoneNumberRefused",
    "ProtectedCell",
    "ProtectedTable",
    "ScreenedText",
    "Suppression",
    "disclosed_cells",
    "normalise_phone",
    "protect_counts",
    "protect_table",
    "raise_if_sensitive",
    "rate_is_secret",
    "redact_text",
    "screen_error_text",
    "screen_text",
]
