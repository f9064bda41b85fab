"""Settings of the coding service, from the environment."""

from pydantic import Field

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "coding"
    http_port: int = 8002
    # The confidence a suggested code needs to be coded without a human, for tenants that
    # have not set their own (PUT /v1/admin/tenants/{tenant}/settings).
    auto_code_threshold: float = Field(default=0.80, ge=0, le=1)
    # Load the term index and code tables in the background at start, so the first
    # encounters do not wait for them; readiness does not wait either.
    warm_up: bool = True
