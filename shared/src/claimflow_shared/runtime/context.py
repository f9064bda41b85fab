"""What a handler gets: the open transaction and a way to emit events through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_shared.events.envelope import EventEnvelope, new_event
from claimflow_shared.runtime.outbox import add_to_outbox
from claimflow_shared.topics import Topic


@dataclass
class HandlerContext:
    session: AsyncSession
    producer: str
    cause: EventEnvelope | None = None
    emitted: list[EventEnvelope] = field(default_factory=list)

    def emit(
        self,
        topic: Topic,
        payload: BaseModel,
        *,
        tenant_id: str | None = None,
        encounter_id: str | None = None,
        causation_id: uuid.UUID | None = None,
        detail: str | None = None,
    ) -> EventEnvelope:
        """Stage an event in this transaction; the relay publishes it after commit."""
        tenant = tenant_id or (self.cause.tenant_id if self.cause else None)
        encounter = encounter_id or (self.cause.encounter_id if self.cause else None)
        if tenant is None or encounter is None:
            raise ValueError("an event outside a consumed event needs tenant_id and encounter_id")
        envelope = new_event(
            event_type=topic.event_type,
            schema_version=topic.version,
            tenant_id=tenant,
            encounter_id=encounter,
            payload=payload,
            producer=self.producer,
            causation_id=causation_id or (self.cause.event_id if self.cause else None),
        )
        add_to_outbox(self.session, envelope, detail=detail)
        self.emitted.append(envelope)
        return envelope
