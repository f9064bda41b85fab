"""Real Kafka and PostgreSQL on loopback for machines without a Docker engine."""
