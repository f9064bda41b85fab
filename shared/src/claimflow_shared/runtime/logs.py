"""Structured JSON logs. Only whitelisted fields are written: never payloads, never PHI."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

SAFE_FIELDS = (
    "service",
    "event_id",
    "event_type",
    "tenant_id",
    "encounter_id",
    "claim_id",
    "topic",
    "partition",
    "offset",
    "error",
    "backoff_s",
    "count",
    "outcome",
    "file_id",
    "status",
    "error_id",
    "path",
)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[1] is not None:
            # Where it failed, frame by frame; the exception's message may hold data: only
            # its kind is written.
            error = record.exc_info[1]
            entry["exception"] = type(error).__name__
            entry["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(error.__traceback__)
            ][-30:]
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access", "faststream", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
