"""The HL7 v2 MLLP listener: one TCP port shared by every tenant's interfaces. Each message
is routed to its tenant by its sending facility (MSH-4, registered per tenant through
`PUT /v1/tenant`), read, and answered on the same connection in order: AA once its effect is
committed, AE/AR with ERR segments otherwise. A message that fails here (the database is
down) gets an AR and nothing is published, so the sender resends it; nothing a peer sends
ends the listener."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from claimflow_intake.domain.mllp import serve_connection
from claimflow_intake.handlers import receive_routed_hl7
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.runtime.db import describe_error
from claimflow_shared.runtime.uow import UnitsOfWork

log = logging.getLogger("claimflow.intake.mllp")


class MllpListener:
    """Background task: serve MLLP until the service stops."""

    name = "mllp-listener"

    def __init__(self, *, uows: UnitsOfWork[SqlIntakeUnitOfWork], settings: Settings) -> None:
        self.uows = uows
        self.settings = settings
        self.port: int | None = None

    async def run(self) -> None:
        host = self.settings.mllp_host or self.settings.http_host
        server = await asyncio.start_server(self._connection, host, self.settings.mllp_port)
        self.port = server.sockets[0].getsockname()[1] if server.sockets else None
        log.info("MLLP listener started", extra={"port": self.port})
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        principal = f"mllp:{peer[0]}" if isinstance(peer, tuple) else "mllp"

        async def handle(payload: bytes) -> bytes:
            async with self.uows(principal=principal) as uow:
                answer = await receive_routed_hl7(uow=uow, data=payload, now=datetime.now(UTC))
            return answer.ack.encode("utf-8")

        await serve_connection(
            reader,
            writer,
            handle=handle,
            max_size=self.settings.mllp_max_message_bytes,
            idle_timeout=self.settings.mllp_idle_timeout_s,
            on_error=lambda exc: log.warning(
                "MLLP message failed; answered AR", extra={"error": describe_error(exc)}
            ),
        )
