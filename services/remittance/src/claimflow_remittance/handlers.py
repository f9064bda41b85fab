"""What the remittance service does on each event."""

from __future__ import annotations

from claimflow_remittance.adapters.tables import ExpectedClaim
from claimflow_remittance.ledger import lock_claim, post_unmatched_for
from claimflow_shared.events import ClaimSubmitted, EventEnvelope
from claimflow_shared.runtime.context import HandlerContext


async def on_claim_submitted(ctx: HandlerContext, event: EventEnvelope[ClaimSubmitted]) -> None:
    """Expect payment for the claim; post any 835 payment that arrived before this event."""
    claim = event.payload
    await lock_claim(ctx.session, claim.claim_id)
    if await ctx.session.get(ExpectedClaim, claim.claim_id) is not None:
        return
    expected = ExpectedClaim(
        claim_id=claim.claim_id,
        tenant_id=event.tenant_id,
        encounter_id=event.encounter_id,
        total_charge=claim.total_charge,
        patient=claim.patient.model_dump(mode="json"),
        submitted_event_id=event.event_id,
    )
    ctx.session.add(expected)
    await ctx.session.flush()
    await post_unmatched_for(ctx, expected)
