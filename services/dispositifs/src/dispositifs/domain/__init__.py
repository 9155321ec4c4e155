"""The business rules of the dispositifs service, as plain Python: no database, no web, no broker.

Each legal rule is a function that returns the :class:`~shared.domain.errors.Violation` it finds,
each citing its article, so that the HTTP API (422 problem+json) and the Kafka consumer
(``immersion.rejected``) can say why. Each lifecycle is a
:class:`~shared.domain.transitions.TransitionTable`.
"""


def code_du_travail(article: str) -> str:
    return f"Code du travail, art. {article}"
