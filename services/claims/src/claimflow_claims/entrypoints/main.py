"""`claimflow-claims`: run the claims service."""

from claimflow_claims.bootstrap import build


def run() -> None:
    build().serve()
