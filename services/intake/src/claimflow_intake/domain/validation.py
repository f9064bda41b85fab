"""What every intake input must satisfy before it becomes `encounter.documented`, whatever
its source, and how a failure is told: the field's position in the source and the reason,
never the value (the values are PHI).

Every reader (FHIR, HL7 v2, CSV, NDJSON, the JSON API) builds the contract's JSON shape plus
a `SourceMap` from contract fields to source positions, then calls `validate_documented`.
"""

from __future__ import annotations

import contextlib
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from claimflow_shared.codes import npi_check_digit
from claimflow_shared.events import DocumentedCodeSystem, EncounterDocumented

# People older than this are data errors, not patients (the oldest verified human lived 122).
OLDEST_PLAUSIBLE_AGE_YEARS = 125


class ProblemKind(StrEnum):
    """Why a field fails; HL7 v2 ACKs turn these into table 0357 error codes."""

    MISSING = "missing"
    INVALID = "invalid"
    UNKNOWN = "unknown"
    UNSUPPORTED = "unsupported"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Problem:
    """One reason a record cannot be accepted: where (JSON pointer, `PID-7`, or a CSV column
    and row) and why. Never carries the offending value."""

    location: str
    reason: str
    kind: ProblemKind = ProblemKind.INVALID

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


# --- packaged tables -----------------------------------------------------------------------


def read_table(name: str) -> list[dict[str, str]]:
    """A packaged CSV table from `data/`, skipping `#` comment lines."""
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines)]


@cache
def places_of_service() -> Mapping[str, str]:
    return {row["code"]: row["name"] for row in read_table("place_of_service.csv")}


@cache
def _states() -> tuple[frozenset[str], Mapping[str, str]]:
    rows = read_table("us_states.csv")
    return (
        frozenset(row["code"] for row in rows),
        {_fold(row["name"]): row["code"] for row in rows},
    )


@cache
def nucc_taxonomy() -> Mapping[str, str]:
    return {row["code"]: row["display_name"] for row in read_table("nucc_taxonomy.csv")}


@cache
def claim_filing_indicators() -> frozenset[str]:
    return frozenset(row["code"] for row in read_table("claim_filing_indicators.csv"))


@cache
def _code_systems() -> Mapping[str, DocumentedCodeSystem]:
    return {
        row["alias"].casefold(): DocumentedCodeSystem(row["system"])
        for row in read_table("code_systems.csv")
    }


@cache
def _encounter_classes() -> Mapping[tuple[str, str], tuple[str, str]]:
    return {
        (row["source"], row["code"].upper()): (
            row["encounter_class"],
            row["default_place_of_service"],
        )
        for row in read_table("encounter_classes.csv")
    }


@cache
def _relationships() -> Mapping[tuple[str, str], str]:
    return {
        (row["source"], row["code"].casefold()): row["x12"]
        for row in read_table("subscriber_relationships.csv")
    }


def code_system(name: str | None) -> DocumentedCodeSystem | None:
    """The contract code system a source's system URI, OID or v2 mnemonic names, if any."""
    if not name:
        return None
    return _code_systems().get(name.strip().casefold())


def encounter_class(source: str, code: str | None) -> tuple[str, str] | None:
    """(encounter class, default place of service) for a FHIR class or an HL7 PV1-2 code."""
    if not code:
        return None
    return _encounter_classes().get((source, code.strip().upper()))


def subscriber_relationship(source: str, code: str | None) -> str | None:
    """The X12 individual relationship code for a source's relationship code."""
    if not code:
        return None
    return _relationships().get((source, code.strip().casefold()))


# --- field rules ---------------------------------------------------------------------------

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_MEMBER_ID = re.compile(r"^[A-Za-z0-9-]{2,80}$")
_POSTAL = re.compile(r"^([0-9]{5})(?:-?([0-9]{4}))?$")


def has_control_characters(text: str) -> bool:
    """Control, line-separator and bidirectional-override characters: none belongs in a
    name, an address or a code, and they break X12 segments and log lines downstream."""
    return _CONTROL.search(text) is not None


def npi_problem(value: str) -> str | None:
    """Why this is not a valid NPI, or None. Never quotes the value."""
    if not (len(value) == 10 and value.isdigit()):
        return "an NPI is 10 digits"
    if npi_check_digit(value[:9]) != int(value[9]):
        return "fails the NPI check digit (Luhn over 80840 + the first 9 digits)"
    return None


def is_valid_npi(value: str | None) -> bool:
    return bool(value) and npi_problem(str(value)) is None


def member_id_problem(value: str) -> str | None:
    if not _MEMBER_ID.match(value):
        return "a member id is 2 to 80 letters, digits or hyphens"
    return None


_SEXES = {
    "m": "M",
    "male": "M",
    "f": "F",
    "female": "F",
    "u": "U",
    "unknown": "U",
    # HL7 table 0001 and FHIR administrative-gender values with no X12 equivalent.
    "o": "U",
    "other": "U",
    "a": "U",
    "n": "U",
}


def normalise_sex(value: str | None) -> str | None:
    """M, F or U from the spellings sources use; None when it is none of them."""
    if value is None:
        return None
    return _SEXES.get(value.strip().casefold())


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def state_code(value: str | None) -> str | None:
    """The USPS code for a state given as a code or a full name ('Massachusetts' → 'MA')."""
    if not value:
        return None
    codes, by_name = _states()
    upper = value.strip().upper()
    if upper in codes:
        return upper
    return by_name.get(_fold(value))


def postal_code(value: str | None) -> str | None:
    """Five or nine digits; None for a missing code or the all-zero placeholder."""
    if not value:
        return None
    match = _POSTAL.match(value.strip())
    if match is None or match.group(1) == "00000":
        return None
    return match.group(1) + (match.group(2) or "")


# --- where a contract field came from ------------------------------------------------------


@dataclass
class SourceMap:
    """Contract JSON pointers → positions in the source document. A pointer without an
    entry of its own takes its nearest mapped parent's position."""

    root: str = ""
    positions: dict[str, str] = field(default_factory=dict)
    absolute: bool = False

    def add(self, pointer: str, position: str) -> None:
        self.positions[pointer] = position

    def locate(self, pointer: str) -> str:
        probe = pointer
        while True:
            if probe in self.positions:
                return self.positions[probe]
            if probe in ("", "/"):
                break
            probe = probe.rsplit("/", 1)[0]
        if self.absolute:
            return self.root or "/"
        return (self.root + pointer) if pointer != "/" else (self.root or "/")


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else ""


# --- the one validation pipeline -----------------------------------------------------------


def _error_pointer(loc: tuple[Any, ...]) -> str:
    parts = [
        str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    ]
    return pointer(*parts) if parts else "/"


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "date_from_datetime_inexact": "must be a date without a time",
}


_QUOTED = re.compile(r"``.*?``", re.DOTALL)


def _scalars_in(value: Any, limit: int = 200) -> list[Any]:
    """The scalar leaves of an input (a list or object may be quoted whole in a message)."""
    found: list[Any] = []
    stack = [value]
    while stack and len(found) < limit:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            found.append(item)
    return found


def _safe_message(error: Mapping[str, Any]) -> str:
    """Pydantic's message with the input value taken out (our own validators and the FHIR
    models quote it, sometimes inside a list or between double backticks)."""
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    message = str(error.get("msg", "is not valid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = _QUOTED.sub("the value", message)
    value = error.get("input")
    if not isinstance(value, str | int | float | bool | type(None)):
        with contextlib.suppress(Exception):
            message = message.replace(repr(value), "the value").replace(str(value), "the value")
    for scalar in sorted(_scalars_in(value), key=lambda s: -len(str(s))):
        text = str(scalar)
        message = message.replace(repr(scalar), "the value").replace(repr(text), "the value")
        if len(text) >= 3:
            message = message.replace(text, "the value")
    return message


def _kind(error: Mapping[str, Any]) -> ProblemKind:
    if error["type"] == "missing":
        return ProblemKind.MISSING
    if error["type"] in ("enum", "literal_error"):
        return ProblemKind.UNKNOWN
    return ProblemKind.INVALID


def problems_from_validation(
    exc: ValidationError, locate: Callable[[str], str], prefix: str = ""
) -> list[Problem]:
    """Pydantic errors as positioned problems, without the values."""
    problems = []
    for error in exc.errors(include_url=False):
        where = _error_pointer(tuple(error.get("loc", ())))
        if where == "/" and "period_end" in str(error.get("msg", "")):
            where = "/period_end"
        problems.append(Problem(locate(prefix + where), _safe_message(error), _kind(error)))
    return problems


@dataclass(frozen=True)
class Checks:
    """What the domain checks need to know besides the encounter."""

    today: date
    known_payer_ids: frozenset[str] | None = None


def check_dates_of_service(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    if e.period_start > c.today:
        yield Problem("/period_start", "date of service is in the future")
    if e.period_end > c.today:
        yield Problem("/period_end", "date of service is in the future")
    for i, p in enumerate(e.procedures):
        if p.service_date > c.today:
            yield Problem(f"/procedures/{i}/service_date", "date of service is in the future")
        elif not e.period_start <= p.service_date <= e.period_end:
            yield Problem(
                f"/procedures/{i}/service_date", "service date is outside the encounter period"
            )


def check_birth_date(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    born = e.patient.birth_date
    if born > c.today:
        yield Problem("/patient/birth_date", "birth date is in the future")
    elif born > e.period_start:
        yield Problem("/patient/birth_date", "birth date is after the date of service")
    elif born < c.today - timedelta(days=int(365.25 * OLDEST_PLAUSIBLE_AGE_YEARS)):
        yield Problem(
            "/patient/birth_date",
            f"birth date is implausible (more than {OLDEST_PLAUSIBLE_AGE_YEARS} years ago)",
        )


def check_payers_known(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    if c.known_payer_ids is None:
        return
    for i, coverage in enumerate(e.coverages):
        if coverage.payer.payer_id not in c.known_payer_ids:
            yield Problem(
                f"/coverages/{i}/payer/payer_id",
                "payer is not known to the tenant",
                ProblemKind.UNKNOWN,
            )


def check_coverages_distinct(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    priorities = [coverage.priority for coverage in e.coverages]
    for i, priority in enumerate(priorities):
        if priority in priorities[:i]:
            yield Problem(f"/coverages/{i}/priority", f"two coverages are {priority.value}")


def check_place_of_service(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    if e.place_of_service not in places_of_service():
        yield Problem("/place_of_service", "not a CMS place-of-service code", ProblemKind.UNKNOWN)


def check_addresses(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    codes, _ = _states()
    places = [("/patient/address", e.patient.address)]
    places.append(("/providers/billing/address", e.providers.billing.address))
    for where, address in places:
        if address.state not in codes:
            yield Problem(f"{where}/state", "not a USPS state code", ProblemKind.UNKNOWN)
        if address.postal_code.startswith("00000"):
            yield Problem(f"{where}/postal_code", "postal code is a placeholder")


def check_rendering_taxonomy(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    taxonomy = e.providers.rendering.taxonomy
    if taxonomy is not None and taxonomy not in nucc_taxonomy():
        yield Problem(
            "/providers/rendering/taxonomy", "not a NUCC taxonomy code", ProblemKind.UNKNOWN
        )


def check_diagnosis_sequences(e: EncounterDocumented, c: Checks) -> Iterator[Problem]:
    sequences = [d.sequence for d in e.diagnoses]
    for i, sequence in enumerate(sequences):
        if sequence in sequences[:i]:
            yield Problem(f"/diagnoses/{i}/sequence", "diagnosis sequence is used twice")
    for i, p in enumerate(e.procedures):
        for j, s in enumerate(p.diagnosis_sequences):
            if s not in sequences:
                yield Problem(
                    f"/procedures/{i}/diagnosis_sequences/{j}",
                    "points to a diagnosis that is not documented",
                )


CHECKS: tuple[Callable[[EncounterDocumented, Checks], Iterable[Problem]], ...] = (
    check_dates_of_service,
    check_birth_date,
    check_payers_known,
    check_coverages_distinct,
    check_place_of_service,
    check_addresses,
    check_rendering_taxonomy,
    check_diagnosis_sequences,
)


def _prepared(body: Any, path: str, locate: Callable[[str], str], problems: list[Problem]) -> Any:
    """One pass over the body: None dropped (readers put None where the source had nothing,
    which to the contract is "missing"), and a problem for each text with a control
    character."""
    kind = type(body)
    if kind is str:
        if _CONTROL.search(body) is not None:
            problems.append(Problem(locate(path or "/"), "contains a control character"))
        return body
    if kind is dict or (kind is not list and isinstance(body, Mapping)):
        out = {}
        for k, v in body.items():
            if v is None:
                continue
            t = type(v)
            if (t is str and _CONTROL.search(v) is None) or t in (int, float, bool):
                out[k] = v
            else:
                out[k] = _prepared(v, f"{path}/{k}", locate, problems)
        return out
    if kind is list or isinstance(body, list):
        return [_prepared(v, f"{path}/{i}", locate, problems) for i, v in enumerate(body)]
    if isinstance(body, str):
        return _prepared(str(body), path, locate, problems)
    return body


def validate_documented(
    body: Mapping[str, Any],
    *,
    today: date,
    known_payer_ids: Iterable[str] | None = None,
    locate: Callable[[str], str] | None = None,
) -> tuple[EncounterDocumented | None, list[Problem]]:
    """The contract shape, then the domain checks. Returns the encounter only when there is
    no problem at all; problems name the source position through `locate`."""
    where = locate or (lambda p: p)
    problems: list[Problem] = []
    body = _prepared(body, "", where, problems)
    if problems:
        return None, problems
    try:
        encounter = EncounterDocumented.model_validate(body)
    except ValidationError as exc:
        return None, problems_from_validation(exc, where)
    except (TypeError, ValueError, RecursionError):
        return None, [Problem(where("/"), "is not an encounter object")]
    checks = Checks(
        today=today,
        known_payer_ids=frozenset(known_payer_ids) if known_payer_ids is not None else None,
    )
    for check in CHECKS:
        problems.extend(
            Problem(where(p.location), p.reason, p.kind) for p in check(encounter, checks)
        )
    return (None, problems) if problems else (encounter, [])
