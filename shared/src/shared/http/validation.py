"""Request validation errors as people read them: a French message, and the field named as the
client sent it.

FastAPI hands over pydantic v2 errors (``{"type", "loc", "msg", "input", "ctx"}``) whose messages
are English and whose ``loc`` mixes the client's names with pydantic's own (union members such as
``str`` or ``function-after[…]``, the tag of a tagged union). :func:`describe` turns one into
``(location, field, message)``:

- ``location`` is ``body``, ``query``, ``path``, ``header`` or ``cookie``;
- ``field`` is the client's path: aliases as sent, ``.`` between names, ``[i]`` for list items
  (``job_seeker.ft_identifier``, ``items[2].code``); a name pydantic added that is not in the body
  is left out; a body that is not JSON at all is field ``body``;
- ``message`` is French, from the error's type and context (limits, pattern, allowed values); a
  message a validator wrote itself (``ValueError("…")``, or a ``PydanticCustomError`` of a type
  of ours, as ``shared.privacy`` raises) is kept as written.

:data:`Omittable` is for the fields of a partial update (PATCH) that may be left out but not set
to ``null``: ``prescriber: Omittable[PrescriberIn] = None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")

NULL_REFUSED = "null_refused"


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(NULL_REFUSED, "null is not accepted: leave the field out")
    return value


#: A field that may be omitted (its default, usually ``None``, then applies) but not sent as
#: ``null``: the value of a PATCH field that has no "empty" state.
Omittable = Annotated[T | None, BeforeValidator(_refuse_null)]

LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})

#: French message per pydantic error type; ``{name}`` is filled from the error's context.
MESSAGES: dict[str, str] = {
    "missing": "Champ obligatoire.",
    NULL_REFUSED: "Valeur null non acceptée : omettez le champ pour ne pas le modifier.",
    "extra_forbidden": "Champ inconnu : il n'est pas accepté ici.",
    "string_type": "Chaîne de caractères attendue.",
    "string_too_short": "Trop court : {min_length} caractère(s) au moins.",
    "string_too_long": "Trop long : {max_length} caractère(s) au plus.",
    "string_pattern_mismatch": "Format invalide (motif attendu : {pattern}).",
    "string_not_ascii": "Seuls les caractères ASCII sont acceptés.",
    "string_unicode": "Chaîne Unicode invalide.",
    "int_type": "Nombre entier attendu.",
    "int_parsing": "Nombre entier attendu.",
    "int_parsing_size": "Nombre entier hors des bornes acceptées.",
    "int_from_float": "Nombre entier attendu, sans partie décimale.",
    "float_type": "Nombre attendu.",
    "float_parsing": "Nombre attendu.",
    "finite_number": "Nombre fini attendu.",
    "decimal_type": "Nombre décimal attendu.",
    "decimal_parsing": "Nombre décimal attendu.",
    "decimal_max_digits": "{max_digits} chiffre(s) au plus.",
    "decimal_max_places": "{decimal_places} décimale(s) au plus.",
    "decimal_whole_digits": "{whole_digits} chiffre(s) au plus avant la virgule.",
    "bool_type": "Booléen attendu (true ou false).",
    "bool_parsing": "Booléen attendu (true ou false).",
    "greater_than": "Doit être strictement supérieur à {gt}.",
    "greater_than_equal": "Doit être supérieur ou égal à {ge}.",
    "less_than": "Doit être strictement inférieur à {lt}.",
    "less_than_equal": "Doit être inférieur ou égal à {le}.",
    "multiple_of": "Doit être un multiple de {multiple_of}.",
    "enum": "Valeur non reconnue ; valeurs acceptées : {expected}.",
    "literal_error": "Valeur non reconnue ; valeurs acceptées : {expected}.",
    "uuid_type": "Identifiant UUID attendu.",
    "uuid_parsing": "Identifiant UUID attendu (ex. 3f2c8a0e-5b1d-4c7e-9a6f-2d4b8e1c0a97).",
    "uuid_version": "UUID de version {expected_version} attendu.",
    "datetime_type": "Date et heure attendues (ISO 8601, ex. 2026-03-02T09:30:00+01:00).",
    "datetime_parsing": "Date et heure attendues (ISO 8601, ex. 2026-03-02T09:30:00+01:00).",
    "datetime_from_date_parsing": "Date et heure attendues (ISO 8601, ex. 2026-03-02T09:30:00Z).",
    "datetime_object_invalid": "Date et heure invalides.",
    "datetime_past": "Date et heure passées attendues.",
    "datetime_future": "Date et heure futures attendues.",
    "timezone_aware": "Fuseau horaire obligatoire (ex. +01:00 ou Z).",
    "timezone_naive": "Date et heure sans fuseau horaire attendues.",
    "timezone_offset": "Décalage horaire attendu : {tz_expected}.",
    "date_type": "Date attendue (AAAA-MM-JJ).",
    "date_parsing": "Date attendue (AAAA-MM-JJ).",
    "date_from_datetime_parsing": "Date attendue (AAAA-MM-JJ).",
    "date_from_datetime_inexact": "Date attendue, sans heure (AAAA-MM-JJ).",
    "date_past": "Date passée attendue.",
    "date_future": "Date future attendue.",
    "time_type": "Heure attendue (HH:MM[:SS]).",
    "time_parsing": "Heure attendue (HH:MM[:SS]).",
    "time_delta_type": "Durée attendue (ISO 8601, ex. PT2H, ou secondes).",
    "time_delta_parsing": "Durée attendue (ISO 8601, ex. PT2H, ou secondes).",
    "list_type": "Liste attendue.",
    "tuple_type": "Liste attendue.",
    "set_type": "Liste de valeurs distinctes attendue.",
    "frozen_set_type": "Liste de valeurs distinctes attendue.",
    "set_item_not_hashable": "Valeur non acceptée dans un ensemble.",
    "too_short": "Trop peu d'éléments : {min_length} au moins.",
    "too_long": "Trop d'éléments : {max_length} au plus.",
    "dict_type": "Objet JSON attendu.",
    "mapping_type": "Objet JSON attendu.",
    "model_type": "Objet JSON attendu.",
    "model_attributes_type": "Objet JSON attendu.",
    "dataclass_type": "Objet JSON attendu.",
    "dataclass_exact_type": "Objet JSON attendu.",
    "json_type": "Texte JSON attendu.",
    "json_invalid": "JSON illisible.",
    "url_type": "URL attendue.",
    "url_parsing": "URL invalide.",
    "url_syntax_violation": "URL invalide.",
    "url_too_long": "URL trop longue : {max_length} caractères au plus.",
    "url_scheme": "Schéma d'URL non accepté (attendu : {expected_schemes}).",
    "bytes_type": "Chaîne attendue.",
    "bytes_too_short": "Trop court : {min_length} octet(s) au moins.",
    "bytes_too_long": "Trop long : {max_length} octet(s) au plus.",
    "bytes_invalid_encoding": "Encodage invalide.",
    "none_required": "Seule la valeur null est acceptée ici.",
    "union_tag_invalid": "Valeur de « {discriminator} » non reconnue ; valeurs acceptées : "
    "{expected_tags}.",
    "union_tag_not_found": "Champ « {discriminator} » obligatoire.",
    "frozen_field": "Champ non modifiable.",
    "frozen_instance": "Objet non modifiable.",
    "recursion_loop": "Structure récursive refusée.",
    "recursion_depth_exceeded": "Structure trop profondément imbriquée.",
}

#: pydantic's own error types (English messages); any other type is a ``PydanticCustomError``
#: raised by our code (``shared.privacy``…), whose message is already written for people.
PYDANTIC_ERROR_TYPES = frozenset(get_args(core_schema.ErrorType))

#: Types that mean "a value of another kind was expected": a ``null`` there gets its own message.
_TYPE_ERRORS = frozenset(name for name in MESSAGES if name.endswith(("_type", "_parsing")))

#: The JSON decoder's messages (``json.JSONDecodeError.msg``), in French.
JSON_ERRORS: dict[str, str] = {
    "Expecting value": "valeur attendue",
    "Expecting property name enclosed in double quotes": "nom de champ entre guillemets attendu",
    "Expecting ',' delimiter": "virgule attendue",
    "Expecting ':' delimiter": "deux-points attendu",
    "Unterminated string starting at": "chaîne non terminée",
    "Invalid control character at": "caractère de contrôle interdit",
    "Invalid \\escape": "échappement invalide",
    "Invalid \\uXXXX escape": "échappement \\uXXXX invalide",
    "Extra data": "données en trop après le document",
}


def describe(error: Mapping[str, Any], body: Any = None) -> tuple[str, str, str]:
    """``(location, field, message)`` of one pydantic/FastAPI error; ``body`` is the decoded
    request body (``RequestValidationError.body``), used to tell the client's names from
    pydantic's."""
    loc: Sequence[Any] = tuple(error.get("loc") or ())
    kind = str(error.get("type", ""))
    location = str(loc[0]) if loc and loc[0] in LOCATIONS else "body"
    path = list(loc[1:]) if loc and loc[0] in LOCATIONS else list(loc)
    if kind == "json_invalid":
        return location, "body", _json_message(error, path)
    if location == "body" and body is not None:
        path = _client_path(path, body, kind)
    else:
        path = [part for part in path if not _is_pydantic_tag(part)]
    return location, _render(path) or location, message(error)


def message(error: Mapping[str, Any]) -> str:
    """The French message of one pydantic error."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in _TYPE_ERRORS and "input" in error and error["input"] is None:
        return "Valeur null non acceptée : " + _lower_first(MESSAGES[kind])
    if kind in ("value_error", "assertion_error"):
        return _custom_message(error, ctx)
    template = MESSAGES.get(kind)
    if template is None:
        if kind not in PYDANTIC_ERROR_TYPES and error.get("msg"):
            return str(error["msg"])  # our own custom error: its message is the French one
        return "Valeur invalide."
    try:
        return template.format_map(_FrenchContext(ctx))
    except (KeyError, IndexError, ValueError):
        return template.split(":")[0].split("(")[0].strip().rstrip(".;") + "."


def _json_message(error: Mapping[str, Any], path: Sequence[Any]) -> str:
    position = path[0] if path and isinstance(path[0], int) else None
    reason = str((error.get("ctx") or {}).get("error", ""))
    french = JSON_ERRORS.get(reason)
    text = "JSON illisible"
    if position is not None:
        text += f" à la position {position}"
    return f"{text} : {french}." if french else f"{text}."


def _custom_message(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    raw = str(error.get("msg", ""))
    if "email address" in raw:  # pydantic's EmailStr (email-validator) speaks English
        return "Adresse e-mail invalide."
    reason = ctx.get("error")
    text = str(reason) if reason is not None else raw
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text or "Valeur invalide."


def _client_path(path: Sequence[Any], body: Any, kind: str) -> list[Any]:
    """Keep the parts of ``loc`` the client sent; skip pydantic's union members and tags."""
    kept: list[Any] = []
    current = body
    for index, part in enumerate(path):
        last = index == len(path) - 1
        in_object = isinstance(current, Mapping) and isinstance(part, str) and part in current
        in_list = (
            isinstance(current, list)
            and isinstance(part, int)
            and not isinstance(part, bool)
            and 0 <= part < len(current)
        )
        if in_object or in_list:
            kept.append(part)
            current = current[part]
        elif last and (kind == "missing" or not _is_pydantic_tag(part)):
            kept.append(part)  # a missing field is, by definition, not in the body
        # else: a name pydantic added (a union member, a tag): not the client's
    return kept


def _is_pydantic_tag(part: Any) -> bool:
    text = str(part)
    return "[" in text or text in {
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "none",
        "constrained-str",
        "lax-or-strict",
        "json-or-python",
    }


def _render(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class _FrenchContext(dict[str, Any]):
    """The error's context, with pydantic's English enumerations put into French."""

    def __init__(self, ctx: Mapping[str, Any]) -> None:
        super().__init__({key: _french_value(value) for key, value in ctx.items()})
        if isinstance(self.get("discriminator"), str):  # given quoted: "'species'"
            self["discriminator"] = self["discriminator"].strip("'")


def _french_value(value: Any) -> Any:
    if isinstance(value, str):
        # pydantic lists choices as "'a', 'b' or 'c'"
        head, sep, tail = value.rpartition(" or ")
        return f"{head} ou {tail}" if sep and head else value
    return value
