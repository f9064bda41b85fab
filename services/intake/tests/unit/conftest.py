"""Fixtures for intake's domain tests; the builders live in `builders.py`."""

from services.intake.tests.unit.builders import (  # noqa: F401
    ehr_bundle,
    registry,
    synthea_registry,
)
