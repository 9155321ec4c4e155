"""The three services are one house: the same tree, routers without SQL, a domain without I/O,
tests sorted by tier (docs/architecture.md, "Service layout"). A service that departs from the
layout fails here, with what to fix."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("referral", "dispositifs", "notifications")

#: Every service has these, with these names.
REQUIRED = {
    "__init__.py",
    "__main__.py",
    "app.py",
    "settings.py",
    "models.py",
    "access.py",
    "consumers.py",
    "jobs.py",
    "migrations",
    "domain",
    "use_cases",
    "api",
}
#: A service has these when it has something to put in them.
OPTIONAL = {"adapters", "data", "seed.py"}
MAX_LINES = 500
#: What the domain never imports: it is plain Python.
IO_PACKAGES = {"sqlalchemy", "fastapi", "starlette", "httpx", "aiokafka", "aiosqlite", "asyncpg"}
TIERS = {"unit", "service", "messaging"}


def _package(service: str) -> Path:
    return ROOT / "services" / service / "src" / service


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("service", SERVICES)
def test_service_tree_follows_the_layout(service: str) -> None:
    entries = {p.name for p in _package(service).iterdir() if p.name != "__pycache__"}
    assert entries >= REQUIRED, f"{service}: missing {sorted(REQUIRED - entries)}"
    assert entries <= REQUIRED | OPTIONAL, (
        f"{service}: {sorted(entries - REQUIRED - OPTIONAL)} are outside the layout: "
        "move them into domain/, use_cases/, api/ or adapters/"
    )
    assert (_package(service) / "api" / "deps.py").is_file(), f"{service}: api/deps.py"
    assert (_package(service) / "use_cases" / "queries.py").is_file(), f"{service}: queries.py"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("folder", ["use_cases", "api"])
def test_use_case_and_router_modules_stay_short(service: str, folder: str) -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(_package(service) / folder)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("service", SERVICES)
def test_routers_do_not_touch_the_store(service: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules(_package(service) / "api")
        if "sqlalchemy" in _imports(p)
    ]
    assert not offenders, f"routers importing sqlalchemy (move the read to use_cases): {offenders}"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_is_plain_python(service: str) -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & IO_PACKAGES)
        for p in _modules(_package(service) / "domain")
        if _imports(p) & IO_PACKAGES
    }
    assert not offenders, f"domain modules doing I/O: {offenders}"


@pytest.mark.parametrize("service", SERVICES)
def test_tests_are_sorted_by_tier(service: str) -> None:
    tests = ROOT / "services" / service / "tests"
    tiers = {p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert tiers == TIERS, f"{service}: test folders {sorted(tiers)}, expected {sorted(TIERS)}"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    assert not loose, f"{service}: tests outside a tier folder: {loose}"
