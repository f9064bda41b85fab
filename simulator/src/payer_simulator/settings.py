"""Settings of the payer/clearinghouse simulator, read from SIMULATOR_* environment variables.

Rates are shares in [0, 1] drawn per claim (or member) from `seed`. The defaults keep the
demo mostly paid and leave off what the services may not handle yet (reversals, PLB
interest); content-driven denials (duplicates, timely filing, prior authorization, medical
policy, bundling, missing information) always apply.
"""

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
    # Claims denied in full at random, on top of the content-driven denials.
    denial_rate: float = Field(default=0.10, ge=0.0, le=1.0)
    # Claims with two or more payable lines that get one line denied (partially paid).
    line_denial_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    # Paid claims the payer reverses (CLP02 22) and pays again (CLP02 1) in a later 835.
    reversal_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Members of a primary payer crossed over to the payer's supplemental carrier (CLP02 19).
    crossover_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Paid claims that earn prompt-pay interest, paid as a PLB L6 adjustment.
    interest_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # A folder whose CSV files replace the packaged rule tables of the same name.
    tables_dir: Path | None = None
    batch_interval_s: float = Field(default=0.25, gt=0.0)
    max_claims_per_835: int = Field(default=500, ge=1)
    payer_name: str = "SIMULATED HEALTH PLAN"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "simulator.db"
