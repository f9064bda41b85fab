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
HANDLER_SECONDS = Histogram(
    "claimflow_handler_seconds",
    "Time to handle one event, inbox and effect included",
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
