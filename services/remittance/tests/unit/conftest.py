"""Shared fixtures: the public 835 samples and a builder for small hand-written 835s."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
# The samples live beside the repository (DESIGN.md: ../shared/x12-samples); a copy inside the
# repository's own shared/ folder is accepted too.
SAMPLE_DIRS = [
    root / "shared" / "x12-samples" / "835" for root in (HERE.parents[5], HERE.parents[4])
]


@pytest.fixture(scope="session")
def samples() -> Path:
    for folder in SAMPLE_DIRS:
        if folder.is_dir():
            return folder
    where = ", ".join(map(str, SAMPLE_DIRS))
    if os.environ.get("CI") == "true":
        pytest.fail(f"835 samples not found in {where}; CI must run the sample tests")
    pytest.skip(f"835 samples not found in {where}")


@pytest.fixture(scope="session")
def sample_text(samples: Path) -> Callable[[str], str]:
    def read(name: str) -> str:
        return (samples / name).read_text(encoding="utf-8")

    return read


ISA = (
    "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *240115*1200*^*00501"
    "*000000001*0*P*:"
)
GS = "GS*HP*PAYER*CLINIC*20240115*1200*1*X*005010X221A1"


@pytest.fixture(scope="session")
def era() -> Callable[..., str]:
    """Wrap claim/PLB segments in ST, BPR, TRN, N1 loops and a correctly counted SE, inside
    a 5010 ISA/GS envelope unless `envelope` is False."""

    def build(
        *body: str,
        total: str = "100.00",
        control: str = "0001",
        envelope: bool = True,
        payer: tuple[str, ...] = ("N1*PR*ACME HEALTH PLAN", "REF*2U*ACME1"),
        payee: tuple[str, ...] = ("N1*PE*GOOD CLINIC*XX*1234567893",),
    ) -> str:
        segments = [
            f"ST*835*{control}",
            f"BPR*I*{total}*C*ACH************20240115",
            "TRN*1*EFT0001*1234567890",
            "DTM*405*20240114",
            *payer,
            *payee,
            "LX*1",
            *body,
        ]
        segments.append(f"SE*{len(segments) + 1}*{control}")
        if envelope:
            segments = [ISA, GS, *segments, "GE*1*1", "IEA*1*000000001"]
        return "~\n".join(segments) + "~\n"

    return build


# -- the remittance unit of work in memory, for handler and command tests -------------------

from claimflow_remittance.adapters.repository import (  # noqa: E402
    WAITING,
    DenialRepository,
    KpiRepository,
    LedgerRepository,
    PatientRepository,
)
from claimflow_remittance.adapters.tables import (  # noqa: E402
    ExpectedClaim,
    RemittanceFile,
    RemittancePayment,
    UnmatchedPayment,
)
from claimflow_remittance.domain.import_identity import PaymentKey  # noqa: E402
from claimflow_remittance.domain.kpis import ClaimFact  # noqa: E402
from claimflow_remittance.domain.matching import MIN_TRUNCATED_CLAIM_ID, claim_key  # noqa: E402
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork  # noqa: E402
from claimflow_shared.runtime.uow import FakeUnitOfWork  # noqa: E402


class FakeLedgerRepository(LedgerRepository):
    """The ledger's reads over what earlier units of work staged (one fake is reused)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.claims: dict[tuple[str, str], ExpectedClaim] = {}
        self.payees: set[tuple[str, str]] = set()
        self.waiting: list[UnmatchedPayment] = []

    async def expected(self, tenant_id, claim_id):
        return self.claims.get((tenant_id, claim_id))

    def expect(self, claim):
        self.claims[(claim.tenant_id, claim.claim_id)] = claim
        self._staged_expected.append(claim)

    async def find_claims(self, claim_ids):
        found = []
        for wanted in claim_ids:
            key = claim_key(wanted)
            for claim in self.claims.values():
                if (
                    claim.claim_id == wanted
                    or claim.claim_key == key
                    or (len(key) >= MIN_TRUNCATED_CLAIM_ID and claim.claim_key.startswith(key))
                ):
                    found.append(claim)
        return list({id(c): c for c in found}.values())

    async def original_claims(self, keys):
        wanted = set(keys)
        return {
            (c.tenant_id, c.encounter_id): c.original_claim_id
            for c in self.claims.values()
            if (c.tenant_id, c.encounter_id) in wanted
        }

    async def payee_tenants(self, npis):
        found: dict[str, set[str]] = {}
        for npi, tenant in self.payees:
            if npi in npis:
                found.setdefault(npi, set()).add(tenant)
        return found

    async def register_payees(self, pairs):
        self.payees |= set(pairs)

    async def known_imports(self, sha256, keys):
        known = {}
        for f in self.uow.staged(RemittanceFile):
            if f["content_sha256"] == sha256 and f["status"] != "quarantined":
                known.setdefault(sha256, f["file_id"])
        wanted = set(keys)
        for p in self.uow.staged(RemittancePayment):
            key = PaymentKey(p["payer"], p["trace_number"])
            if key in wanted:
                known[key] = p["file_id"]
        return known

    def add_unmatched(self, payment):
        payment.id = len(self.waiting) + 1
        self.waiting.append(payment)

    async def parked_for(self, claim_keys):
        keys = set(claim_keys)
        return [
            p
            for p in self.waiting
            if p.claim_key in keys and p.status == "open" and p.kind == WAITING
        ]

    async def waiting_keys(self, *, limit):
        waiting = (p for p in self.waiting if p.status == "open" and p.kind == WAITING)
        return sorted({p.claim_key for p in waiting})


class FakeDenialRepository(DenialRepository):
    pass


class FakePatientRepository(PatientRepository):
    pass


class FakeKpiRepository(KpiRepository):
    async def facts(self, tenant_id, *, until):
        return [
            ClaimFact(
                kind=f["kind"],
                tenant_id=f["tenant_id"],
                claim_id=f["claim_id"],
                on=f["on_date"],
                payer_id=f["payer_id"],
                amount=f["amount"],
                paid=f["paid"],
                contractual=f["contractual"],
                denied=f["denied"],
                status=f["status"],
                category=f["category"],
            )
            for f in self.uow.staged(self._table())
            if f["tenant_id"] == tenant_id and f["on_date"] <= until
        ]

    @staticmethod
    def _table():
        from claimflow_remittance.adapters.tables import KpiFactRow

        return KpiFactRow


class FakeRemittanceUnitOfWork(FakeUnitOfWork, RemittanceUnitOfWork):
    """One fake reused across "transactions": what each staged stays visible to the next,
    as if committed."""

    def __init__(self) -> None:
        super().__init__(producer="claimflow-remittance/test")
        self.ledger = FakeLedgerRepository(self)
        self.denials = FakeDenialRepository(self)
        self.patients = FakePatientRepository(self)
        self.kpis = FakeKpiRepository(self)

    def events(self, event_type: str) -> list:
        return [e for e in self.emitted if e.event_type == event_type]


@pytest.fixture
def uow() -> FakeRemittanceUnitOfWork:
    return FakeRemittanceUnitOfWork()
