"""Builders for intake's domain tests: a tenant registry, Synthea bundles, hand-made FHIR."""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from claimflow_intake.domain.fhir import read_bundle
from claimflow_intake.domain.registry import (
    Payer,
    PostalAddress,
    Provider,
    TenantDefaults,
    TenantRegistry,
)
from claimflow_shared.codes import npi_check_digit

REPO = Path(__file__).resolve().parents[4]
SYNTHEA = REPO / "tests" / "fixtures" / "synthea"
TODAY = date(2026, 11, 23)


def make_npi(n: int) -> str:
    first_nine = f"1{n:08d}"
    return first_nine + str(npi_check_digit(first_nine))


BILLING_NPI = make_npi(1)
RENDERING_NPI = make_npi(2)


def tenant_registry(**changes: Any) -> TenantRegistry:
    """A tenant billing four payers (as Synthea names them) under one billing provider."""
    fields: dict[str, Any] = {
        "tenant_id": "acme",
        "payers": (
            Payer(
                "MEDICARE", "Medicare", claim_filing_indicator="MB", member_id_source="patient-id"
            ),
            Payer(
                "MEDICAID",
                "Medicaid",
                aliases=("Dual Eligible",),
                claim_filing_indicator="MC",
                member_id_source="patient-id",
            ),
            Payer("HUMANA", "Humana", member_id_source="patient-id"),
            Payer(
                "BCBS",
                "Blue Cross Blue Shield",
                aliases=("BCBS", "Blue Cross & Blue Shield"),
                claim_filing_indicator="BL",
            ),
        ),
        "providers": (
            Provider(
                "organization",
                npi=BILLING_NPI,
                name="ACME MEDICAL GROUP",
                tax_id="123456789",
                address=PostalAddress("1 Main St", "Boston", "MA", "021101234"),
                local_ids=("urn:acme:org|ACME",),
            ),
            Provider(
                "individual",
                npi=RENDERING_NPI,
                first_name="Ada",
                last_name="Quill",
                taxonomy="207Q00000X",
                local_ids=("urn:acme:staff|AQ1",),
            ),
        ),
        "defaults": TenantDefaults(billing_npi=BILLING_NPI),
    }
    fields.update(changes)
    return TenantRegistry(**fields)


def synthea_file(name: str) -> bytes:
    path = next(SYNTHEA.glob(f"{name}*"))
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def synthea_patient_files() -> list[Path]:
    return sorted(p for p in SYNTHEA.glob("*_*.json*"))


def read_synthea(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


@pytest.fixture
def registry() -> TenantRegistry:
    return tenant_registry()


@pytest.fixture(scope="session")
def synthea_registry() -> TenantRegistry:
    """The tenant after posting Synthea's hospital and practitioner bundles."""
    loaded = tenant_registry()
    for name in ("hospitalInformation", "practitionerInformation"):
        result = read_bundle(
            synthea_file(name), registry=loaded, source_system="synthea", today=TODAY
        )
        assert result.ok
        loaded = loaded.merged(result.directory)
    return loaded


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                ]
            },
            "system": "urn:acme:mrn",
            "value": "MRN0001",
        }
    ],
    "name": [{"use": "official", "family": "Rivera", "given": ["Ava"]}],
    "gender": "female",
    "birthDate": "1980-02-29",
    "address": [
        {
            "line": ["12 Elm St", "Apt 3"],
            "city": "Raleigh",
            "state": "North Carolina",
            "postalCode": "27601-1234",
        }
    ],
}

ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "enc1",
    "identifier": [{"use": "official", "system": "urn:acme:visit", "value": "V-1001"}],
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "type": [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "185349003",
                    "display": "Encounter for check up",
                }
            ]
        }
    ],
    "subject": {"reference": "urn:uuid:p1"},
    "participant": [
        {
            "type": [{"coding": [{"code": "PPRF"}]}],
            "individual": {
                "reference": f"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|{RENDERING_NPI}"
            },
        }
    ],
    "period": {"start": "2026-10-01T09:00:00-05:00", "end": "2026-10-01T09:30:00-05:00"},
    "serviceProvider": {"reference": "Organization?identifier=urn:acme:org|ACME"},
}

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "c1",
    "code": {
        "coding": [
            {
                "system": "http://hl7.org/fhir/sid/icd-10-cm",
                "code": "E11.9",
                "display": "Type 2 diabetes",
            },
            {
                "system": "http://snomed.info/sct",
                "code": "44054006",
                "display": "Diabetes mellitus type 2",
            },
        ],
        "text": "Type 2 diabetes",
    },
    "subject": {"reference": "urn:uuid:p1"},
    "encounter": {"reference": "urn:uuid:enc1"},
}

PROCEDURE: dict[str, Any] = {
    "resourceType": "Procedure",
    "id": "pr1",
    "status": "completed",
    "code": {
        "coding": [
            {"system": "http://www.ama-assn.org/go/cpt", "code": "99213", "display": "Office visit"}
        ]
    },
    "subject": {"reference": "urn:uuid:p1"},
    "encounter": {"reference": "urn:uuid:enc1"},
    "performedDateTime": "2026-10-01T09:10:00-05:00",
}

COVERAGE: dict[str, Any] = {
    "resourceType": "Coverage",
    "id": "cov1",
    "status": "active",
    "subscriberId": "W123456789",
    "beneficiary": {"reference": "urn:uuid:p1"},
    "relationship": {"coding": [{"code": "self"}]},
    "payor": [{"display": "Blue Cross & Blue Shield"}],
    "class": [
        {
            "type": {"coding": [{"code": "group"}]},
            "value": "GRP-77",
        }
    ],
    "order": 1,
}


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [entry(r) for r in resources]}


@pytest.fixture
def ehr_bundle() -> Callable[..., dict[str, Any]]:
    """A small EHR-shaped bundle (ICD-10-CM, CPT, a Coverage with a member id); keyword
    arguments replace or drop (None) whole resources by name."""

    def build(**overrides: dict[str, Any] | None) -> dict[str, Any]:
        parts = {
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "condition": CONDITION,
            "procedure": PROCEDURE,
            "coverage": COVERAGE,
        }
        parts.update(overrides)
        return bundle(*(copy.deepcopy(r) for r in parts.values() if r is not None))

    return build


# --- HL7 v2 ------------------------------------------------------------------------------------


def hl7_segment(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: value}; MSH numbering counts MSH-1 as the separator."""
    top = max(fields) if fields else 0
    if name == "MSH":
        values = ["MSH", "^~\\&"] + [fields.get(n, "") for n in range(3, top + 1)]
        return "|".join(values)
    return "|".join([name] + [fields.get(n, "") for n in range(1, top + 1)])


RENDERING_XCN = f"{RENDERING_NPI}^Quill^Ada^^^^^^NPI^^^^NPI"


def hl7_segments(
    kind: str = "DFT^P03^DFT_P03", **overrides: dict[int, str] | None
) -> dict[str, dict[int, str]]:
    return {
        "MSH": {
            3: "EPIC",
            4: "ACMEHOSP",
            5: "CLAIMFLOW",
            6: "ACME",
            7: "20261001120000",
            9: kind,
            10: "MSG0001",
            11: "P",
            12: "2.5.1",
        },
        "EVN": {1: kind.split("^")[1], 2: "20261001120000"},
        "PID": {
            1: "1",
            3: "MRN0001^^^ACME^MR",
            5: "Rivera^Ava",
            7: "19800229",
            8: "F",
            11: "12 Elm St^Apt 3^Raleigh^NC^27601^USA^H",
            18: "ACCT77",
        },
        "PV1": {
            1: "1",
            2: "O",
            3: "CLINIC^^^ACMEFAC",
            7: RENDERING_XCN,
            19: "V-1001",
            44: "20261001",
        },
        "IN1": {
            1: "1",
            2: "PPO",
            3: "BCBS",
            4: "Blue Cross Blue Shield",
            8: "GRP-77",
            17: "SEL",
            36: "W123456789",
        },
        "GT1": {1: "1", 3: "Rivera^Ava"},
        "DG1": {1: "1", 3: "E11.9^Type 2 diabetes^I10", 6: "F", 15: "1"},
        "FT1": {
            1: "1",
            4: "20261001",
            6: "CG",
            7: "99213^Office visit^C4",
            10: "1",
            19: "E11.9^^I10",
            20: RENDERING_XCN,
            25: "99213^Office visit^C4",
            26: "25",
        },
    } | {k: v for k, v in overrides.items()}  # type: ignore[operator]


def hl7_message(segments: dict[str, dict[int, str] | None], *extra: str) -> str:
    """Segments in the given order (None drops one), then extra raw segments, CR-separated."""
    lines = [hl7_segment(name, fields) for name, fields in segments.items() if fields is not None]
    return "\r".join([*lines, *extra]) + "\r"


# --- bulk files --------------------------------------------------------------------------------


def json_encounter(n: int = 1, **changes: Any) -> dict[str, Any]:
    """The n-th encounter as an NDJSON line / JSON API body, leaning on the registry."""
    body: dict[str, Any] = {
        "source": {"system": "ehr-1", "document_id": f"DOC-{n}"},
        "patient": {
            "mrn": f"MRN{n:06d}",
            "first_name": "Ava",
            "last_name": "Rivera",
            "birth_date": "1980-02-29",
            "sex": "F",
            "address": {
                "line1": "12 Elm St",
                "city": "Raleigh",
                "state": "NC",
                "postal_code": "27601",
            },
        },
        "coverages": [{"payer": {"name": "Blue Cross & Blue Shield"}, "member_id": f"W{n:08d}"}],
        "providers": {"rendering": {"local_id": "urn:acme:staff|AQ1"}},
        "period_start": "2026-10-01",
        "period_end": "2026-10-01",
        "diagnoses": [{"sequence": 1, "code": "E11.9"}],
        "procedures": [
            {"sequence": 1, "code_system": "CPT", "code": "99213", "service_date": "2026-10-01"}
        ],
    }
    body.update(changes)
    return body


CSV_ROW: dict[str, str] = {
    "document_id": "DOC-1",
    "patient_mrn": "MRN000001",
    "patient_first_name": "Ava",
    "patient_last_name": "Rivera",
    "patient_birth_date": "1980-02-29",
    "patient_sex": "F",
    "patient_address_line1": "12 Elm St",
    "patient_city": "Raleigh",
    "patient_state": "North Carolina",
    "patient_postal_code": "27601-1234",
    "payer_name": "BCBS",
    "member_id": "W00000001",
    "rendering_npi": RENDERING_NPI,
    "period_start": "2026-10-01",
    "diagnoses": "E11.9;SNOMED-CT:38341003",
    "line_code": "99213",
    "line_modifiers": "25",
    "line_diagnosis_pointers": "1;2",
}


def csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    import csv as _csv
    import io as _io

    names = columns or sorted({k for row in rows for k in row})
    buffer = _io.StringIO()
    writer = _csv.DictWriter(buffer, fieldnames=names, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
