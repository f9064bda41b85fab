"""The thin runtime kit every service uses the same way: settings, database, broker,
outbox relay, inbox, dead letters, logs, health and metrics."""
