"""Every public sample 835 read twice, by our reader and by pyx12's map-driven parser, must give
the same money; where pyx12 could not place a segment, our reader must have said why."""

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import pyx12.error_handler
import pyx12.params
import pyx12.x12context

from claimflow_remittance.domain.era_model import Remittance
from claimflow_remittance.domain.era_reader import read_835_file

from .test_read_835 import SAMPLE_NAMES

ENVELOPE_HEAD = (
    "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *240115*1200*^*00501"
    "*000000001*0*P*:~GS*HP*PAYER*CLINIC*20240115*1200*1*X*005010X221A1~"
)
ENVELOPE_TAIL = "GE*1*1~IEA*1*000000001~"
CAS_AMOUNTS = ("CAS03", "CAS06", "CAS09", "CAS12", "CAS15", "CAS18")
PLB_AMOUNTS = ("PLB04", "PLB06", "PLB08", "PLB10", "PLB12", "PLB14")


@dataclass
class Line:
    position: int
    charge: Decimal
    paid: Decimal
    adjusted: Decimal


@dataclass
class Claim:
    position: int
    charge: Decimal
    paid: Decimal
    patient: Decimal
    adjusted: Decimal
    lines: list[Line] = field(default_factory=list)


@dataclass
class Transaction:
    payment: Decimal = Decimal("0")
    claims: list[Claim] = field(default_factory=list)
    plb: list[Decimal] = field(default_factory=list)


def money(node, name: str) -> Decimal:
    raw = node.get_value(name)
    return Decimal(raw) if raw not in (None, "") else Decimal("0")


def cas_total(loop) -> Decimal:
    return sum((money(cas, name) for cas in loop.select("CAS") for name in CAS_AMOUNTS), Decimal())


def read_with_pyx12(path: Path) -> list[Transaction]:
    """pyx12's view: its loop tree (2100 claims holding 2110 lines), its element values."""
    logging.disable(logging.CRITICAL)
    try:
        reader = pyx12.x12context.X12ContextReader(
            pyx12.params.params(), pyx12.error_handler.errh_null(), str(path)
        )
        transactions: list[Transaction] = []
        for node in reader.iter_segments("2100"):
            if node.id == "ST":
                transactions.append(Transaction())
            elif node.id == "BPR":
                sign = -1 if node.get_value("BPR03") == "D" else 1
                transactions[-1].payment = sign * money(node, "BPR02")
            elif node.id == "PLB":
                transactions[-1].plb.extend(money(node, name) for name in PLB_AMOUNTS)
            elif node.id == "2100":
                claim = Claim(
                    position=node.cur_line_number,
                    charge=money(node, "CLP03"),
                    paid=money(node, "CLP04"),
                    patient=money(node, "CLP05"),
                    adjusted=cas_total(node),
                )
                for line in node.select("2110"):
                    claim.lines.append(
                        Line(
                            position=line.cur_line_number,
                            charge=money(line, "SVC02"),
                            paid=money(line, "SVC03"),
                            adjusted=cas_total(line),
                        )
                    )
                transactions[-1].claims.append(claim)
        return transactions
    finally:
        logging.disable(logging.NOTSET)


def adjusted(line) -> Decimal:
    return sum((a.amount for a in line.adjustments), Decimal())


@pytest.fixture(scope="module")
def both_readers(samples, tmp_path_factory):
    def read(name: str) -> tuple[list[Remittance], list[Transaction], int]:
        text = (samples / name).read_text(encoding="utf-8")
        path, offset = samples / name, 0
        if not text.lstrip().startswith("ISA"):
            # pyx12 refuses a file without ISA; the same transaction inside an envelope is read.
            path = tmp_path_factory.mktemp("wrapped") / name
            path.write_text(ENVELOPE_HEAD + text + ENVELOPE_TAIL, encoding="utf-8")
            offset = 2
        return read_835_file(text), read_with_pyx12(path), offset

    return read


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_payment_claim_and_plb_totals_agree_with_pyx12(both_readers, name):
    ours, theirs, offset = both_readers(name)

    assert len(ours) == len(theirs)
    for remittance, transaction in zip(ours, theirs, strict=True):
        assert remittance.payment.signed_amount == transaction.payment
        assert [c.position + offset for c in remittance.claims] == [
            c.position for c in transaction.claims
        ]
        assert [(c.total_charge, c.paid, c.patient_responsibility) for c in remittance.claims] == [
            (c.charge, c.paid, c.patient) for c in transaction.claims
        ]
        assert sorted(p.amount for p in remittance.provider_adjustments) == sorted(
            a for a in transaction.plb if a
        )
        assert sum(c.paid for c in remittance.claims) == sum(c.paid for c in transaction.claims)
        assert sum(c.total_charge for c in remittance.claims) == sum(
            c.charge for c in transaction.claims
        )


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_service_lines_agree_with_pyx12_or_carry_a_problem_where_pyx12_dropped_them(
    both_readers, name
):
    ours, theirs, offset = both_readers(name)

    for remittance, transaction in zip(ours, theirs, strict=True):
        mine = {
            line.position + offset: (
                line.charge,
                line.paid,
                sum(a.amount for a in line.adjustments),
            )
            for claim in remittance.claims
            for line in claim.service_lines
        }
        pyx12_lines = {
            line.position: (line.charge, line.paid, line.adjusted)
            for claim in transaction.claims
            for line in claim.lines
        }
        assert set(pyx12_lines) <= set(mine)
        assert {pos: mine[pos] for pos in pyx12_lines} == pyx12_lines
        problem_positions = {p.position + offset for p in remittance.problems}
        assert set(mine) - set(pyx12_lines) <= problem_positions
        assert sum(v[0] for v in pyx12_lines.values()) == sum(mine[p][0] for p in pyx12_lines)
        assert sum(v[1] for v in pyx12_lines.values()) == sum(mine[p][1] for p in pyx12_lines)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_balances_or_the_reader_says_where_it_does_not(both_readers, name):
    """Balance computed here from pyx12's numbers; our reader must report exactly those breaks."""
    ours, theirs, offset = both_readers(name)

    for remittance, transaction in zip(ours, theirs, strict=True):
        reported = {(p.kind, p.position + offset) for p in remittance.problems}
        claims_paid = sum((c.paid for c in transaction.claims), Decimal())
        file_breaks = transaction.payment != claims_paid - sum(transaction.plb, Decimal())
        assert file_breaks == any(kind == "file-out-of-balance" for kind, _ in reported)

        mine_lines = {
            claim.position + offset: [line.position + offset for line in claim.service_lines]
            for claim in remittance.claims
        }
        for claim in transaction.claims:
            for line in claim.lines:
                breaks = line.charge - line.adjusted != line.paid
                assert breaks == (("line-out-of-balance", line.position) in reported)
            if [line.position for line in claim.lines] != mine_lines[claim.position]:
                continue  # pyx12 dropped lines of this claim: its claim totals are incomplete
            adjusted = claim.adjusted + sum((line.adjusted for line in claim.lines), Decimal())
            breaks = claim.charge - adjusted != claim.paid
            if claim.lines:
                lines_paid = sum((line.paid for line in claim.lines), Decimal())
                breaks = breaks or lines_paid - claim.adjusted != claim.paid
            assert breaks == (("claim-out-of-balance", claim.position) in reported)
