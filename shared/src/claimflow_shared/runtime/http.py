"""What every service's HTTP API does the same way at the edge: request bodies bounded (413),
validation errors that name the field and the reason and never echo the input (422, also
for NaN, infinities and broken text), and unexpected errors logged with their stack and an
id the caller can quote, never shown to the caller (500)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("claimflow.http")

# The largest value an INTEGER column holds: row ids and ordinals are paged up to it.
MAX_ROW_ID = 2**31 - 1
# Paging by row id: a negative or too large cursor is a 422, never a 500.
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Rows after this id")]

MAX_ERRORS = 20


def validation_problems(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Field and reason of each validation error; the input and context are left out."""
    problems = []
    for error in errors[:MAX_ERRORS]:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        problems.append(
            {
                "field": ".".join(location) or "body",
                "reason": str(error.get("msg", "invalid"))[:300],
                "type": str(error.get("type", "value_error")),
            }
        )
    return problems


async def _unprocessable(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    return JSONResponse(
        status_code=422,
        content={
            "detail": validation_problems(errors),
            "errors": len(errors),
        },
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    # The stack says where; the message could carry data, so only its kind goes with it.
    log.error(
        "unhandled error",
        extra={"error": type(exc).__name__, "error_id": error_id, "path": request.url.path},
        exc_info=exc,
    )
    return JSONResponse(
        status_code=500,
        content={"detail": "internal error; quote this id to an operator", "error_id": error_id},
    )


# What every error answer looks like, as the OpenAPI document declares it for 422s: a
# message (`detail` as text) or the problems found (`detail` as a list of field and reason).
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "reason"],
                        "properties": {
                            "field": {"type": "string"},
                            "reason": {"type": "string"},
                            "type": {"type": "string"},
                            "location": {
                                "type": "string",
                                "description": "as the input names it: a JSON pointer, an "
                                "HL7 segment-field, a CSV row and column",
                            },
                        },
                    },
                },
                {"type": "object"},
            ]
        },
        "errors": {"type": "integer"},
        "error_id": {"type": "string"},
    },
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _unprocessable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = describe()
            components = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in components:
                components["HTTPValidationError"] = ERROR_SCHEMA
                components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# NUL and other C0 controls in a path or query: no database text can hold NUL.
_FORBIDDEN_IN_URL = re.compile("[\x00-\x1f\x7f]")


class BodyLimit:
    """Refuses a URL carrying control characters (422), and a request body larger than
    `max_bytes` (413) before it is read whole, whether it announces its length or streams in
    chunks. Routes that take large files (bulk intake, 835 uploads) name their own larger
    limits by path prefix."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _FORBIDDEN_IN_URL.search(unquote(scope.get("query_string", b"").decode("latin-1"))) or (
            _FORBIDDEN_IN_URL.search(scope.get("path", ""))
        ):
            await _answer(
                send,
                422,
                b'{"detail":[{"field":"url","reason":"control characters are not allowed"}]}',
            )
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        refused = False
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if refused:
                # The app turned the refused read into an answer of its own (FastAPI says
                # 400): the caller gets the 413 instead, once.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def bounded() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, bounded, sending)
        except Exception:
            if not refused or started:
                raise
            await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (
        b'{"detail":"request body too large: at most '
        + str(limit).encode()
        + b' bytes; split it or use the bulk upload"}'
    )
    await _answer(send, 413, body)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
