"""`claimflow-coding`: run the coding service."""

from claimflow_coding.bootstrap import build


def run() -> None:
    build().serve()
