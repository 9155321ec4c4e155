"""Kafka messaging: producer, transactional outbox and relay, consumer runner with inbox and
dead-letter topics, topic provisioning."""
