"""Settings of the coding service, from the environment."""

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "coding"
    http_port: int = 8002
