"""Settings of the payer/clearinghouse simulator, read from SIMULATOR_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_", env_file=None, extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8010
    data_dir: Path = Path(".claimflow/simulator")
    seed: int = 42
    denial_rate: float = Field(default=0.10, ge=0.0, le=1.0)
    batch_interval_s: float = Field(default=0.5, gt=0.0)
    max_claims_per_835: int = Field(default=500, ge=1)
    payer_name: str = "SIMULATED HEALTH PLAN"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "simulator.db"
