"""Data of the notifications service: the routing table (``routing.toml``) and the French
message templates (``templates/*.j2``)."""
