"""The business rules of the dispositifs service, as plain Python: no database, no web, no broker.

Each legal rule is a function that returns the :class:`~dispositifs.domain.violations.Violation`
it finds, each citing its article, so that the HTTP API (422 problem+json) and the Kafka consumer
(``immersion.rejected``) can say why.
"""
