"""Browser tests: Debian's Chromium (``/usr/bin/chromium``) driven headless by Playwright for
Python, with the screenshots each test takes kept in ``.data/screenshots/``.

``make test`` installs Chromium (``deploy/browser/install-chromium.sh``); Playwright never
downloads a browser of its own. Used as a pytest plugin (``pytest_plugins``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("COOP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("COOP_SCREENSHOTS", ".data/screenshots"))
#: Without the background-networking flags Chromium keeps calling hosts this machine cannot reach.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium for the test session."""
    executable = shutil.which(CHROMIUM) or shutil.which("chromium")
    if not executable:
        pytest.fail(
            "Chromium is missing: run `bash deploy/browser/install-chromium.sh` (make test does)."
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(chromium: Any) -> AsyncIterator[Any]:
    """A fresh page (own context: no cookies shared between tests), desktop size, French."""
    context = await chromium.new_context(viewport=DESKTOP, locale="fr-FR")
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def screenshot(page: Any, name: str, *, width: int | None = None) -> Path:
    """Save a full-page screenshot as ``.data/screenshots/<name>.png`` (at ``width`` if given)."""
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    if width is not None:
        await page.set_viewport_size({"width": width, "height": PHONE["height"]})
    path = SCREENSHOTS / f"{re.sub(r'[^a-zA-Z0-9_.-]+', '-', name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
