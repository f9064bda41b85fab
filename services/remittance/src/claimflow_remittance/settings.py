"""Settings of the remittance service, from the environment."""

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "remittance"
    http_port: int = 8004
    clearinghouse_url: str = "http://127.0.0.1:8010"
    era_poll_interval_s: float = 0.25
