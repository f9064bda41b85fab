"""What the remittance service does on each event it consumes: expect payment for submitted
claims (posting what waited for them) and keep the KPI facts of submissions and rejections."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_remittance.adapters.tables import ExpectedClaim
from claimflow_remittance.domain.kpis import kpi_fact
from claimflow_remittance.domain.matching import claim_key
from claimflow_remittance.ledger import post_parked
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork
from claimflow_shared.events import ClaimRejected, ClaimSubmitted, EventEnvelope


async def load_submitted(
    *, uow: RemittanceUnitOfWork, events: Sequence[EventEnvelope[ClaimSubmitted]]
) -> None:
    """Lock the batch's claims first (so a concurrent 835 posting is seen), then look them
    up, with the payments waiting for them, in one query each."""
    keys = [(e.tenant_id, e.payload.claim_id) for e in events]
    await uow.lock_claims(claim_key(claim_id) for _, claim_id in keys)
    await uow.ledger.load_expected(keys)
    await uow.ledger.parked_for(claim_key(claim_id) for _, claim_id in keys)
    await uow.ledger.register_payees({(str(e.payload.billing_npi), e.tenant_id) for e in events})


async def on_claim_submitted(
    *, uow: RemittanceUnitOfWork, event: EventEnvelope[ClaimSubmitted]
) -> None:
    """Expect payment for the claim; post any 835 payment that arrived before this event."""
    claim = event.payload
    key = claim_key(claim.claim_id)
    await uow.lock_claims([key])
    await uow.ledger.register_payees({(str(claim.billing_npi), event.tenant_id)})
    if await uow.ledger.expected(event.tenant_id, claim.claim_id) is not None:
        return
    # A replacement (7), a void (8) or the next payer's claim counts toward the encounter's
    # first claim in the KPIs (claim.submitted 1.1 names it; 1.0 only shares the encounter).
    named = getattr(claim, "original_claim_id", None)
    secondary = getattr(claim, "payer_responsibility", "primary") != "primary"
    original = claim.claim_id
    if named or secondary or claim.frequency_code != "1":
        earlier = await uow.ledger.expected(event.tenant_id, named) if named else None
        original = (
            (earlier.original_claim_id if earlier else None)
            or await uow.ledger.original_claim(event.tenant_id, event.encounter_id)
            or named
            or original
        )
    # A value object for this unit of work's cache and the set-wise insert: building the
    # ORM instance field by field costs more than the rest of the handler.
    expected = ExpectedClaim.model_construct(
        tenant_id=event.tenant_id,
        claim_id=claim.claim_id,
        claim_key=key,
        encounter_id=event.encounter_id,
        original_claim_id=original,
        frequency_code=claim.frequency_code,
        payer_id=claim.payer.payer_id,
        payer_name=claim.payer.name,
        billing_npi=str(claim.billing_npi),
        member_id=claim.member_id,
        total_charge=claim.total_charge,
        patient=claim.patient.model_dump(mode="json"),
        lines=[_line(line) for line in claim.lines],
        submitted_event_id=event.event_id,
        submitted_on=event.occurred_at.date(),
    )
    uow.ledger.expect(expected)
    fact = kpi_fact(
        "claim.submitted",
        tenant_id=event.tenant_id,
        occurred_on=event.occurred_at.date(),
        payload=claim,
    )
    # The next payer's claim is no new claim to collect on: its payments count toward the first.
    if fact is not None and not secondary:
        uow.kpis.add_fact(_fact_row(fact, claim_id=original))
    await post_parked(uow, [expected])


async def load_rejected(
    *, uow: RemittanceUnitOfWork, events: Sequence[EventEnvelope[ClaimRejected]]
) -> None:
    await uow.ledger.load_expected((e.tenant_id, e.payload.claim_id) for e in events)


async def on_claim_rejected(
    *, uow: RemittanceUnitOfWork, event: EventEnvelope[ClaimRejected]
) -> None:
    """A front-end rejection (scrubber, 999, 277CA): the claim was not clean."""
    expected = await uow.ledger.expected(event.tenant_id, event.payload.claim_id)
    fact = kpi_fact(
        "claim.rejected",
        tenant_id=event.tenant_id,
        occurred_on=event.occurred_at.date(),
        payload=event.payload,
        payer_id=expected.payer_id if expected else None,
    )
    if fact is not None:
        claim_id = expected.original_claim_id if expected else event.payload.claim_id
        uow.kpis.add_fact(_fact_row(fact, claim_id=claim_id))


def _line(line) -> dict:
    return {
        "line_number": line.line_number,
        "code": line.code,
        "modifiers": [str(m) for m in line.modifiers],
        "units": line.units,
        "service_date": line.service_date.isoformat(),
        "charge": str(line.charge),
        # REF*6R (claim.submitted 1.1): payers echo it, and it beats every other clue.
        "control_number": getattr(line, "control_number", None),
    }


def _fact_row(fact, *, claim_id: str) -> dict:
    return dict(
        tenant_id=fact.tenant_id,
        claim_id=claim_id,
        kind=fact.kind,
        on_date=fact.on,
        payer_id=fact.payer_id,
        amount=fact.amount,
        paid=fact.paid,
        contractual=fact.contractual,
        denied=fact.denied,
        status=fact.status,
        category=fact.category,
    )
