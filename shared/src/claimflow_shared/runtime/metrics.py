"""Prometheus metrics every service exposes on /metrics. Labels never carry PHI."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "claimflow_events_consumed_total",
    "Events taken off Kafka, by outcome (handled, duplicate, dead-lettered)",
    ["service", "event_type", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "claimflow_events_published_total",
    "Events published by the outbox relay",
    ["service", "event_type"],
)
BATCH_SECONDS = Histogram(
    "claimflow_batch_seconds",
    "Time to apply one poll batch of a partition in one transaction, inbox and effects included",
    ["service", "event_type"],
)
TRANSIENT_RETRIES = Counter(
    "claimflow_transient_retries_total",
    "Handler attempts retried after a transient failure",
    ["service", "event_type"],
)
OUTBOX_BACKLOG = Gauge("claimflow_outbox_backlog", "Outbox rows not yet published", ["service"])
CONSUMER_LAG = Gauge(
    "claimflow_consumer_lag",
    "Messages behind the end of each topic partition",
    ["service", "topic", "partition"],
)
