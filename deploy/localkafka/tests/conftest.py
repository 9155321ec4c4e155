"""The ``kafka_broker`` fixture comes from ``localkafka.pytest_plugin``.

That plugin is registered by the package's ``pytest11`` entry point (and by the repository's
top-level conftest). It is not declared with ``pytest_plugins`` here: pytest rejects that in a
conftest that is not at the top of the run. With plugin autoload disabled, pass
``-p localkafka.pytest_plugin``.
"""
