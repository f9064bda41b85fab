"""Settings of the claims service, from the environment."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from claimflow_shared.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "claims"
    http_port: int = 8003
    # Which clearinghouse port: `http` posts each 837 and reads the answers from the reply;
    # `file-drop` writes it to an outbox folder and reads the answers from an inbox folder.
    clearinghouse: Literal["http", "file-drop"] = "http"
    clearinghouse_url: str = "http://127.0.0.1:8010"
    clearinghouse_outbox: Path = Path(".claimflow/clearinghouse/outbox")
    clearinghouse_inbox: Path = Path(".claimflow/clearinghouse/inbox")
    submitter_id: str = "CLAIMFLOW"
    submitter_name: str = "CLAIMFLOW RCM"
    receiver_id: str = "PAYERSIM"
    # An interchange holds at most this many claims of one claim type and payer...
    submit_batch_size: int = Field(default=100, ge=1, le=5000)
    # ... and goes once full, or once its oldest claim has waited this long (batching vs
    # latency).
    submit_max_wait_s: float = Field(default=0.25, ge=0.0)
    # How often the submitter looks for work when there was none.
    submit_interval_s: float = 0.25
    # Attempts at one interchange whose replies cannot be used before its claims are held.
    submit_max_attempts: int = 5
