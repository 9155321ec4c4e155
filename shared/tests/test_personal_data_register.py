"""The data register (docs/personal-data.md) names every personal column of the three services'
stores and every personal field of the event contracts (issue 11, item 1).

The models are read as source (``ast``), not imported: the test needs no service installed and
follows the files wherever their classes are declared inside ``models.py``."""

from __future__ import annotations

import ast
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from shared.contracts import base as contract_base
from shared.contracts.topics import DEAD_LETTER_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "docs" / "personal-data.md"
MODELS = {
    "referral": ROOT / "services/referral/src/referral/models.py",
    "dispositifs": ROOT / "services/dispositifs/src/dispositifs/models.py",
    "notifications": ROOT / "services/notifications/src/notifications/models.py",
}
#: The outbox, processed-events and idempotency tables every store has.
PLATFORM_TABLES = ROOT / "shared/src/shared/db/tables.py"

#: Names that say "a person" on their own.
PERSONAL_NAMES = frozenset(
    {
        "ft_identifier",
        "job_seeker_id",
        "message",
        "comment",
        "details",
        "body",
        "data",
        "response_body",
        "assessment",
        "justification",
        "results",
        "display_name",
        "tutor_name",
        "tutor_function",
        "support_referent",
        "address",
        "counsellor_id",
        "actor_id",
        "recipient_id",
        "principal",
        "recorded_by",
        "withdrawn_by",
        "validated_by",
        "decided_by",
        "created_by",
    }
)
#: Endings that do too, whatever the prefix (``beneficiary_first_name``, ``tutor_email``…).
PERSONAL_ENDINGS = ("first_name", "last_name", "email", "phone", "birth_date", "rqth", "brsa")

COLUMNS = (
    "store",
    "table/topic",
    "field",
    "category",
    "purpose",
    "legal basis",
    "recipients",
    "retention",
    "erasure",
)


def is_personal(name: str) -> bool:
    return name in PERSONAL_NAMES or name.endswith(PERSONAL_ENDINGS)


def register_rows() -> list[dict[str, str]]:
    text = REGISTER.read_text(encoding="utf-8")
    match = re.search(r"<!-- register:start -->\n(.*?)<!-- register:end -->", text, re.S)
    assert match, "docs/personal-data.md has no machine-readable register"
    lines = [line.strip() for line in match.group(1).splitlines() if line.strip()]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert tuple(header) == COLUMNS
    assert set(lines[1].replace("|", "").strip()) <= {"-", ":", " "}
    rows = []
    for line in lines[2:]:
        cells = [c.strip().strip("`").replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]
        cells = cells[1:-1]
        assert len(cells) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def listed() -> set[tuple[str, str, str]]:
    return {(r["store"], r["table/topic"], r["field"]) for r in register_rows()}


# -- reading the models ------------------------------------------------------------------------
def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def model_columns(path: Path) -> dict[str, set[str]]:
    """Table name → its mapped columns, for every declarative class of the file."""
    tables: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ClassDef):
            continue
        table = None
        columns = set()
        for statement in node.body:
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__tablename__" for t in statement.targets
            ):
                assert isinstance(statement.value, ast.Constant)
                table = str(statement.value.value)
            elif (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and _call_name(statement.value) == "mapped_column"  # type: ignore[arg-type]
            ):
                columns.add(statement.target.id)
        if table is not None:
            tables[table] = columns
    return tables


def platform_columns() -> dict[str, set[str]]:
    """The ``Table("name", metadata, Column("col", …), …)`` declarations of the platform tables."""
    tables: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(PLATFORM_TABLES.read_text(encoding="utf-8"))):
        if _call_name(node) == "Table":  # type: ignore[arg-type]
            assert isinstance(node, ast.Call)
            name = node.args[0]
            assert isinstance(name, ast.Constant)
            tables[str(name.value)] = {
                str(arg.args[0].value)
                for arg in node.args
                if _call_name(arg) == "Column"
                and isinstance(arg, ast.Call)
                and isinstance(arg.args[0], ast.Constant)
            }
    return tables


def store_columns(store: str) -> dict[str, set[str]]:
    return {**platform_columns(), **model_columns(MODELS[store])}


# -- reading the contracts ---------------------------------------------------------------------
def _submodels(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _submodels(argument)


def field_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        yield prefix + name
        for submodel in _submodels(info.annotation):
            yield from field_paths(submodel, f"{prefix}{name}.")


def contract_fields() -> dict[str, set[str]]:
    """Topic (or topic template) → the field paths its declared events carry."""
    import shared.contracts  # noqa: F401  (registers every event type)

    topics: dict[str, set[str]] = {}
    for model in contract_base.declared_event_types().values():
        topics.setdefault(model.topic, set()).update(field_paths(model))
    return topics


# -- the checks --------------------------------------------------------------------------------
def test_the_register_is_a_table_with_every_column_filled() -> None:
    rows = register_rows()
    assert len(rows) > 50
    for row in rows:
        for column, value in row.items():
            assert value, f"{row['store']}.{row['table/topic']}.{row['field']}: {column} is empty"
    keys = [(r["store"], r["table/topic"], r["field"]) for r in rows]
    assert len(keys) == len(set(keys)), "a field is listed twice"


def test_the_models_are_where_the_register_test_reads_them() -> None:
    for store, path in MODELS.items():
        assert path.is_file(), path
        assert model_columns(path), f"no table found in {path} for {store}"
    assert {"outbox", "idempotency_keys", "processed_events"} <= set(platform_columns())


@pytest.mark.parametrize("store", sorted(MODELS))
def test_every_personal_column_of_the_store_is_in_the_register(store: str) -> None:
    register = listed()
    missing = sorted(
        f"{table}.{column}"
        for table, columns in store_columns(store).items()
        for column in columns
        if is_personal(column) and (store, table, column) not in register
    )
    assert not missing, f"docs/personal-data.md lacks, for the {store} store: {missing}"


@pytest.mark.parametrize("store", sorted(MODELS))
def test_the_register_names_only_columns_that_exist(store: str) -> None:
    tables = store_columns(store)
    stale = sorted(
        f"{table}.{field}"
        for s, table, field in listed()
        if s == store and field not in tables.get(table, set())
    )
    assert not stale, (
        f"docs/personal-data.md names columns the {store} store does not have: {stale}"
    )


def test_every_personal_event_field_is_in_the_register() -> None:
    register = listed()
    missing = sorted(
        f"{topic}: {path}"
        for topic, paths in contract_fields().items()
        for path in paths
        if is_personal(path.rsplit(".", 1)[-1]) and ("kafka", topic, path) not in register
    )
    assert not missing, f"docs/personal-data.md lacks these event fields: {missing}"


def test_the_register_names_only_event_fields_that_exist() -> None:
    declared = contract_fields()
    stale = sorted(
        f"{topic}: {field}"
        for store, topic, field in listed()
        if store == "kafka"
        and not topic.endswith(DEAD_LETTER_SUFFIX)
        and field not in declared.get(topic, set())
    )
    assert not stale, f"docs/personal-data.md names event fields no contract declares: {stale}"


def test_every_topic_has_its_dead_letter_copy_in_the_register() -> None:
    register = listed()
    missing = sorted(
        topic + DEAD_LETTER_SUFFIX
        for topic in contract_fields()
        if ("kafka", topic + DEAD_LETTER_SUFFIX, "*") not in register
    )
    assert not missing, f"docs/personal-data.md lacks the dead-letter topics {missing}"


def test_the_register_would_catch_a_new_personal_column(tmp_path: Path) -> None:
    # The check can fail: a models file with a column the register does not know.
    path = tmp_path / "models.py"
    path.write_text(
        "class Guardian(Base):\n"
        "    __tablename__ = 'guardians'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    guardian_phone: Mapped[str] = mapped_column(String(20))\n",
        encoding="utf-8",
    )
    columns = model_columns(path)
    assert columns == {"guardians": {"id", "guardian_phone"}}
    assert [c for c in columns["guardians"] if is_personal(c)] == ["guardian_phone"]
    assert ("referral", "guardians", "guardian_phone") not in listed()
