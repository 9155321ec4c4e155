"""The referral service keeps the platform's layout (issue 9): the folder says the tier."""

from __future__ import annotations

import ast
from pathlib import Path

import referral

ROOT = Path(referral.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_tiers_are_folders_and_modules() -> None:
    for folder in ("domain", "use_cases", "api", "adapters", "migrations"):
        assert (ROOT / folder).is_dir(), folder
    for module in ("access.py", "consumers.py", "jobs.py", "models.py", "app.py", "settings.py"):
        assert (ROOT / module).is_file(), module
    assert (ROOT / "use_cases" / "queries.py").is_file()
    assert (ROOT / "api" / "deps.py").is_file()


def test_use_case_and_api_modules_stay_under_500_lines() -> None:
    for folder in ("use_cases", "api"):
        for path in (ROOT / folder).glob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines < 500, f"{path.relative_to(ROOT)}: {lines} lines"


def test_no_router_imports_sqlalchemy() -> None:
    for path in (ROOT / "api").glob("*.py"):
        if path.name == "deps.py":
            continue  # the session's type for the creation callback, no query
        assert "sqlalchemy" not in _imports(path), path.name


def test_the_domain_does_no_io() -> None:
    for path in (ROOT / "domain").glob("*.py"):
        assert not _imports(path) & {"sqlalchemy", "fastapi", "httpx", "aiokafka"}, path.name
