"""The browser the page tests use is the real one: Debian's Chromium, headless, over HTTP on
loopback, and the screenshots land in .data/screenshots/."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.testing_browser import PHONE, screenshot

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Essai du navigateur</title></head>
<body><main><h1>Bonjour</h1>
<button type="button" onclick="document.querySelector('h1').textContent='Signé'">Signer</button>
</main></body></html>"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


async def test_chromium_renders_a_page_clicks_and_saves_screenshots(
    browser_page: Any, served: str
) -> None:
    await browser_page.goto(served)
    assert await browser_page.title() == "Essai du navigateur"
    await browser_page.get_by_role("button", name="Signer").click()
    assert await browser_page.locator("h1").text_content() == "Signé"
    desktop = await screenshot(browser_page, "browser-support-desktop")
    phone = await screenshot(browser_page, "browser-support-phone", width=PHONE["width"])
    for path in (desktop, phone):
        assert (await asyncio.to_thread(path.read_bytes))[:8] == b"\x89PNG\r\n\x1a\n"
