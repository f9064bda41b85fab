"""Builders for claims-domain unit tests, the pyx12 validation oracle and the public samples."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document

from claimflow_claims.adapters.x12.claim837 import Receiver, Submitter
from claimflow_claims.domain import Claim, FeeSchedule, ServiceLine, Subscriber, build_claim
from claimflow_shared.codes import ProcedureCodeSystem, npi_check_digit
from claimflow_shared.events.models import (
    Address,
    BillingProvider,
    ClaimLine,
    CodedDiagnosis,
    CodeDecision,
    CodedServiceLine,
    CodeSetVersions,
    Coverage,
    CoveragePriority,
    EncounterCoded,
    Patient,
    PayerRef,
    Providers,
    RenderingProvider,
    Sex,
    SourceDocument,
    SubscriberRelationship,
)
from claimflow_shared.x12 import Envelope

# services/claims/tests/unit/ -> parents[5] is the folder holding both main/ and shared/.
X12_SAMPLES = Path(__file__).resolve().parents[5] / "shared" / "x12-samples"

SERVICE_DATE = date(2025, 3, 10)


def with_check_digit(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


BILLING_NPI = "1234567893"
RENDERING_NPI = with_check_digit("198765432")


class Make:
    """Valid-by-default domain objects; tests override only what their behaviour needs."""

    fee_schedule = FeeSchedule.load()
    npi = staticmethod(with_check_digit)

    def line(
        self,
        code: str,
        *,
        units: int = 1,
        modifiers: Sequence[str] = (),
        pointers: Sequence[int] = (1,),
        service_date: date = SERVICE_DATE,
    ) -> CodedServiceLine:
        system = ProcedureCodeSystem.CPT if code[0].isdigit() else ProcedureCodeSystem.HCPCS
        return CodedServiceLine(
            line_number=1,
            code_system=system,
            code=code,
            modifiers=list(modifiers),
            units=units,
            service_date=service_date,
            diagnosis_pointers=list(pointers),
            decision=CodeDecision.CODER,
            decided_by="coder-1",
        )

    def claim_line(
        self,
        code: str,
        *,
        charge: str = "50.00",
        number: int = 1,
        units: int = 1,
        modifiers: Sequence[str] = (),
        pointers: Sequence[int] = (1,),
        service_date: date = SERVICE_DATE,
    ) -> ServiceLine:
        """A priced line that bypasses the fee schedule (for codes it does not price)."""
        system = ProcedureCodeSystem.CPT if code[0].isdigit() else ProcedureCodeSystem.HCPCS
        return ServiceLine(
            line_number=number,
            code_system=system,
            code=code,
            modifiers=list(modifiers),
            units=units,
            service_date=service_date,
            diagnosis_pointers=list(pointers),
            charge=charge,
        )

    def address(self, *, line1: str = "12 Harbor St", postal_code: str = "021101234") -> Address:
        return Address(line1=line1, city="Boston", state="MA", postal_code=postal_code)

    def patient(self, *, first_name: str = "Ann", last_name: str = "Rivera") -> Patient:
        return Patient(
            mrn="MRN-1001",
            first_name=first_name,
            last_name=last_name,
            birth_date=date(1980, 6, 15),
            sex=Sex.FEMALE,
            address=self.address(line1="40 Elm St", postal_code="02139"),
        )

    def coverage(
        self,
        *,
        payer_id: str = "60054",
        payer_name: str = "Harbor Health Plan",
        member_id: str = "HHP123456",
        relationship: SubscriberRelationship = SubscriberRelationship.SELF,
        priority: CoveragePriority = CoveragePriority.PRIMARY,
    ) -> Coverage:
        return Coverage(
            payer=PayerRef(payer_id=payer_id, name=payer_name),
            member_id=member_id,
            group_number="GRP-77",
            relationship=relationship,
            priority=priority,
        )

    def providers(
        self,
        *,
        billing_npi: str = BILLING_NPI,
        billing_name: str = "Harbor Family Medicine",
        rendering_npi: str = RENDERING_NPI,
        taxonomy: str | None = "207Q00000X",
    ) -> Providers:
        return Providers(
            billing=BillingProvider(
                npi=billing_npi, name=billing_name, tax_id="041234567", address=self.address()
            ),
            rendering=RenderingProvider(
                npi=rendering_npi, first_name="Lee", last_name="Chen", taxonomy=taxonomy
            ),
        )

    def coded(
        self,
        *,
        lines: Iterable[CodedServiceLine] | None = None,
        diagnoses: Sequence[str] = ("J069", "R051"),
        patient: Patient | None = None,
        coverages: list[Coverage] | None = None,
        providers: Providers | None = None,
    ) -> EncounterCoded:
        coded_lines = list(lines) if lines is not None else [self.line("99213")]
        coded_lines = [
            line.model_copy(update={"line_number": number})
            for number, line in enumerate(coded_lines, start=1)
        ]
        final = [
            CodedDiagnosis(sequence=n, code=code, decision=CodeDecision.GIVEN, decided_by="dr")
            for n, code in enumerate(diagnoses, start=1)
        ]
        service_dates = [line.service_date for line in coded_lines]
        return EncounterCoded(
            source=SourceDocument(system="ehr", document_id="doc-1"),
            patient=patient or self.patient(),
            coverages=coverages or [self.coverage()],
            providers=providers or self.providers(),
            period_start=min(service_dates),
            period_end=max(service_dates),
            place_of_service="11",
            diagnoses=[{"sequence": 1, "code": diagnoses[0]}],
            procedures=[{"sequence": 1, "code_system": "CPT", "service_date": service_dates[0]}],
            final_diagnoses=final,
            service_lines=coded_lines,
            code_sets=CodeSetVersions(icd10cm="2026", cpt="2026", hcpcs="2026Q1"),
            coded_by="coder-1",
        )

    def claim(
        self,
        *,
        claim_id: str = "CLM-1001",
        lines: Iterable[CodedServiceLine] | None = None,
        claim_lines: Sequence[ClaimLine] | None = None,
        diagnoses: Sequence[str] = ("J069", "R051"),
        patient: Patient | None = None,
        coverage: Coverage | None = None,
        providers: Providers | None = None,
        subscriber: Subscriber | None = None,
        **changes: object,
    ) -> Claim:
        """A claim built by `build_claim`; `claim_lines` replaces its priced lines as given."""
        coded = self.coded(
            lines=lines,
            diagnoses=diagnoses,
            patient=patient,
            coverages=[coverage] if coverage else None,
            providers=providers,
        )
        claim = build_claim(
            claim_id=claim_id,
            tenant_id="acme",
            encounter_id=f"enc-{claim_id}",
            coded=coded,
            fee_schedule=self.fee_schedule,
            subscriber=subscriber,
        )
        if claim_lines is not None:
            total = sum((line.charge for line in claim_lines), start=claim.total_charge * 0)
            changes = {"lines": tuple(claim_lines), "total_charge": total, **changes}
        # model_copy does not validate: tests use it to make the flawed claims edits must catch.
        return claim.model_copy(update=changes)


@pytest.fixture(scope="session")
def make() -> Make:
    return Make()


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(
        sender_id="CLAIMFLOW",
        receiver_id="CLEARHOUSE",
        interchange_control_number=1001,
        group_control_number=1001,
        functional_id="HC",
        version="005010X222A1",
        created_at=datetime(2025, 3, 12, 9, 30),
        usage="T",
    )


@pytest.fixture
def submitter() -> Submitter:
    return Submitter(
        name="ClaimFlow Billing",
        identifier="CLAIMFLOW",
        contact_name="Billing Desk",
        phone="(617) 555-0100",
        email="edi@claimflow.example",
    )


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(name="Example Clearinghouse", identifier="CLEARHOUSE")


@dataclass(frozen=True)
class Pyx12Verdict:
    ok: bool
    findings: list[str]
    ack_999: str

    def report(self) -> str:
        return (
            "pyx12 findings:\n"
            + "\n".join(self.findings or ["(none logged)"])
            + ("\n999:\n" + self.ack_999)
        )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def pyx12_validate(tmp_path: Path) -> Callable[[str], Pyx12Verdict]:
    """Run the pyx12 implementation-guide validator over X12 text written to a temp file."""

    def validate(text: str) -> Pyx12Verdict:
        path = tmp_path / "under-test.x12"
        # pyx12 reads with the locale codec: anything but ASCII must fail loudly here instead.
        path.write_text(text, encoding="ascii")
        handler = _Collect()
        logger = logging.getLogger("pyx12")
        logger.addHandler(handler)
        ack_999 = io.StringIO()
        try:
            ok = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(),
                src_file=str(path),
                fd_997=ack_999,
                fd_html=None,
                fd_json=io.StringIO(),
            )
        finally:
            logger.removeHandler(handler)
        findings = [f"{r.levelname} {r.getMessage()}" for r in handler.records]
        return Pyx12Verdict(ok=bool(ok), findings=findings, ack_999=ack_999.getvalue())

    return validate


@pytest.fixture(scope="session")
def x12_samples() -> Path:
    if not X12_SAMPLES.is_dir():
        pytest.skip(f"public X12 samples not found at {X12_SAMPLES}")
    return X12_SAMPLES


# --- the claims unit of work in memory, for handler tests -----------------------------------

from claimflow_claims.adapters.repository import (  # noqa: E402
    ClaimRepository,
    FeeScheduleRepository,
    prior_claim,
)
from claimflow_claims.adapters.tables import ClaimRecord  # noqa: E402
from claimflow_claims.domain.fee_schedule import FeeScheduleBook  # noqa: E402
from claimflow_claims.unit_of_work import ClaimsUnitOfWork  # noqa: E402
from claimflow_shared.runtime.uow import FakeUnitOfWork  # noqa: E402


class FakeClaimRepository(ClaimRepository):
    def __init__(self, uow) -> None:
        super().__init__(uow)
        self.records: dict[str, ClaimRecord] = {}
        self.loaded_encounters: list[set] = []

    async def load_for_encounters(self, keys) -> None:
        self.loaded_encounters.append(set(keys))

    async def of_encounter(self, tenant_id, encounter_id):
        return sorted(
            (
                r
                for r in self.records.values()
                if (r.tenant_id, r.encounter_id) == (tenant_id, encounter_id)
            ),
            key=lambda r: r.sequence,
        )

    async def get(self, tenant_id, claim_id):
        record = self.records.get(claim_id)
        return record if record is not None and record.tenant_id == tenant_id else None

    async def prior_claims(self, tenant_id, patient_mrn):
        return [
            prior_claim(r)
            for r in self.records.values()
            if (r.tenant_id, r.patient_mrn) == (tenant_id, patient_mrn)
        ]

    def _store_new(self, record) -> None:
        self.records[record.claim_id] = record

    def _update(self, record) -> None:
        self.records[record.claim_id] = record


class FakeFeeScheduleRepository(FeeScheduleRepository):
    def __init__(self, uow) -> None:
        super().__init__(uow)
        self.books: dict[str, FeeScheduleBook] = {}

    def book(self, tenant_id):
        return self.books.get(tenant_id, FeeScheduleBook(self.default()))


class FakeClaimsUnitOfWork(FakeUnitOfWork, ClaimsUnitOfWork):
    def __init__(self) -> None:
        super().__init__(producer="claimflow-claims/test")
        self.claims = FakeClaimRepository(self)
        self.fees = FakeFeeScheduleRepository(self)

    def emitted_of(self, event_type: str) -> list:
        return [e for e in self.emitted if e.event_type == event_type]


@pytest.fixture
def uow() -> FakeClaimsUnitOfWork:
    return FakeClaimsUnitOfWork()
