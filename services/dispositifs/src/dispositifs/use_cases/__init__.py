"""The use cases of the dispositifs service (one module per aggregate, ``queries.py`` for reads).

Each takes its command, the caller and the session; the routers and consumers hand them the
session of their transaction, typed :data:`Session`."""

from sqlalchemy.ext.asyncio import AsyncSession as Session

__all__ = ["Session"]
