"""What the remittance service does on each event."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_remittance.adapters.tables import ExpectedClaim
from claimflow_remittance.ledger import post_parked
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork
from claimflow_shared.events import ClaimSubmitted, EventEnvelope


async def lock_and_load(
    *, uow: RemittanceUnitOfWork, events: Sequence[EventEnvelope[ClaimSubmitted]]
) -> None:
    """Lock the batch's claims first (so a concurrent 835 posting is seen), then look them up."""
    claim_ids = [e.payload.claim_id for e in events]
    await uow.lock_claims(claim_ids)
    await uow.ledger.load_expected(claim_ids)
    await uow.ledger.parked_for(claim_ids)


async def on_claim_submitted(
    *, uow: RemittanceUnitOfWork, event: EventEnvelope[ClaimSubmitted]
) -> None:
    """Expect payment for the claim; post any 835 payment that arrived before this event."""
    claim = event.payload
    await uow.lock_claims([claim.claim_id])
    if await uow.ledger.expected(claim.claim_id) is not None:
        return
    uow.ledger.expect(
        ExpectedClaim(
            claim_id=claim.claim_id,
            tenant_id=event.tenant_id,
            encounter_id=event.encounter_id,
            total_charge=claim.total_charge,
            patient=claim.patient.model_dump(mode="json"),
            submitted_event_id=event.event_id,
        )
    )
    await post_parked(uow, [claim.claim_id])
