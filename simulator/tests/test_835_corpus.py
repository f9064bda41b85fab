"""Many varied 835s through the whole simulator, every one checked by pyx12 and balanced:
denials of every kind, partial payments, crossovers, secondary claims, reprocessings, voids,
replacements, interest and recoveries, professional and institutional claims."""

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest

from claimflow_claims.adapters.x12.claim837 import Receiver, Submitter
from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_shared.x12 import Envelope, read_segments
from payer_simulator.clearinghouse import receive_837
from services.claims.tests.unit.claim_factory import generate_claims

CODES = [
    ("99213",), ("99214", "36415", "80053"), ("99203", "97110"), ("G0439", "85025"),
    ("99284", "93000", "71046"), ("99214:25", "20610", "J3301"), ("80053", "80048"),
    ("72148",), ("93000", "93005"), ("99213", "20610"), ("97140", "97530"), ("99499",),
    ("99396", "90471", "90686"), ("9921X",), ("73630:26", "73630:TC"),
]  # fmt: skip
DIAGNOSES = ["J069", "E119", "I10", "M5450", "Z0000", "Z23", "R079", "M25561", "G4489"]
PAYERS = ["SIMPAYER1", "SIMPAYER1", "SIMPAYER2", "OTHERPAYER7"]
RATES = {
    "denial_rate": 0.12,
    "line_denial_rate": 0.25,
    "reversal_rate": 0.3,
    "crossover_rate": 0.15,
    "interest_rate": 0.3,
}


def varied_specs(make, rng: random.Random, prefix: str, count: int) -> list:
    specs = []
    for i in range(count):
        codes = rng.choice(CODES)
        days_ago = rng.choice([5, 10, 20, 40, 200, 400])
        other = []
        responsibility = "P"
        roll = rng.random()
        if roll < 0.1:
            other = [make.other_payer(f"GAP{rng.randint(1, 3)}", "S", name="GAP PLAN")]
        elif roll < 0.25:
            responsibility = "S"
            paid = rng.choice(["0", "40.00", "75.25"])
            other = [make.other_payer("PRIMARY1", "P", paid=paid, patient="20.00")]
        specs.append(
            make.spec(
                f"{prefix}-{i}",
                charges=[f"{rng.randint(500, 40000) / 100:.2f}" for _ in codes],
                procedures=codes,
                payer_id=rng.choice(PAYERS),
                billing_npi=rng.choice([make.clinic_npi, make.other_clinic_npi]),
                member_id=rng.choice(["XOVER00001", "XOVER00003", f"M{rng.randint(1, 40)}"]),
                service_date=(make.recent - timedelta(days=days_ago)).strftime("%Y%m%d"),
                diagnoses=rng.sample(DIAGNOSES, k=rng.randint(0 if i % 17 == 0 else 1, 3)),
                prior_authorization=rng.choice(["", "", "", "PA77"]),
                responsibility=responsibility,
                other_payers=other,
            )
        )
    # Exact copies under new claim ids: the payer's duplicate check must catch them.
    specs += [replace_id(spec, f"{spec.claim_id}-COPY") for spec in rng.sample(specs, k=3)]
    return specs


def replace_id(spec, claim_id):
    from dataclasses import replace

    return replace(spec, claim_id=claim_id)


def generated_interchange(seed: int, claim_type: str) -> str:
    writer, guide = (
        (write_837p, "005010X222A1") if claim_type == "837P" else (write_837i, "005010X223A2")
    )
    # Distinct claim ids per claim type, or the second file would only repeat the first's.
    first = 1 if claim_type == "837P" else 1001
    return writer(
        generate_claims(seed, 40, claim_type, first_number=first),
        envelope=Envelope("CLAIMFLOW", "PAYERSIM", seed, seed, "HC", guide, datetime(2025, 5, 1)),
        submitter=Submitter("CLAIMFLOW", "CLAIMFLOW", "DESK", "6175550100"),
        receiver=Receiver("PAYER SIM", "PAYERSIM"),
    )


def payer_claim_numbers(ack_277ca: str) -> dict[str, str]:
    found, claim = {}, None
    for seg in read_segments(ack_277ca):
        if seg.id == "TRN" and seg.el(1) == "2":
            claim = seg.el(2)
        elif seg.id == "REF" and seg.el(1) == "1K" and claim:
            found[claim] = seg.el(2)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_835_of_a_varied_run_passes_pyx12_and_balances(
    seed, payer, make, pyx12_check, balance_errors
):
    rng = random.Random(seed)
    p = payer(seed=seed, **RATES)
    acks = []
    receipt = p.submit(make, *varied_specs(make, rng, f"S{seed}", 70))
    acks += [receipt.ack_999, receipt.ack_277ca]
    for claim_type in ("837P", "837I"):
        text = generated_interchange(seed, claim_type)
        generated = receive_837(store=p.store, settings=p.settings, text=text, now=p.now)
        acks += [generated.ack_999, generated.ack_277ca]
    files = p.remit()
    numbers = payer_claim_numbers(receipt.ack_277ca)
    corrections = []
    for index, (claim_id, number) in enumerate(sorted(numbers.items())[:12]):
        frequency = "8" if index % 2 else "7"
        corrections.append(
            make.spec(
                f"{claim_id}-{frequency}",
                member_id=f"M{index}",
                frequency=frequency,
                original_claim_number=number,
            )
        )
    receipt = p.submit(make, *corrections)
    acks += [receipt.ack_999, receipt.ack_277ca]
    files += p.remit()
    files += p.remit()

    for text in files:
        assert balance_errors(text) == []
        verdict = pyx12_check(text)
        assert verdict.ok, verdict.explain()
    for ack in filter(None, acks):
        verdict = pyx12_check(ack)
        assert verdict.ok, verdict.explain()

    seen = Counter()
    for text in files:
        for seg in read_segments(text):
            if seg.id == "CLP":
                seen[f"CLP02 {seg.el(2)}"] += 1
            elif seg.id == "PLB":
                seen.update(f"PLB {seg.el(i).split(':')[0]}" for i in range(3, 15, 2) if seg.el(i))
            elif seg.id == "CAS":
                seen[f"CARC {seg.el(2)}"] += 1
            elif seg.id in {"MIA", "MOA"} or (seg.id, seg.el(1)) in {("NM1", "TT"), ("REF", "F8")}:
                seen[f"{seg.id}*{seg.el(1)}" if seg.id != "MIA" else "MIA"] += 1
    print(f"\nseed {seed}: {len(files)} files, {sorted(seen.items())}")
    expected = {"CLP02 1", "CLP02 2", "CLP02 19", "CLP02 22", "PLB L6", "MIA", "NM1*TT", "REF*F8"}
    expected |= {"CARC 16", "CARC 18", "CARC 29", "CARC 45", "CARC 50", "CARC 97", "CARC 197"}
    assert expected <= set(seen), expected - set(seen)
    assert any(key.startswith("MOA") for key in seen)
