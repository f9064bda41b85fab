"""Facility billing: which claim form an encounter goes on, and the revenue code of a line.

A facility (hospital, SNF, home health, ...) bills its own charges on the institutional claim
(837I); the physicians who treated the patient there bill theirs on the professional claim
(837P) with the facility's place of service. So the form follows who bills, and the
encounter only decides when who bills is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from claimflow_claims.domain.tables import DATA_DIR, RuleTableError, read_rule_table
from claimflow_shared.codes import Icd10CmCode, Money, Npi
from claimflow_shared.events.models import EncounterClass, RenderingProvider

ClaimType = Literal["837P", "837I"]

# Inpatient hospital, outpatient hospital (on and off campus), emergency room - hospital.
FACILITY_PLACES_OF_SERVICE = frozenset({"21", "22", "19", "23"})
ACCOMMODATION_REVENUE_CODE = "0120"


class AttendingProvider(BaseModel):
    """A person named on an institutional claim: attending (2310A) or operating (2310B)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    npi: Npi
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9A-Z]{9}X$")


class PcsProcedure(BaseModel):
    """An ICD-10-PCS inpatient procedure and the day it was performed (HI BBR / BBQ)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[0-9A-HJ-NP-Z]{7}$")
    performed_on: date


class OccurrenceCode(BaseModel):
    """HI BH: an event that bears on payment (accident date, onset, last menstrual period)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[0-9A-Z]{2}$")
    on: date


class ValueCode(BaseModel):
    """HI BE: an amount that bears on payment (e.g. 80 covered days, A1 deductible)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[0-9A-Z]{2}$")
    amount: Money


class InstitutionalDetails(BaseModel):
    """What only an 837I carries: type of bill, the stay, and facility-side codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    facility_type: str = Field(
        pattern=r"^[0-9]{2}$",
        description="CLM05-1: type of bill without its frequency digit, e.g. 11 inpatient "
        "hospital, 13 outpatient hospital",
    )
    admission_type: str | None = Field(
        default=None, pattern=r"^[1-59]$", description="CL101: 1 emergency ... 3 elective"
    )
    admission_source: str | None = Field(default=None, pattern=r"^[0-9A-Z]$", description="CL102")
    patient_status: str = Field(
        default="01", pattern=r"^[0-9]{2}$", description="CL103 discharge status"
    )
    admitted_at: datetime | None = Field(default=None, description="DTP*435, inpatient")
    discharge_hour: time | None = Field(default=None, description="DTP*096, inpatient")
    admitting_diagnosis: Icd10CmCode | None = None
    reason_for_visit: tuple[Icd10CmCode, ...] = Field(default=(), max_length=3)
    present_on_admission: tuple[Literal["Y", "N", "U", "W", ""], ...] = Field(
        default=(), description="POA indicator per claim diagnosis, in order (inpatient)"
    )
    principal_procedure: PcsProcedure | None = None
    other_procedures: tuple[PcsProcedure, ...] = Field(default=(), max_length=24)
    occurrence_codes: tuple[OccurrenceCode, ...] = Field(default=(), max_length=24)
    value_codes: tuple[ValueCode, ...] = Field(default=(), max_length=24)
    condition_codes: tuple[str, ...] = Field(default=(), max_length=24)
    attending: AttendingProvider
    operating: AttendingProvider | None = None

    @property
    def inpatient(self) -> bool:
        # Types of bill 11x and 18x (hospital and swing bed inpatient), 21x (SNF inpatient).
        return self.facility_type in {"11", "12", "18", "21", "41", "65", "66", "86"}


@cache
def institutional_taxonomies() -> frozenset[str]:
    rows = read_rule_table(
        DATA_DIR / "nucc_taxonomy.csv", columns=("code", "grouping", "section", "institutional")
    )
    return frozenset(row["code"] for row in rows if row["institutional"] == "Y")


def choose_claim_type(
    *,
    encounter_class: EncounterClass,
    place_of_service: str,
    billing_taxonomy: str | None = None,
    billing_is_facility: bool | None = None,
    billing_npi: str | None = None,
    facility_npi: str | None = None,
) -> ClaimType:
    """837I when a facility bills; 837P when a practitioner or group does.

    `billing_is_facility` (from the tenant's provider registry) wins; else the billing
    provider's NUCC taxonomy decides; else the facility where care was given: when it is
    the billing provider itself (same NPI) the facility bills its own charges, when it is
    another NPI a practitioner bills for care given there. With none of these, an inpatient
    or emergency encounter in a hospital place of service (21, 22, 19, 23) is taken as the
    hospital's own claim.
    """
    if billing_is_facility is not None:
        return "837I" if billing_is_facility else "837P"
    if billing_taxonomy:
        return "837I" if billing_taxonomy.upper() in institutional_taxonomies() else "837P"
    if facility_npi and billing_npi:
        return "837I" if facility_npi == billing_npi else "837P"
    hospital_stay = encounter_class in {EncounterClass.INPATIENT, EncounterClass.EMERGENCY}
    return "837I" if hospital_stay and place_of_service in FACILITY_PLACES_OF_SERVICE else "837P"


@dataclass(frozen=True)
class RevenueCodeRange:
    code_from: str
    code_to: str
    revenue_code: str

    def holds(self, code: str) -> bool:
        return (
            len(code) == len(self.code_from)
            and code[0].isdigit() == self.code_from[0].isdigit()
            and self.code_from <= code <= self.code_to
        )


@cache
def revenue_code_ranges() -> tuple[RevenueCodeRange, ...]:
    path = DATA_DIR / "revenue_codes.csv"
    rows = read_rule_table(path, columns=("code_from", "code_to", "revenue_code"))
    ranges = []
    for number, row in enumerate(rows, start=2):
        if not (row["revenue_code"].isdigit() and len(row["revenue_code"]) == 4):
            raise RuleTableError(f"{path.name} row {number}: revenue code must be 4 digits")
        ranges.append(RevenueCodeRange(row["code_from"], row["code_to"], row["revenue_code"]))
    return tuple(ranges)


def revenue_code_for(code: str) -> str | None:
    """The revenue code a facility line for this CPT/HCPCS code goes under, if we know one."""
    code = code.upper()
    return next((r.revenue_code for r in revenue_code_ranges() if r.holds(code)), None)


def default_institutional_details(
    *,
    encounter_class: EncounterClass,
    attending: RenderingProvider,
    admitted_at: datetime | None = None,
) -> InstitutionalDetails:
    """What an encounter implies when the facility sent nothing more: type of bill 11x for an
    inpatient stay (emergency admission when it came through the ED is not known: elective),
    13x for outpatient and emergency visits; discharged home (01); the rendering provider
    attends."""
    doctor = AttendingProvider(
        npi=attending.npi,
        first_name=attending.first_name,
        last_name=attending.last_name,
        taxonomy=attending.taxonomy,
    )
    if encounter_class is EncounterClass.INPATIENT:
        return InstitutionalDetails(
            facility_type="11",
            admission_type="3",
            admission_source="1",
            patient_status="01",
            admitted_at=admitted_at,
            discharge_hour=time(11, 0),
            attending=doctor,
        )
    emergency = encounter_class is EncounterClass.EMERGENCY
    return InstitutionalDetails(
        facility_type="13",
        admission_type="1" if emergency else None,
        admission_source="7" if emergency else None,
        patient_status="01",
        attending=doctor,
    )
