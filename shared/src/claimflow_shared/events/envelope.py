"""The envelope around every event: identity, tenant, correlation, causation, producer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from claimflow_shared.codes import EncounterId, TenantId

P = TypeVar("P", bound=BaseModel)

SchemaVersion = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+$", examples=["1.0"])]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class EventEnvelope(BaseModel, Generic[P]):
    """One event as it travels on Kafka. Consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(description="Unique forever; the inbox de-duplicates on it.")
    event_type: str = Field(pattern=r"^[a-z]+(\.[a-z-]+)+$", examples=["encounter.coded"])
    schema_version: SchemaVersion
    tenant_id: TenantId
    encounter_id: EncounterId = Field(description="Correlation id across the whole cycle.")
    causation_id: uuid.UUID | None = Field(
        default=None, description="The event that caused this one; none for an outside input."
    )
    occurred_at: Annotated[AwareDatetime, AfterValidator(_utc)]
    producer: str = Field(examples=["claimflow-coding/0.1.0"])
    payload: P

    @property
    def major(self) -> int:
        return int(self.schema_version.split(".")[0])


def new_event(
    *,
    event_type: str,
    schema_version: str,
    tenant_id: str,
    encounter_id: str,
    payload: BaseModel,
    producer: str,
    causation_id: uuid.UUID | None = None,
) -> EventEnvelope:
    return EventEnvelope[type(payload)](
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=schema_version,
        tenant_id=tenant_id,
        encounter_id=encounter_id,
        causation_id=causation_id,
        occurred_at=datetime.now(UTC),
        producer=producer,
        payload=payload,
    )
