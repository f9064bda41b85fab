"""Settings of the intake service, from the environment."""

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
