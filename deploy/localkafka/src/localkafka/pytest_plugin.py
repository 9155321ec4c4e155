"""pytest plugin: a session-scoped ``kafka_broker`` fixture backed by a throwaway local broker.

Loaded automatically through the ``pytest11`` entry point once ``localkafka`` is installed;
``-p localkafka.pytest_plugin`` or ``pytest_plugins = ["localkafka.pytest_plugin"]`` also work.
The fixture is synchronous on purpose, so it needs no event loop; async tests that stop and
start the broker can use ``await kafka_broker.arestart(downtime=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localkafka.broker import LocalKafka


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A running single-node broker on free 127.0.0.1 ports, stopped at the end of the session."""
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.ensure_jars()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
