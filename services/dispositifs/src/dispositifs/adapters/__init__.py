"""What the service keeps in its store beyond the ORM's unit of work (bulk writes)."""
