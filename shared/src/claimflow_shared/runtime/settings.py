"""One settings object per service, read from the environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service reads. Environment variables use the field names in capitals."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", env_parse_none_str="")

    service_name: str = "claimflow"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_consumer_group: str | None = None
    # An empty DATABASE_URL means the embedded default: one SQLite file per service.
    database_url: str = ""
    data_dir: Path = Path(".claimflow")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    retry_initial_backoff_s: float = 0.2
    retry_max_backoff_s: float = 10.0
    # Attempts at a batch failing with a deadlock or a timeout (not an outage: those wait
    # however long) before its records are tried alone and the failing one dead-lettered.
    retry_max_attempts: int = 5
    # A dead letter the broker refuses as too large keeps this many bytes of the original.
    dlq_truncate_bytes: int = 64 * 1024
    outbox_batch_size: int = 500
    # A poll batch: up to this many records per partition, waiting at most this long for any.
    consumer_batch_records: int = 500
    consumer_batch_wait_ms: int = 200
    consumer_max_poll_interval_ms: int = 10 * 60 * 1000
    # On a rebalance, how long a revoked partition's batch in flight may take to finish.
    consumer_revoke_wait_s: float = 20.0
    outbox_poll_interval_s: float = 0.5
    # API keys as `name:role:tenant:sha256` entries (see runtime.tenancy), and/or a file of
    # them (a mounted secret). Without any, a service refuses to start unless
    # ALLOW_INSECURE_DEV is true (local development: X-Tenant-ID is trusted).
    api_keys: str = ""
    api_keys_file: Path | None = None
    allow_insecure_dev: bool = False
    # The largest request body a route takes unless it names its own limit (bulk uploads).
    max_request_bytes: int = 10 * 1024 * 1024
    kafka_partitions: int = 6
    # Production-safe by default (acks=all means something only with replicas); the local
    # single-broker stack sets 1. Topics are created with min.insync.replicas = min(2, this).
    kafka_replication_factor: int = 3
    # How many processes of this stage run (one consumer group, one database): SQLite, one
    # file per process, is refused when it is more than one.
    service_replicas: int = 1

    @property
    def consumer_group(self) -> str:
        return self.kafka_consumer_group or f"claimflow-{self.service_name}"

    def check_database(self) -> None:
        """Refuse the embedded SQLite default for a replicated stage."""
        if self.service_replicas > 1 and self.effective_database_url.startswith("sqlite"):
            raise RuntimeError(
                f"refusing to start: {self.service_replicas} replicas cannot share SQLite; "
                "set DATABASE_URL to PostgreSQL"
            )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{self.service_name}.db'}"
