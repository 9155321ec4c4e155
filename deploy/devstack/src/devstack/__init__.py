"""The local stack: one launcher for ``make up`` and the end-to-end tests."""
