"""Builders of 837P input and claims, the pyx12 validation oracle and the public samples."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document

from claimflow_shared.codes import npi_check_digit
from claimflow_shared.x12 import read_segments
from payer_simulator.clearinghouse import receive_837, remit_queued
from payer_simulator.reader837 import InterchangeReference, ServiceLine, SubmittedClaim
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import Store

# simulator/tests/ -> parents[3] is the folder holding both main/ and shared/.
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "x12-samples"


def valid_npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


CLINIC_NPI = valid_npi("123456789")
OTHER_CLINIC_NPI = valid_npi("987654321")
# Recent enough for every simulated payer's timely filing limit whenever the tests run.
RECENT = date.today() - timedelta(days=20)


@dataclass(frozen=True)
class OtherPayerSpec:
    """Loop 2320/2330B: another payer of the claim and, once it adjudicated, its payment."""

    payer_id: str
    responsibility: str  # SBR01 of the other payer
    paid: str | None = None  # AMT*D
    patient: str = "0"  # CAS*PR*2 at claim level
    contractual: str = "0"  # CAS*CO*45 at claim level
    name: str = "OTHER HEALTH PLAN"


@dataclass(frozen=True)
class ClaimSpec:
    claim_id: str
    charges: Sequence[str] = ("120.00", "45.50")
    payer_id: str = "SIMPAYER1"
    billing_npi: str = CLINIC_NPI
    total: str | None = None  # CLM02; the sum of the lines when None
    member_id: str = "MBR000111"
    procedures: Sequence[str] = field(default=("99213", "87070:QW"))
    service_date: str = RECENT.strftime("%Y%m%d")
    diagnoses: Sequence[str] = ("J069",)
    prior_authorization: str = ""
    frequency: str = "1"
    original_claim_number: str = ""  # REF*F8 of a replacement or void
    responsibility: str = "P"  # SBR01 of the payer the claim is sent to
    other_payers: Sequence[OtherPayerSpec] = ()


def build_837(
    claims: Sequence[ClaimSpec],
    *,
    interchange_control_number: int = 101,
    transaction_set_control_number: str = "0001",
) -> str:
    """A small valid 837P (005010X222A1): one billing provider per NPI, one subscriber per
    claim, the subscriber being the patient."""
    icn = interchange_control_number
    st = transaction_set_control_number
    head = [
        "ISA*00*          *00*          *ZZ*CLAIMFLOW      *ZZ*PAYERSIM       "
        f"*250110*0930*^*00501*{icn:09d}*0*T*:",
        f"GS*HC*CLAIMFLOW*PAYERSIM*20250110*0930*{icn}*X*005010X222A1",
    ]
    body = [
        f"ST*837*{st}*005010X222A1",
        f"BHT*0019*00*BATCH{icn}*20250110*0930*CH",
        "NM1*41*2*CLAIMFLOW RCM*****46*CLAIMFLOW",
        "PER*IC*BILLING DESK*TE*5555550100",
        "NM1*40*2*SIMULATED HEALTH PLAN*****46*PAYERSIM",
    ]
    hl = 0
    by_npi: dict[str, list[ClaimSpec]] = {}
    for spec in claims:
        by_npi.setdefault(spec.billing_npi, []).append(spec)
    for npi, specs in by_npi.items():
        hl += 1
        provider_hl = hl
        body += [
            f"HL*{provider_hl}**20*1",
            f"NM1*85*2*RIVERSIDE FAMILY PRACTICE {npi[-3:]}*****XX*{npi}",
            "N3*12 MAIN ST",
            "N4*SPRINGFIELD*IL*627010000",
            "REF*EI*371234567",
        ]
        for spec in specs:
            hl += 1
            total = spec.total or str(sum(Decimal(c) for c in spec.charges))
            body += [
                f"HL*{hl}*{provider_hl}*22*0",
                f"SBR*{spec.responsibility}*18*GRP01******CI",
                f"NM1*IL*1*DOE*JANE****MI*{spec.member_id}",
                "N3*4 ELM ST",
                "N4*SPRINGFIELD*IL*627020000",
                "DMG*D8*19800101*F",
                f"NM1*PR*2*ACME HEALTH*****PI*{spec.payer_id}",
                f"CLM*{spec.claim_id}*{total}***11:B:{spec.frequency}*Y*A*Y*Y",
            ]
            if spec.original_claim_number:
                body.append(f"REF*F8*{spec.original_claim_number}")
            if spec.prior_authorization:
                body.append(f"REF*G1*{spec.prior_authorization}")
            if spec.diagnoses:
                codes = [f"ABK:{spec.diagnoses[0]}"] + [f"ABF:{d}" for d in spec.diagnoses[1:]]
                body.append("HI*" + "*".join(codes))
            for other in spec.other_payers:
                body.append(f"SBR*{other.responsibility}*18*GRP02******CI")
                if Decimal(other.contractual):
                    body.append(f"CAS*CO*45*{other.contractual}")
                if Decimal(other.patient):
                    body.append(f"CAS*PR*2*{other.patient}")
                if other.paid is not None:
                    body.append(f"AMT*D*{other.paid}")
                body += [
                    "OI***Y***Y",
                    f"NM1*IL*1*DOE*JANE****MI*{spec.member_id}",
                    f"NM1*PR*2*{other.name}*****PI*{other.payer_id}",
                ]
            for number, charge in enumerate(spec.charges, start=1):
                procedure = spec.procedures[(number - 1) % len(spec.procedures)]
                body += [
                    f"LX*{number}",
                    f"SV1*HC:{procedure}*{charge}*UN*1***1"
                    if spec.diagnoses
                    else f"SV1*HC:{procedure}*{charge}*UN*1",
                    f"DTP*472*D8*{spec.service_date}",
                ]
    body.append(f"SE*{len(body) + 1}*{st}")
    tail = [f"GE*1*{icn}", f"IEA*1*{icn:09d}"]
    return "~\n".join(head + body + tail) + "~\n"


def make_line(number: int, code: str, charge: str, *modifiers: str, **overrides) -> ServiceLine:
    line = ServiceLine(
        number=number,
        qualifier="HC",
        procedure_code=code,
        modifiers=modifiers,
        charge=Decimal(charge),
        units=Decimal("1.00"),
        service_date=RECENT,
    )
    return replace(line, **overrides)


def make_claim(
    claim_id: str,
    charges: Sequence[str] = ("100.00", "40.00", "15.25"),
    *,
    payer_responsibility: str = "P",
    codes: Sequence[str] = ("99213", "87070", "36415"),
    **overrides,
) -> SubmittedClaim:
    """A professional claim for an established-patient visit with a lab culture and a draw
    (codes no simulated payer polices), the subscriber being the patient."""
    lines = tuple(
        make_line(i, codes[(i - 1) % len(codes)], c, *(("25",) if i == 1 else ()))
        for i, c in enumerate(charges, start=1)
    )
    claim = SubmittedClaim(
        claim_id=claim_id,
        total_charge=sum((line.charge for line in lines), Decimal("0.00")),
        frequency_code="1",
        place_of_service="11",
        billing_provider_npi=CLINIC_NPI,
        billing_provider_name="RIVERSIDE FAMILY PRACTICE",
        billing_provider_tax_id="371234567",
        payer_id="SIMPAYER1",
        payer_name="ACME HEALTH",
        payer_responsibility=payer_responsibility,
        claim_filing_indicator="CI",
        member_id="MBR000111",
        subscriber_last_name="DOE",
        subscriber_first_name="JANE",
        patient_last_name="DOE",
        patient_first_name="JANE",
        patient_is_subscriber=True,
        service_lines=lines,
        origin=InterchangeReference("CLAIMFLOW", "PAYERSIM", "000000101", "101", "0001"),
        diagnoses=("J069",),
        patient_birth_date=date(1980, 1, 1),
    )
    if "service_lines" in overrides and "total_charge" not in overrides:
        overrides["total_charge"] = sum(
            (line.charge for line in overrides["service_lines"]), Decimal("0.00")
        )
    return replace(claim, **overrides)


def many_claims(count: int, prefix: str = "CLM") -> list[SubmittedClaim]:
    """Claims of many members (so plans and deductibles vary) with one to three lines."""
    charge_sets = [("100.00",), ("250.00", "75.10"), ("99.99", "10.01", "1.00"), ("1234.56",)]
    return [
        make_claim(
            f"{prefix}{i:06d}", charge_sets[i % len(charge_sets)], member_id=f"MBR{i % 173:06d}"
        )
        for i in range(count)
    ]


def balance_errors_835(text: str) -> list[str]:
    """Every way an 835 fails to balance: per SVC (charge - CAS = paid), per CLP (CLP03 -
    claim and line CAS = CLP04, CLP05 = PR, sum of SVC03 = CLP04) and per file (BPR02 =
    sum of CLP04 - sum of PLB amounts)."""
    errors: list[str] = []
    bpr = Decimal(0)
    clp_paid: list[Decimal] = []
    plb_total = Decimal(0)
    claim: dict | None = None
    line: dict | None = None

    def close_line() -> None:
        if line is not None and line["charge"] - line["cas"] != line["paid"]:
            errors.append(f"SVC {line['code']} of {claim['id']}: charge - CAS != paid")

    def close_claim() -> None:
        close_line()
        if claim is None:
            return
        if claim["charge"] - claim["cas"] != claim["paid"]:
            errors.append(f"CLP {claim['id']}: CLP03 - CAS != CLP04")
        if claim["pr"] != claim["patient"]:
            errors.append(f"CLP {claim['id']}: CLP05 != sum of PR adjustments")
        if claim["lines"] and claim["line_paid"] != claim["paid"]:
            errors.append(f"CLP {claim['id']}: sum of SVC03 != CLP04")

    for seg in read_segments(text):
        if seg.id == "BPR":
            bpr = Decimal(seg.el(2))
        elif seg.id == "CLP":
            close_claim()
            line = None
            claim = {
                "id": seg.el(1),
                "charge": Decimal(seg.el(3)),
                "paid": Decimal(seg.el(4)),
                "patient": Decimal(seg.el(5) or 0),
                "cas": Decimal(0),
                "pr": Decimal(0),
                "lines": 0,
                "line_paid": Decimal(0),
            }
            clp_paid.append(claim["paid"])
        elif seg.id == "SVC":
            close_line()
            assert claim is not None
            line = {
                "code": seg.el(1),
                "charge": Decimal(seg.el(2)),
                "paid": Decimal(seg.el(3)),
                "cas": Decimal(0),
            }
            claim["lines"] += 1
            claim["line_paid"] += line["paid"]
        elif seg.id == "CAS":
            assert claim is not None
            amounts = [Decimal(seg.el(i)) for i in range(3, 19, 3) if seg.el(i)]
            total = sum(amounts, Decimal(0))
            claim["cas"] += total
            if seg.el(1) == "PR":
                claim["pr"] += total
            if line is not None:
                line["cas"] += total
        elif seg.id in {"SE", "PLB"}:
            close_claim()
            claim = line = None
            if seg.id == "PLB":
                plb_total += sum(
                    (Decimal(seg.el(i)) for i in range(4, 15, 2) if seg.el(i)), Decimal(0)
                )
    expected = sum(clp_paid, Decimal(0)) - plb_total
    if expected != bpr:
        errors.append(f"BPR02 {bpr} != sum of CLP04 - sum of PLB = {expected}")
    if bpr < 0:
        errors.append(f"BPR02 {bpr} is negative")
    return errors


@dataclass(frozen=True)
class Pyx12Verdict:
    ok: bool
    findings: list[str]
    text: str
    errors: list[str] = field(default_factory=list)  # from pyx12's JSON error report

    def explain(self) -> str:
        return (
            "pyx12 errors:\n"
            + "\n".join(self.errors)
            + "\npyx12 findings:\n"
            + "\n".join(self.findings)
            + "\n--- file ---\n"
            + self.text
        )


def _json_errors(node: object) -> list[str]:
    """Every entry of the `errors` lists anywhere in pyx12's JSON report."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "errors" and isinstance(value, list):
                found += [f"{e.get('err_cde')}: {e.get('err_str')}" for e in value]
            else:
                found += _json_errors(value)
    elif isinstance(node, list):
        for value in node:
            found += _json_errors(value)
    return found


def pyx12_validate(text: str) -> Pyx12Verdict:
    """Run pyx12 over X12 text; its findings come through `logging`. For some 835s pyx12
    fails while building its own 999 reply ("err_st.vriic was not set") after it has reached
    its verdict, so an exception there is a finding, not a failure of the file."""
    findings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            findings.append(f"{record.levelname}: {record.getMessage()}")

    handler = Collect(level=logging.INFO)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    report = io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.x12"
        path.write_text(text, encoding="ascii")
        try:
            ok = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(),
                src_file=str(path),
                fd_997=io.StringIO(),
                fd_html=None,
                fd_json=report,
            )
        except Exception as exc:
            findings.append(f"pyx12 raised {exc!r}")
            ok = "vriic" in str(exc) and not any(f.startswith("ERROR: Line") for f in findings)
        finally:
            root.removeHandler(handler)
            root.setLevel(previous)
    try:
        errors = _json_errors(json.loads(report.getvalue()))
    except ValueError:
        errors = ["pyx12 wrote no readable JSON error report"]
    return Pyx12Verdict(ok=bool(ok) and not errors, findings=findings, text=text, errors=errors)


def tables_with(folder: Path, **tables: str):
    """The packaged rule tables with some replaced: `members="..."` writes members.csv."""
    from payer_simulator.tables import load_tables

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return load_tables(folder)


class SimulatedPayer:
    """The simulated payer with a fixed clock, driven the way the HTTP routes drive it."""

    def __init__(self, folder, **settings) -> None:
        values = {"data_dir": folder, "seed": 42, "denial_rate": 0.0, "line_denial_rate": 0.0}
        self.settings = SimulatorSettings(**{**values, **settings})
        self.store = Store(self.settings.database_path)
        # One instant for every payer of a test, so equal inputs give byte-equal files.
        self.now = datetime.combine(date.today(), time(12, 0), tzinfo=UTC)
        self.icn = 100

    def submit(self, make, *specs):
        self.icn += 1
        text = make.x837(list(specs), interchange_control_number=self.icn)
        return receive_837(store=self.store, settings=self.settings, text=text, now=self.now)

    def remit(self) -> list[str]:
        seqs = remit_queued(store=self.store, settings=self.settings, now=self.now)
        with self.store.transaction() as tx:
            files = {f.seq: f.content for f in tx.remittances(after=0, limit=1000)}
        return [files[seq] for seq in seqs]

    def stats(self):
        with self.store.transaction() as tx:
            return tx.stats()

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def payer(tmp_path):
    """Start simulated payers (each with its own store) with the given settings."""
    payers = []

    def start(**settings) -> SimulatedPayer:
        payers.append(SimulatedPayer(tmp_path / f"payer{len(payers)}", **settings))
        return payers[-1]

    yield start
    for p in payers:
        p.close()


MEMBERS_HEADER = "payer_id,member_id,plan,crossover_carrier_id,crossover_carrier_name\n"


def table_folder(tmp_path, **tables: str):
    folder = tmp_path / "tables"
    folder.mkdir(exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


class Make:
    """Valid-by-default inputs; tests override only what their behaviour needs."""

    spec = ClaimSpec
    other_payer = OtherPayerSpec
    x837 = staticmethod(build_837)
    claim = staticmethod(make_claim)
    line = staticmethod(make_line)
    tables = staticmethod(tables_with)
    recent = RECENT
    claims = staticmethod(many_claims)
    npi = staticmethod(valid_npi)
    clinic_npi = CLINIC_NPI
    other_clinic_npi = OTHER_CLINIC_NPI


@pytest.fixture
def make() -> Make:
    return Make()


@pytest.fixture
def samples() -> Path:
    if not (SAMPLES / "837P").is_dir():
        pytest.skip(f"public X12 samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def pyx12_check() -> Callable[[str], Pyx12Verdict]:
    return pyx12_validate


@pytest.fixture
def balance_errors() -> Callable[[str], list[str]]:
    return balance_errors_835
