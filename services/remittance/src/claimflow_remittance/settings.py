"""Settings of the remittance service, from the environment."""

from pydantic import Field

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "remittance"
    http_port: int = 8004
    clearinghouse_url: str = "http://127.0.0.1:8010"
    era_poll_interval_s: float = 0.25
    # How often the ERA download looks for waiting payments whose claim became known.
    unmatched_sweep_interval_s: float = 30.0
    # The largest 835 an upload may carry (bytes); a larger one is answered 413.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
