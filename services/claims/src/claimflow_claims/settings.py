"""Settings of the claims service, from the environment."""

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "claims"
    http_port: int = 8003
    clearinghouse_url: str = "http://127.0.0.1:8010"
    submitter_id: str = "CLAIMFLOW"
    submitter_name: str = "CLAIMFLOW RCM"
    receiver_id: str = "PAYERSIM"
    submit_batch_size: int = 100
    # How long ready claims gather before an interchange goes (batching vs latency).
    submit_interval_s: float = 0.25
    # Attempts at one interchange whose replies cannot be used before its claims are held.
    submit_max_attempts: int = 5
