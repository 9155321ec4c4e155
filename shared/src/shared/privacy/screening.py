"""Free text screened for what must never travel in it (issue 11, item 3).

A counsellor's message goes to a private agency's ERP; a comment lands in the timeline both sides
read. Neither may carry:

- a **NIR** (numéro d'inscription au répertoire, the social security number): its use is restricted
  by décret 2019-341 and this platform never stores it (DOMAIN.md). 13 characters (sex, year,
  month, département — ``2A``/``2B`` for Corsica —, commune, order) and a 2-digit key equal to
  ``97 - (number mod 97)``, Corsica counted as ``19`` (2A) and ``18`` (2B). Spaces, dots and dashes
  between the characters are tolerated; a 15-character number whose key is wrong is *not* a NIR
  (``stdnum.fr.nir`` computes the key);
- **bank details**: an IBAN (ISO 13616, mod-97 check and national structure, ``stdnum.iban``), or
  a French RIB (bank, branch, account, key = ``97 - ((89 × bank + 15 × branch + 3 × account)
  mod 97)``, letters of the account counted as the RIB letter table says);
- **health data** (GDPR art. 9: RQTH, handicap, illness, treatment…): words from
  ``health_keywords.csv`` (keyword, category, French reason), a list a DPO extends without code.
  Matching ignores accents and case and takes whole words only. In a keyword, spaces separate
  words, ``a|b`` offers alternatives for one word (``_`` stands for a space inside one), a
  trailing ``*`` accepts any ending (``handicap*`` finds "handicapée"), and a dash also matches a
  space or nothing (``burn-out``). ``health_allowed_phrases.csv`` lists the everyday phrases that
  contain a keyword without being health data ("traitement de la candidature", "diagnostic de
  compétences"): a keyword inside one of them is not a finding.

A finding gives its kind, the field, the position and a French reason a counsellor understands;
neither the finding nor its message ever repeats the value found.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from stdnum import iban
from stdnum.fr import nir

from shared.domain.errors import FieldIssue, InvalidInput

HEALTH_KEYWORDS_FILE = "health_keywords.csv"
HEALTH_ALLOWED_PHRASES_FILE = "health_allowed_phrases.csv"


class FindingKind(StrEnum):
    NIR = "nir"
    BANK_ACCOUNT = "bank_account"
    HEALTH = "health"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the text must not contain. ``start``/``end``: a slice of the text (0-based)."""

    kind: FindingKind
    field: str
    start: int
    end: int
    #: French, a noun phrase completing "Le champ « … » contient …"; never the value itself.
    reason: str
    #: The health category (``handicap``, ``santé``…) for a health finding.
    category: str | None = None

    @property
    def message(self) -> str:
        """The sentence shown to the person who wrote the text (positions counted from 1)."""
        return (
            f"Le champ « {self.field} » contient {self.reason} "
            f"(caractères {self.start + 1} à {self.end}). Retirez-le avant d'envoyer."
        )


@dataclass(frozen=True, slots=True)
class HealthKeyword:
    keyword: str
    category: str
    reason: str


NIR_REASON = (
    "un numéro de sécurité sociale (NIR) : son usage est réservé par la loi (décret 2019-341) "
    "et il ne doit jamais figurer sur la plateforme"
)
IBAN_REASON = (
    "des coordonnées bancaires (IBAN) : elles n'ont pas à être transmises à une agence ni "
    "conservées sur la plateforme"
)
RIB_REASON = (
    "des coordonnées bancaires (RIB) : elles n'ont pas à être transmises à une agence ni "
    "conservées sur la plateforme"
)


def screen_text(
    text: str,
    field: str,
    *,
    keywords: Sequence[HealthKeyword] | None = None,
    allowed_phrases: Sequence[str] | None = None,
) -> tuple[Finding, ...]:
    """Everything in ``text`` that must not be there, in the order it appears.

    ``keywords`` and ``allowed_phrases`` default to the package's data files.
    """
    bank = [*_ibans(text, field), *_ribs(text, field)]
    bank = _outermost(bank)
    nirs = [f for f in _nirs(text, field) if not any(_inside(f, b) for b in bank)]
    health = _health(
        text,
        field,
        health_keywords() if keywords is None else keywords,
        health_allowed_phrases() if allowed_phrases is None else allowed_phrases,
    )
    return tuple(sorted([*nirs, *bank, *health], key=lambda f: (f.start, -f.end, f.kind)))


#: What stands in place of a finding in a redacted text.
REDACTED = "[retiré]"
SCREENED_TEXT_CODE = "personal-data-in-text"


def raise_if_sensitive(texts: Mapping[str, str | None]) -> None:
    """For a use case or a consumer (texts that did not come through a ``ScreenedText`` field):
    refuse with :class:`~shared.domain.errors.InvalidInput` (a 422 on a route, a ``rejected``
    dead letter in a consumer), one issue per finding, named by the field. ``texts``: field
    name → text (``None`` is skipped)."""
    findings = [
        finding
        for field, text in texts.items()
        if text is not None
        for finding in screen_text(text, field)
    ]
    if findings:
        raise InvalidInput(
            "Le texte contient des données qui ne doivent pas être transmises.",
            errors=[FieldIssue(f.field, f.message) for f in findings],
            code=SCREENED_TEXT_CODE,
        )


def redact_text(text: str, field: str) -> tuple[str, tuple[Finding, ...]]:
    """``text`` with each finding replaced by :data:`REDACTED`, and the findings: for text from
    outside (an agency's ERP) that is better kept without the finding than refused whole."""
    findings = screen_text(text, field)
    parts: list[str] = []
    position = 0
    for finding in findings:
        if finding.start < position:  # overlapping findings: the first one covered it
            position = max(position, finding.end)
            continue
        parts += [text[position : finding.start], REDACTED]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts), findings


_EMAIL = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
#: A French number (0X XX XX XX XX, +33 X…) or an international one in E.164; never the digits of
#: an identifier (a UUID, an offset, a queue id): the number stands alone.
_PHONE = re.compile(
    r"(?<![\w-])(?:(?:\+\d{1,3}[\s.\-]?|0)[1-9](?:[\s.\-]?\d{2}){4}|\+\d{8,15})(?![\w-])"
)


def screen_error_text(text: str) -> str:
    """An error text (an SMTP reply, a partner's refusal detail) fit to store, log or publish:
    e-mail addresses, phone numbers, NIR, bank details and health words replaced by
    « [retiré] ». Such texts are written by machines and only echo what they were given, so
    they are redacted rather than refused."""
    text = _EMAIL.sub(REDACTED, text)
    text, _ = redact_text(text, "error")
    return _PHONE.sub(REDACTED, text)


def contains_nir(text: str) -> bool:
    """Whether ``text`` holds a NIR whose key is right."""
    return any(True for _ in _nirs(text, ""))


# -- numbers -----------------------------------------------------------------------------------
#: What people put between the characters of a number: spaces (also non-breaking), dots, dashes.
_SEP = r"[ \u00a0\u202f.\-]?"
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"

# A lookahead so that every start is tried (candidates may overlap); 15 significant characters:
# sex (1, 2; 3, 4, 7, 8 for temporary and foreign-born registrations), year, month, département
# (2 digits or 2A/2B), commune, order, key.
_NIR = re.compile(
    _NOT_ALNUM_BEFORE
    + r"(?=([1-478](?:"
    + _SEP
    + r"\d){4}"
    + _SEP
    + r"(?:\d"
    + _SEP
    + r"\d|2"
    + _SEP
    + r"[ABab])(?:"
    + _SEP
    + r"\d){8})"
    + _NOT_ALNUM_AFTER
    + r")"
)
_IBAN = re.compile(
    _NOT_ALNUM_BEFORE + r"(?=([A-Za-z]{2}" + _SEP + r"\d\d(?:" + _SEP + r"[0-9A-Za-z]){11,30}))"
)
_RIB = re.compile(
    _NOT_ALNUM_BEFORE
    + r"(?=(\d(?:"
    + _SEP
    + r"\d){9}(?:"
    + _SEP
    + r"[0-9A-Za-z]){11}(?:"
    + _SEP
    + r"\d){2})"
    + _NOT_ALNUM_AFTER
    + r")"
)
_SEPARATORS = frozenset(" \u00a0\u202f.-")


def _significant(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """The characters of ``text[start:end]`` without separators, upper-cased, and where each is."""
    chars: list[str] = []
    where: list[int] = []
    for i in range(start, end):
        if text[i] not in _SEPARATORS:
            chars.append(text[i].upper())
            where.append(i)
    return "".join(chars), where


def _nirs(text: str, field: str) -> Iterable[Finding]:
    for match in _NIR.finditer(text):
        start, end = match.span(1)
        number, _ = _significant(text, start, end)
        if nir.is_valid(number):
            yield Finding(FindingKind.NIR, field, start, end, NIR_REASON)


def _ibans(text: str, field: str) -> Iterable[Finding]:
    for match in _IBAN.finditer(text):
        start, end = match.span(1)
        number, where = _significant(text, start, end)
        # The pattern may run into the next word: the longest prefix that checks is the IBAN.
        for length in range(len(number), 14, -1):
            after = where[length - 1] + 1
            if after < len(text) and text[after].isalnum():
                continue
            if iban.is_valid(number[:length]):
                yield Finding(FindingKind.BANK_ACCOUNT, field, start, after, IBAN_REASON)
                break


#: RIB letters: A and J count 1, B, K and S count 2… (the banks' conversion table).
_RIB_LETTERS = {c: str(i % 9 + 1) for i, c in enumerate("ABCDEFGHI")}
_RIB_LETTERS |= {c: str(i % 9 + 1) for i, c in enumerate("JKLMNOPQR")}
_RIB_LETTERS |= {c: str(i % 9 + 2) for i, c in enumerate("STUVWXYZ")}


def rib_key(bank: str, branch: str, account: str) -> int:
    """The 2-digit key of a French RIB."""
    digits = "".join(_RIB_LETTERS.get(c, c) for c in account.upper())
    return 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(digits)) % 97)


def _ribs(text: str, field: str) -> Iterable[Finding]:
    for match in _RIB.finditer(text):
        start, end = match.span(1)
        number, _ = _significant(text, start, end)
        bank, branch, account, key = number[:5], number[5:10], number[10:21], number[21:]
        if rib_key(bank, branch, account) == int(key):
            yield Finding(FindingKind.BANK_ACCOUNT, field, start, end, RIB_REASON)


def _inside(inner: Finding, outer: Finding) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end and inner != outer


def _outermost(findings: list[Finding]) -> list[Finding]:
    """Drop a finding inside another (the RIB inside a French IBAN)."""
    return [f for f in findings if not any(_inside(f, other) for other in findings)]


# -- health words ------------------------------------------------------------------------------
def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` without accents, case-folded, and for each character the index it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text.replace("’", "'")):
        for decomposed in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(decomposed):
                continue
            for folded in _LIGATURES.get(decomposed, decomposed).casefold():
                out.append(folded)
                where.append(i)
    return "".join(out), where


_LIGATURES = {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"}
_WORD_GAP = r"[\s\-']+"


def _word_pattern(word: str) -> str:
    alternatives = []
    for alternative in word.split("|"):
        any_ending = alternative.endswith("*")
        alternative = alternative.rstrip("*")
        parts = []
        for ch in alternative:
            if ch == "-":
                parts.append(r"[\s\-]?")
            elif ch == "_":
                parts.append(_WORD_GAP)
            elif ch == "'":
                parts.append(r"'\s*")
            else:
                parts.append(re.escape(ch))
        alternatives.append("".join(parts) + (r"\w*" if any_ending else ""))
    return "(?:" + "|".join(alternatives) + ")"


@cache
def _compile(phrase: str) -> re.Pattern[str]:
    folded, _ = _fold(phrase.strip())
    words = folded.split()
    if not words:
        raise ValueError("empty keyword")
    return re.compile(r"(?<!\w)" + _WORD_GAP.join(_word_pattern(w) for w in words) + r"(?!\w)")


@cache
def _literal_starts(phrase: str) -> tuple[str, ...] | None:
    """What every match of :func:`_compile` ``(phrase)`` begins with, literally: the leading
    plain characters of each alternative of its first word (None when one has none)."""
    folded, _ = _fold(phrase.strip())
    starts = []
    for alternative in folded.split()[0].split("|"):
        prefix = ""
        for ch in alternative.rstrip("*"):
            if ch in "-_'":
                break
            prefix += ch
        if not prefix:
            return None
        starts.append(prefix)
    return tuple(starts)


def _health(
    text: str,
    field: str,
    keywords: Sequence[HealthKeyword],
    allowed_phrases: Sequence[str],
) -> list[Finding]:
    folded, where = _fold(text)
    allowed: list[tuple[int, int]] | None = None  # read once a keyword is found
    spans: dict[tuple[int, int], HealthKeyword] = {}
    for keyword in keywords:
        starts = _literal_starts(keyword.keyword)
        # A keyword none of whose literal beginnings is in the text cannot match: not run (most
        # of the list, for most texts; the findings are the same).
        if starts is not None and not any(start in folded for start in starts):
            continue
        for m in _compile(keyword.keyword).finditer(folded):
            if allowed is None:
                allowed = [a.span() for p in allowed_phrases for a in _compile(p).finditer(folded)]
            if any(a <= m.start() and m.end() <= b for a, b in allowed):
                continue
            spans.setdefault(m.span(), keyword)
    # One finding per place: a longer keyword covering a shorter one ("arrêt maladie" over
    # "maladie") is the one reported.
    kept = [
        span
        for span in spans
        if not any(o != span and o[0] <= span[0] and span[1] <= o[1] for o in spans)
    ]
    return [
        Finding(
            FindingKind.HEALTH,
            field,
            where[a],
            where[b - 1] + 1,
            spans[(a, b)].reason,
            spans[(a, b)].category,
        )
        for a, b in sorted(kept)
    ]


def _data_rows(name: str) -> list[dict[str, str]]:
    with (
        resources.files(__package__ or "shared.privacy").joinpath(name).open(encoding="utf-8") as f
    ):
        return [row for row in csv.DictReader(f) if any((v or "").strip() for v in row.values())]


@cache
def health_keywords() -> tuple[HealthKeyword, ...]:
    """The health keyword list (``health_keywords.csv``), each keyword checked to compile."""
    keywords = tuple(
        HealthKeyword(row["keyword"].strip(), row["category"].strip(), row["reason"].strip())
        for row in _data_rows(HEALTH_KEYWORDS_FILE)
    )
    for keyword in keywords:
        if not keyword.reason or not keyword.category:
            raise ValueError(
                f"{HEALTH_KEYWORDS_FILE}: {keyword.keyword!r} needs a category and reason"
            )
        _compile(keyword.keyword)
    return keywords


@cache
def health_allowed_phrases() -> tuple[str, ...]:
    """Phrases that contain a health keyword without being health data."""
    phrases = tuple(row["phrase"].strip() for row in _data_rows(HEALTH_ALLOWED_PHRASES_FILE))
    for phrase in phrases:
        _compile(phrase)
    return phrases
