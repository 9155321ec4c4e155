"""HTTP conventions shared by the services: problem+json errors, bearer auth, health, metrics,
cursor pagination, Idempotency-Key."""
