"""Settings of the intake service, from the environment."""

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    # The HL7 v2 MLLP listener (2575 is the registered port); 0 runs none. Its host defaults
    # to HTTP_HOST. Messages are routed to tenants by their sending facility (MSH-4).
    mllp_port: int = 2575
    mllp_host: str | None = None
    mllp_max_message_bytes: int = 4 * 1024 * 1024
    mllp_idle_timeout_s: float = 300.0
    # Request bodies read whole (one encounter, a batch, a FHIR bundle, an HL7 message).
    json_max_bytes: int = 16 * 1024 * 1024
    fhir_max_bytes: int = 64 * 1024 * 1024
    # Bulk files are spooled to DATA_DIR/intake-bulk as they arrive, then read in batches.
    bulk_max_bytes: int = 20 * 1024**3
    bulk_batch_records: int = 500
    bulk_poll_interval_s: float = 2.0
