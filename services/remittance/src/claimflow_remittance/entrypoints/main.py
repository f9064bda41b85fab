"""`claimflow-remittance`: run the remittance service."""

from claimflow_remittance.bootstrap import build


def run() -> None:
    build().serve()
