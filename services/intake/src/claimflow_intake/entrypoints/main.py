"""`claimflow-intake`: run the intake service."""

from claimflow_intake.bootstrap import build


def run() -> None:
    build().serve()
