"""Deterministic synthetic encounters for demos, tests and benchmarks (no real PHI).

Each tenant is a medical group and a hospital. Most visits are the group's (office visits,
and its physicians' emergency visits at the hospital: 837P); some are the hospital's own
facility charges for an emergency or outpatient visit (the hospital bills as the facility:
837I). Every visit codes cleanly and passes the scrubber."""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from typing import Any

from claimflow_shared.codes import npi_check_digit

FIRST = ["Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Ivy", "Lucas", "Nora", "Owen", "Ruth"]
LAST = ["Rivera", "Chen", "Okafor", "Nguyen", "Schmidt", "Haddad", "Kowalski", "Tanaka"]
CITIES = [("Raleigh", "NC", "27601"), ("Austin", "TX", "78701"), ("Columbus", "OH", "43215")]
PAYERS = [("SIMPAYER1", "SIMULATED HEALTH PLAN"), ("SIMPAYER2", "SIMULATED MEDICARE ADV")]
# (diagnoses, procedures as (system, code, units, modifiers)) of plausible visits.
VISITS: list[tuple[list[str], list[tuple[str, str, int, list[str]]]]] = [
    (["E11.9", "I10"], [("CPT", "99214", 1, []), ("CPT", "80053", 1, []), ("CPT", "36415", 1, [])]),
    (["J06.9"], [("CPT", "99213", 1, [])]),
    (["M54.50"], [("CPT", "99203", 1, []), ("CPT", "97110", 2, [])]),
    (["Z00.00", "R53.83"], [("HCPCS", "G0439", 1, []), ("CPT", "85025", 1, [])]),
    (["S93.401A"], [("CPT", "99283", 1, []), ("CPT", "73630", 1, []), ("CPT", "29125", 1, [])]),
    (["R07.9"], [("CPT", "99284", 1, []), ("CPT", "93000", 1, []), ("CPT", "71046", 1, [])]),
    (["N39.0"], [("CPT", "99212", 1, []), ("CPT", "81002", 1, [])]),
    (
        ["Z23", "J45.909"],
        [("CPT", "99213", 1, ["25"]), ("CPT", "90471", 1, []), ("CPT", "90686", 1, [])],
    ),
    (
        ["M25.561"],
        [("CPT", "99214", 1, ["25"]), ("CPT", "20610", 1, []), ("HCPCS", "J3301", 4, [])],
    ),
    (["F41.1"], [("CPT", "99215", 1, [])]),
]
# The hospital's own charges (837I): (place of service, encounter class, diagnoses, lines).
FACILITY_VISITS: list[tuple[str, str, list[str], list[tuple[str, str, int, list[str]]]]] = [
    (
        "23",
        "emergency",
        ["R07.9"],
        [("CPT", "99284", 1, []), ("CPT", "93000", 1, []), ("CPT", "71046", 1, [])],
    ),
    ("23", "emergency", ["S93.401A"], [("CPT", "99283", 1, []), ("CPT", "73630", 1, [])]),
    ("22", "ambulatory", ["E11.9", "I10"], [("CPT", "80053", 1, []), ("CPT", "36415", 1, [])]),
    ("22", "ambulatory", ["J18.9", "R50.9"], [("CPT", "71046", 1, []), ("CPT", "85025", 1, [])]),
]
# One visit in this many is a facility visit.
FACILITY_SHARE = 4


def make_npi(rng: random.Random) -> str:
    first_nine = f"1{rng.randrange(10**8):08d}"
    return first_nine + str(npi_check_digit(first_nine))


def provider_org(tenant: str, index: int) -> dict[str, Any]:
    rng = random.Random(f"org:{tenant}:{index}")
    city, state, postal = CITIES[index % len(CITIES)]
    return {
        "billing": {
            "npi": make_npi(rng),
            "name": f"{tenant.upper()} MEDICAL GROUP",
            "tax_id": f"{rng.randrange(10**8, 10**9):09d}",
            # The 837P wants the billing provider's ZIP+4.
            "address": {
                "line1": f"{rng.randrange(10, 999)} Main St",
                "city": city,
                "state": state,
                "postal_code": f"{postal}{rng.randrange(10**4):04d}",
            },
        },
        "rendering": {
            "npi": make_npi(rng),
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
        },
    }


def hospital(tenant: str) -> dict[str, Any]:
    """The tenant's hospital as the billing provider of its own facility charges."""
    rng = random.Random(f"hospital:{tenant}")
    city, state, postal = CITIES[1]
    return {
        "npi": make_npi(rng),
        "name": f"{tenant.upper()} COMMUNITY HOSPITAL",
        "tax_id": f"{rng.randrange(10**8, 10**9):09d}",
        "address": {
            "line1": f"{rng.randrange(10, 999)} Hospital Dr",
            "city": city,
            "state": state,
            "postal_code": f"{postal}{rng.randrange(10**4):04d}",
        },
    }


def facility_providers(tenant: str) -> dict[str, Any]:
    """The hospital bills its charges; an emergency physician attends."""
    rng = random.Random(f"attending:{tenant}")
    billing = hospital(tenant)
    return {
        "billing": billing,
        "rendering": {
            "npi": make_npi(rng),
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "taxonomy": "207P00000X",
        },
        "facility_npi": billing["npi"],
    }


def mrn(tenant: str, seed: int, n: int) -> str:
    """A medical record number unique to this synthetic patient (one patient per visit)."""
    return "MRN" + hashlib.sha256(f"{tenant}:{seed}:{n}".encode()).hexdigest()[:12].upper()


def encounter(tenant: str, n: int, *, seed: int = 7, today: date | None = None) -> dict[str, Any]:
    """The n-th synthetic encounter of a tenant, as intake's JSON body."""
    rng = random.Random(f"{seed}:{tenant}:{n}")
    today = today or date.today()
    service_date = today - timedelta(days=rng.randrange(1, 60))
    city, state, postal = rng.choice(CITIES)
    if rng.randrange(FACILITY_SHARE) == 0:
        place, encounter_class, diagnoses, procedures = rng.choice(FACILITY_VISITS)
        providers = facility_providers(tenant)
    else:
        diagnoses, procedures = rng.choice(VISITS)
        emergency = procedures[0][1].startswith("9928")
        place, encounter_class = ("23", "emergency") if emergency else ("11", "ambulatory")
        providers = provider_org(tenant, 0)
        if emergency:
            # The group's physician saw the patient in the hospital's emergency department.
            providers = {**providers, "facility_npi": hospital(tenant)["npi"]}
    payer_id, payer_name = rng.choice(PAYERS)
    sex = rng.choice(["F", "M"])
    return {
        "source": {"system": "synthetic-ehr", "document_id": f"{tenant}-{seed}-{n}"},
        "patient": {
            "mrn": mrn(tenant, seed, n),
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "birth_date": (today - timedelta(days=rng.randrange(18 * 365, 85 * 365))).isoformat(),
            "sex": sex,
            "address": {
                "line1": f"{rng.randrange(1, 9999)} Oak Ave",
                "city": city,
                "state": state,
                "postal_code": postal,
            },
        },
        "coverages": [
            {
                "payer": {"payer_id": payer_id, "name": payer_name},
                "member_id": f"M{rng.randrange(10**9):09d}",
                "group_number": f"G{rng.randrange(10**5):05d}",
            }
        ],
        "providers": providers,
        "encounter_class": encounter_class,
        "period_start": service_date.isoformat(),
        "period_end": service_date.isoformat(),
        "place_of_service": place,
        "diagnoses": [{"sequence": i, "code": code} for i, code in enumerate(diagnoses, 1)],
        "procedures": [
            {
                "sequence": i,
                "code_system": system,
                "code": code,
                "units": units,
                "modifiers": modifiers,
                "service_date": service_date.isoformat(),
                "diagnosis_sequences": list(range(1, len(diagnoses) + 1))[:4],
            }
            for i, (system, code, units, modifiers) in enumerate(procedures, 1)
        ],
    }


def tenant_names(count: int) -> list[str]:
    return [f"tenant-{i + 1:02d}" for i in range(count)]
