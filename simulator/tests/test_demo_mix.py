"""The demo's synthetic visits must come back mostly paid under the default settings: the
payer's content-driven rules (medical policy, bundling, prior authorization, timely filing)
deny nothing a plausible visit bills, so only the configured random shares are denied."""

from collections import Counter
from datetime import date
from decimal import Decimal

from claimflow_cli.synthetic import encounter
from payer_simulator.adjudication import PayerContext, adjudicate
from payer_simulator.reader837 import InterchangeReference, ServiceLine, SubmittedClaim
from payer_simulator.settings import SimulatorSettings


def claim_of(visit: dict, number: int) -> SubmittedClaim:
    lines = tuple(
        ServiceLine(
            number=index,
            qualifier="HC",
            procedure_code=p["code"],
            modifiers=tuple(p["modifiers"]),
            charge=Decimal("180.00") if p["code"].startswith("99") else Decimal("75.00"),
            units=Decimal(p["units"]),
            service_date=date.fromisoformat(p["service_date"]),
            diagnosis_pointers=tuple(p["diagnosis_sequences"]),
        )
        for index, p in enumerate(visit["procedures"], start=1)
    )
    coverage = visit["coverages"][0]
    return SubmittedClaim(
        claim_id=f"DEMO{number}",
        total_charge=sum((line.charge for line in lines), Decimal("0.00")),
        frequency_code="1",
        place_of_service=visit["place_of_service"],
        billing_provider_npi="1234567893",
        billing_provider_name="DEMO MEDICAL GROUP",
        billing_provider_tax_id="",
        payer_id=coverage["payer"]["payer_id"],
        payer_name=coverage["payer"]["name"],
        payer_responsibility="P",
        claim_filing_indicator="CI",
        member_id=coverage["member_id"],
        subscriber_last_name=visit["patient"]["last_name"],
        subscriber_first_name=visit["patient"]["first_name"],
        patient_last_name=visit["patient"]["last_name"],
        patient_first_name=visit["patient"]["first_name"],
        patient_is_subscriber=True,
        service_lines=lines,
        origin=InterchangeReference("CLAIMFLOW", "PAYERSIM", "1", "1", "0001"),
        diagnoses=tuple(d["code"].replace(".", "") for d in visit["diagnoses"]),
    )


def test_the_demo_visit_mix_is_mostly_paid_under_default_settings():
    settings = SimulatorSettings()
    context = PayerContext(received_on=date.today(), line_denial_rate=settings.line_denial_rate)
    outcomes = Counter()
    for number in range(2000):
        claim = claim_of(encounter("demo", number), number)
        a = adjudicate(claim, seed=settings.seed, denial_rate=settings.denial_rate, context=context)
        outcomes["denied" if a.denied else "partial" if a.partially_denied else "paid"] += 1

    assert outcomes["paid"] / 2000 >= 0.8, outcomes
    assert abs(outcomes["denied"] / 2000 - settings.denial_rate) < 0.02, outcomes
    assert outcomes["partial"] / 2000 <= settings.line_denial_rate, outcomes
