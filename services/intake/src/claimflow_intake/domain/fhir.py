"""FHIR R4 bundles → one result per Encounter: a documented encounter, a rejection with
JSON pointers into the bundle, or "nothing billable". Practitioner, PractitionerRole,
Organization and Location entries become provider-registry updates.

Shaped for Synthea's output as much as for an EHR's: conditions, procedures and encounter
types coded in SNOMED CT, vaccines in CVX, payers only as display names, organisations
without NPIs, providers referenced conditionally (`Practitioner?identifier=...`) and shipped
in separate bundles, state names spelled out, postal codes missing.

Rules (each a billing convention, not a Synthea special case):
- The Claim is the source's own bill: when an encounter has non-pharmacy Claims, their items
  are its service lines and their diagnoses its diagnoses. A Claim item that only repeats
  one of its own diagnoses (Synthea lists diagnoses as items) is not a service. Pharmacy
  claims are billed through the pharmacy benefit, not an 837, so they are left out.
- Without a Claim, completed Procedures, Immunizations and billable ChargeItems of the
  encounter are its lines, and its Conditions and reasons its diagnoses.
- With no diagnosis at all, the encounter's reason for visit (its type) is documented as
  the diagnosis text, so coding can assign the encounter code (Z00.00 for a check-up).
- An encounter with no line is reported as not billable, naming what it had.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from claimflow_intake.domain.registry import (
    NPI_SYSTEM,
    TAX_ID_SYSTEMS,
    DirectoryUpdate,
    Facility,
    Payer,
    PostalAddress,
    Provider,
    TenantRegistry,
    Unresolved,
    local_id,
)
from claimflow_intake.domain.validation import (
    Problem,
    ProblemKind,
    SourceMap,
    code_system,
    encounter_class,
    is_valid_npi,
    member_id_problem,
    normalise_sex,
    npi_problem,
    nucc_taxonomy,
    places_of_service,
    postal_code,
    problems_from_validation,
    state_code,
    subscriber_relationship,
    validate_documented,
)
from claimflow_shared.events import DocumentedCodeSystem, EncounterDocumented

BUNDLE_TYPES = frozenset({"transaction", "batch", "collection"})
# Resources intake reads; the others (Observation, DiagnosticReport, ...) are not validated,
# so a flaw in one of them cannot cost an encounter its claim.
READ_RESOURCES = frozenset(
    {
        "Patient",
        "Encounter",
        "Condition",
        "Procedure",
        "Claim",
        "ChargeItem",
        "Coverage",
        "Immunization",
        "ExplanationOfBenefit",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
    }
)
DIRECTORY_RESOURCES = frozenset({"Practitioner", "PractitionerRole", "Organization", "Location"})
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
POS_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/ex-serviceplace",
        "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
        "http://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
    }
)
ENCOUNTER_STATUSES = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
# Encounter.participant types that name who rendered the service, best first.
RENDERING_PARTICIPANTS = ("PPRF", "ATND", "SPRF", "PART", "CON")
MEMBER_ID_TYPES = frozenset({"MB", "SN", "MA", "MC"})
MRN_TYPES = frozenset({"MR", "PI", "PT"})
MAX_TEXT = 500
MAX_CODINGS = 10
MAX_DIAGNOSES = 12
MAX_LINES = 50
MAX_COVERAGES = 3
PRIORITIES = ("primary", "secondary", "tertiary")


class Outcome(StrEnum):
    MAPPED = "mapped"
    REJECTED = "rejected"
    NOT_BILLABLE = "not-billable"


@dataclass(frozen=True)
class EncounterResult:
    """What became of one Encounter of the bundle. `encounter` is set only when MAPPED;
    the caller then accepts it (accepted, duplicate or amended)."""

    fhir_id: str | None
    pointer: str
    outcome: Outcome
    encounter: EncounterDocumented | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def document_id(self) -> str | None:
        return self.encounter.source.document_id if self.encounter else None


@dataclass(frozen=True)
class BundleResult:
    """Every Encounter's result in bundle order, the provider directory found in the bundle,
    problems with the bundle as a whole (then there are no encounter results), and entries
    that were skipped because they are not resources at all."""

    bundle_type: str | None
    encounters: tuple[EncounterResult, ...] = ()
    directory: DirectoryUpdate = field(default_factory=DirectoryUpdate)
    problems: tuple[Problem, ...] = ()
    skipped_entries: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Entry:
    index: int
    pointer: str
    raw: Mapping[str, Any]
    type: str
    model: Any = None
    problems: list[Problem] = field(default_factory=list)
    parent: _Entry | None = None

    @property
    def id(self) -> str | None:
        value = self.raw.get("id")
        return value if isinstance(value, str) else None


class _Rejected(Exception):
    def __init__(self, problems: Iterable[Problem]) -> None:
        super().__init__("rejected")
        self.problems = list(problems)


# --- entry point ---------------------------------------------------------------------------


def read_bundle(
    document: bytes | str | Mapping[str, Any],
    *,
    registry: TenantRegistry,
    source_system: str,
    today: date,
) -> BundleResult:
    """Map every Encounter of a FHIR R4 Bundle (transaction, batch or collection) to a
    documented encounter or the reasons it cannot be one; read its provider directory.
    Never raises for any input: what cannot be read is a `Problem` with its pointer."""
    try:
        body = _parse(document)
    except _Rejected as rejected:
        return BundleResult(bundle_type=None, problems=tuple(rejected.problems))
    bundle_type = body.get("type")
    if body.get("resourceType") != "Bundle":
        return BundleResult(None, problems=(Problem("/resourceType", "is not a Bundle"),))
    if not isinstance(bundle_type, str) or bundle_type not in BUNDLE_TYPES:
        return BundleResult(
            None,
            problems=(
                Problem(
                    "/type",
                    "bundle type must be transaction, batch or collection",
                    ProblemKind.UNSUPPORTED,
                ),
            ),
        )
    entries_raw = body.get("entry", [])
    if not isinstance(entries_raw, list):
        return BundleResult(bundle_type, problems=(Problem("/entry", "is not an array"),))
    bundle = _Bundle.index(entries_raw)
    directory = _directory(bundle)
    if directory.providers or directory.facilities:
        registry = registry.merged(directory)
    results = tuple(
        _encounter_result(entry, bundle, registry, source_system, today)
        for entry in bundle.of_type("Encounter")
    )
    return BundleResult(bundle_type, results, directory, skipped_entries=tuple(bundle.problems))


def _parse(document: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    try:
        body = json.loads(document)
    except json.JSONDecodeError as exc:
        raise _Rejected(
            [Problem("/", f"not valid JSON (line {exc.lineno}, column {exc.colno})")]
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise _Rejected([Problem("/", "not UTF-8 JSON")]) from None
    except RecursionError:
        raise _Rejected([Problem("/", "JSON is nested too deeply")]) from None
    if not isinstance(body, dict):
        raise _Rejected([Problem("/", "is not a JSON object")])
    return body


# --- the bundle and its references -----------------------------------------------------------


class _Bundle:
    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.problems: list[Problem] = []
        self._by_url: dict[str, _Entry] = {}
        self._by_identifier: dict[tuple[str, str], _Entry] = {}
        self._linked: dict[int, dict[str, list[tuple[_Entry, int | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )

    @classmethod
    def index(cls, raw_entries: list[Any]) -> _Bundle:
        bundle = cls()
        for i, raw_entry in enumerate(raw_entries):
            where = f"/entry/{i}"
            if not isinstance(raw_entry, dict):
                bundle.problems.append(Problem(where, "entry is not an object"))
                continue
            resource = raw_entry.get("resource")
            if not isinstance(resource, dict):
                continue
            kind = resource.get("resourceType")
            if not isinstance(kind, str):
                bundle.problems.append(
                    Problem(f"{where}/resource/resourceType", "is missing", ProblemKind.MISSING)
                )
                continue
            entry = _Entry(i, f"{where}/resource", resource, kind)
            if kind in READ_RESOURCES:
                _validate(entry)
            bundle.entries.append(entry)
            full_url = raw_entry.get("fullUrl")
            if isinstance(full_url, str) and full_url:
                bundle._by_url.setdefault(full_url, entry)
            if entry.id:
                bundle._by_url.setdefault(f"{kind}/{entry.id}", entry)
            for token in _identifier_tokens(resource):
                bundle._by_identifier.setdefault((kind, token), entry)
        bundle._link()
        return bundle

    def of_type(self, kind: str) -> Iterator[_Entry]:
        return (e for e in self.entries if e.type == kind)

    def resolve(self, reference: Any, *, context: _Entry | None = None) -> _Entry | None:
        """The entry a Reference points at: full URL, Type/id, a conditional reference
        (`Type?identifier=system|value`), a logical identifier, or a contained `#id`."""
        if reference is None:
            return None
        ref = getattr(reference, "reference", None)
        if isinstance(ref, str) and ref:
            if ref.startswith("#"):
                return _contained(context, ref[1:]) if context else None
            if ref in self._by_url:
                return self._by_url[ref]
            if "?" in ref:
                kind, token = _conditional(ref)
                if kind and token:
                    return self._by_identifier.get((kind, token))
                return None
            parts = ref.rstrip("/").split("/")
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            if len(parts) >= 2:
                return self._by_url.get(f"{parts[-2]}/{parts[-1]}")
            return None
        identifier = getattr(reference, "identifier", None)
        kind = getattr(reference, "type", None)
        if identifier is not None and identifier.value:
            token = local_id(identifier.system, identifier.value)
            if kind:
                return self._by_identifier.get((kind, token))
            for (_, t), entry in self._by_identifier.items():
                if t == token:
                    return entry
        return None

    def linked(self, encounter: _Entry, kind: str) -> list[tuple[_Entry, int | None]]:
        """Valid resources of a kind that point at this encounter (with the Claim item index
        for Claims and EOBs)."""
        return self._linked[id(encounter)][kind]

    def _link(self) -> None:
        for entry in self.entries:
            if entry.model is None:
                continue
            m = entry.model
            refs: list[tuple[Any, int | None]] = []
            if entry.type in ("Condition", "Procedure", "Immunization"):
                refs.append((m.encounter, None))
            elif entry.type == "ChargeItem":
                refs.append((m.context, None))
            elif entry.type in ("Claim", "ExplanationOfBenefit"):
                for k, item in enumerate(m.item or []):
                    refs.extend((r, k) for r in item.encounter or [])
            seen: set[int] = set()
            for ref, item_index in refs:
                target = self.resolve(ref, context=entry)
                if target is None or target.type != "Encounter" or id(target) in seen:
                    continue
                if entry.type in ("Claim", "ExplanationOfBenefit"):
                    seen.add(id(target))
                self._linked[id(target)][entry.type].append((entry, item_index))
        for entry in self.entries:
            if entry.model is not None or entry.type == "Encounter":
                continue
            # Unread resources are counted (to say what a non-billable encounter had); invalid
            # read ones are kept apart, so the encounter they document is rejected, not
            # silently billed without them.
            kind = entry.type if entry.type not in READ_RESOURCES else "invalid"
            for ref in _raw_encounter_refs(entry.raw):
                target = self._by_url.get(ref)
                if target is not None and target.type == "Encounter":
                    self._linked[id(target)][kind].append((entry, None))
                    break


def _raw_encounter_refs(resource: Mapping[str, Any]) -> Iterator[str]:
    for name in ("encounter", "context"):
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            yield ref["reference"]
    items = resource.get("item")
    for item in items if isinstance(items, list) else []:
        refs = item.get("encounter") if isinstance(item, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                yield ref["reference"]


def _validate(entry: _Entry) -> None:
    try:
        model_class = get_fhir_model_class(entry.type)
        entry.model = model_class.model_validate(entry.raw)
    except ValidationError as exc:
        entry.problems = problems_from_validation(exc, lambda p: entry.pointer + p.rstrip("/"))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        entry.problems = [Problem(entry.pointer, f"is not a valid {entry.type}")]


def _contained(context: _Entry, local: str) -> _Entry | None:
    container = context
    while container.parent is not None:
        container = container.parent
    for k, resource in enumerate(getattr(container.model, "contained", None) or []):
        if getattr(resource, "id", None) == local:
            raw = container.raw.get("contained", [])
            raw_item = raw[k] if isinstance(raw, list) and k < len(raw) else {}
            return _Entry(
                container.index,
                f"{container.pointer}/contained/{k}",
                raw_item if isinstance(raw_item, dict) else {},
                resource.get_resource_type(),
                model=resource,
                parent=container,
            )
    return None


def _conditional(reference: str) -> tuple[str | None, str | None]:
    """`Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999957191` → type, token."""
    kind, _, query = reference.partition("?")
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "identifier" and value:
            value = unquote(value)
            system, bar, code = value.rpartition("|")
            return kind.rsplit("/", 1)[-1], local_id(system if bar else None, code)
    return None, None


def _identifier_tokens(resource: Mapping[str, Any]) -> Iterator[str]:
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    if not isinstance(identifiers, list):
        return
    for identifier in identifiers:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            system = identifier.get("system")
            yield local_id(system if isinstance(system, str) else None, identifier["value"])


def _reference_token(reference: Any) -> tuple[str | None, str | None]:
    """(NPI, local identifier token) a reference names without its target being here."""
    ref = getattr(reference, "reference", None)
    token = None
    if isinstance(ref, str) and "?" in ref:
        _, token = _conditional(ref)
    identifier = getattr(reference, "identifier", None)
    if token is None and identifier is not None and identifier.value:
        token = local_id(identifier.system, identifier.value)
    if token is None:
        return None, None
    system, _, value = token.partition("|")
    return (value if system == NPI_SYSTEM else None), token


# --- provider directory ----------------------------------------------------------------------


def _directory(bundle: _Bundle) -> DirectoryUpdate:
    providers: list[Provider] = []
    facilities: list[Facility] = []
    problems: list[Problem] = []
    taxonomies: dict[str, str] = {}
    for entry in bundle.of_type("PractitionerRole"):
        problems.extend(entry.problems)
        if entry.model is None:
            continue
        taxonomy = _nucc_code(entry.model.code or []) or _nucc_code(entry.model.specialty or [])
        target = bundle.resolve(entry.model.practitioner, context=entry)
        tokens = (
            list(_identifier_tokens(target.raw))
            if target is not None
            else [t for t in [_reference_token(entry.model.practitioner)[1]] if t]
        )
        if taxonomy:
            for token in tokens:
                taxonomies.setdefault(token, taxonomy)
    for entry in bundle.entries:
        if entry.type not in DIRECTORY_RESOURCES or entry.type == "PractitionerRole":
            continue
        problems.extend(entry.problems)
        if entry.model is None:
            continue
        tokens = tuple(_identifier_tokens(entry.raw))
        npi, npi_where = _npi_of(entry)
        if npi is not None and (problem := npi_problem(npi)):
            problems.append(
                Problem(
                    npi_where,
                    f"{problem}; kept under its identifier until the tenant registers a "
                    "valid NPI for it",
                )
            )
            npi = None
        if entry.type == "Practitioner":
            first, last = _person_name(entry.model.name or [])
            providers.append(
                Provider(
                    kind="individual",
                    npi=npi,
                    first_name=first,
                    last_name=last,
                    taxonomy=next((taxonomies[t] for t in tokens if t in taxonomies), None),
                    address=_address(entry.model.address or []),
                    local_ids=tokens,
                )
            )
        elif entry.type == "Organization":
            providers.append(
                Provider(
                    kind="organization",
                    npi=npi,
                    name=_clip(entry.model.name, 60),
                    tax_id=_tax_id(entry.model.identifier or []),
                    address=_address(entry.model.address or []),
                    local_ids=tokens,
                )
            )
        else:
            managing = entry.model.managingOrganization
            facilities.append(
                Facility(
                    name=_clip(entry.model.name, 60) or "",
                    local_ids=tokens,
                    npi=npi,
                    address=_address([entry.model.address] if entry.model.address else []),
                    place_of_service=_place_of_service(
                        [*(entry.model.type or []), entry.model.physicalType]
                    ),
                    organization_id=_reference_token(managing)[1] if managing else None,
                )
            )
    return DirectoryUpdate(tuple(providers), tuple(facilities), tuple(problems))


def _npi_of(entry: _Entry) -> tuple[str | None, str]:
    for k, identifier in enumerate(entry.model.identifier or []):
        if (identifier.system or "").strip().casefold() == NPI_SYSTEM and identifier.value:
            return identifier.value.strip(), f"{entry.pointer}/identifier/{k}/value"
    return None, entry.pointer


def _tax_id(identifiers: list[Any]) -> str | None:
    for identifier in identifiers:
        types = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
        if (identifier.system in TAX_ID_SYSTEMS or "TAX" in types) and identifier.value:
            digits = identifier.value.replace("-", "").strip()
            if digits.isdigit() and len(digits) == 9:
                return digits
    return None


def _nucc_code(concepts: list[Any]) -> str | None:
    for concept in concepts:
        for coding in (concept.coding if concept else None) or []:
            if coding.system == NUCC_SYSTEM and coding.code in nucc_taxonomy():
                return coding.code
    return None


def _person_name(names: list[Any]) -> tuple[str | None, str | None]:
    chosen = next((n for n in names if n.use == "official"), names[0] if names else None)
    if chosen is None:
        return None, None
    given = (chosen.given or [None])[0]
    return _clip(given, 35), _clip(chosen.family, 60)


def _address(addresses: list[Any]) -> PostalAddress | None:
    chosen = next((a for a in addresses if a.use == "home"), addresses[0] if addresses else None)
    if chosen is None:
        return None
    lines = chosen.line or []
    state = state_code(chosen.state)
    postal = postal_code(chosen.postalCode)
    if not (lines and chosen.city and state and postal):
        return None
    return PostalAddress(
        line1=_clip(lines[0], 55) or "",
        line2=_clip(lines[1], 55) if len(lines) > 1 else None,
        city=_clip(chosen.city, 30) or "",
        state=state,
        postal_code=postal,
    )


def _place_of_service(concepts: Iterable[Any]) -> str | None:
    for concept in concepts:
        for coding in (concept.coding if concept else None) or []:
            if coding.system in POS_SYSTEMS and coding.code in places_of_service():
                return coding.code
    return None


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text[:limit] or None


# --- one encounter --------------------------------------------------------------------------


def _encounter_result(
    entry: _Entry, bundle: _Bundle, registry: TenantRegistry, source_system: str, today: date
) -> EncounterResult:
    fhir_id = entry.id
    if entry.model is None:
        return EncounterResult(
            fhir_id, entry.pointer, Outcome.REJECTED, None, tuple(entry.problems)
        )
    try:
        return _EncounterMapper(entry, bundle, registry, source_system, today).result()
    except _Rejected as rejected:
        return EncounterResult(
            fhir_id, entry.pointer, Outcome.REJECTED, None, tuple(rejected.problems)
        )


@dataclass
class _Diagnosis:
    key: tuple[Any, ...]
    body: dict[str, Any]
    where: str


class _EncounterMapper:
    """Builds the contract body of one encounter and where each field came from."""

    def __init__(
        self,
        entry: _Entry,
        bundle: _Bundle,
        registry: TenantRegistry,
        source_system: str,
        today: date,
    ) -> None:
        self.entry = entry
        self.encounter = entry.model
        self.bundle = bundle
        self.registry = registry
        self.source_system = source_system
        self.today = today
        self.where = SourceMap(root=entry.pointer, absolute=True)
        self.where.add("", entry.pointer)
        self.problems: list[Problem] = []
        self.spoiled: set[str] = set()
        self.section = ""
        self.claims = [
            (claim, k) for claim, k in bundle.linked(entry, "Claim") if _is_medical_claim(claim)
        ]
        self.pharmacy_claims = len(bundle.linked(entry, "Claim")) - len(self.claims)

    def result(self) -> EncounterResult:
        status = self.encounter.status
        if status != "finished":
            told = status if status in ENCOUNTER_STATUSES else "missing or not an encounter status"
            return self._not_billable(
                f"encounter status is {told}; only finished encounters are billed"
            )
        invalid = self.bundle.linked(self.entry, "invalid")
        if invalid:
            raise _Rejected(p for entry, _ in invalid for p in entry.problems)
        self.section = "/procedures"
        lines_source = self._lines()
        if not lines_source:
            return self._not_billable(self._nothing_billable_reason())
        self.section = "/patient"
        patient = self._patient()
        self.section = "/period_start"
        start, end = self._period()
        self.section = "/diagnoses"
        diagnoses = self._diagnoses()
        self.section = "/source/document_id"
        document_id = self._document_id()
        self.section = "/coverages"
        coverages = self._coverages(patient)
        self.section = "/providers"
        providers = self._providers()
        self.section = "/procedures"
        procedures = self._procedure_bodies(lines_source, start)
        self.section = "/encounter_class"
        klass, place = self._class_and_place()
        body: dict[str, Any] = {
            "source": {"system": self.source_system, "document_id": document_id},
            "patient": patient,
            "coverages": coverages,
            "providers": providers,
            "encounter_class": klass,
            "period_start": start,
            "period_end": end,
            "place_of_service": place,
            "diagnoses": diagnoses,
            "procedures": procedures,
        }
        encounter, problems = validate_documented(
            body, today=self.today, known_payer_ids=self.registry.payer_ids
        )
        all_problems = self.problems + [
            Problem(self.where.locate(p.location), p.reason, p.kind)
            for p in problems
            if not _under_any(p.location, self.spoiled)
        ]
        if encounter is None or self.problems:
            return EncounterResult(
                self.entry.id, self.entry.pointer, Outcome.REJECTED, None, tuple(all_problems)
            )
        return EncounterResult(self.entry.id, self.entry.pointer, Outcome.MAPPED, encounter)

    def _not_billable(self, reason: str) -> EncounterResult:
        return EncounterResult(
            self.entry.id,
            self.entry.pointer,
            Outcome.NOT_BILLABLE,
            problems=(Problem(self.entry.pointer, reason, ProblemKind.UNSUPPORTED),),
        )

    def _nothing_billable_reason(self) -> str:
        counts = defaultdict(int)
        for kind in ("Observation", "DiagnosticReport", "Condition", "MedicationRequest"):
            counts[kind] = len(self.bundle.linked(self.entry, kind))
        had = [f"{n} {kind}" for kind, n in counts.items() if n]
        if self.pharmacy_claims:
            had.append(f"{self.pharmacy_claims} pharmacy Claim")
        what = ", ".join(had) if had else "nothing else"
        return (
            "nothing billable: no Claim item, completed Procedure, Immunization or billable "
            f"ChargeItem refers to this encounter (it has {what})"
        )

    def _fail(
        self,
        location: str,
        reason: str,
        kind: ProblemKind = ProblemKind.INVALID,
        *,
        field: str | None = None,
    ) -> None:
        """A problem found while mapping; the contract field it spoils is not reported again
        by validation (a missing postal code is one problem, not two)."""
        self.problems.append(Problem(location, reason, kind))
        self.spoiled.add(field or self.section)

    def _fail_all(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self._fail(problem.location, problem.reason, problem.kind)

    # --- identity and period ---------------------------------------------------------------

    def _document_id(self) -> str | None:
        identifiers = self.encounter.identifier or []
        chosen = next((i for i in identifiers if i.use == "official" and i.value), None)
        chosen = chosen or next((i for i in identifiers if i.value), None)
        self.where.add("/source/document_id", f"{self.entry.pointer}/id")
        if chosen is not None:
            index = identifiers.index(chosen)
            self.where.add("/source/document_id", f"{self.entry.pointer}/identifier/{index}")
            return chosen.value.strip()
        if self.entry.id is None:
            self._fail(self.entry.pointer, "encounter has neither an identifier nor an id")
        return self.entry.id

    def _period(self) -> tuple[str | None, str | None]:
        period = self.encounter.period
        where = f"{self.entry.pointer}/period"
        self.where.add("/period_start", f"{where}/start")
        self.where.add("/period_end", f"{where}/end")
        start = _as_date(period.start) if period else None
        end = _as_date(period.end) if period else None
        if start is None:
            self._fail(
                f"{where}/start",
                "encounter has no start date",
                ProblemKind.MISSING,
                field="/period_end",
            )
            return None, None
        return start.isoformat(), (end or start).isoformat()

    # --- patient ---------------------------------------------------------------------------

    def _patient(self) -> dict[str, Any] | None:
        subject = self.encounter.subject
        target = self.bundle.resolve(subject, context=self.entry)
        where = f"{self.entry.pointer}/subject"
        if target is None or target.type != "Patient":
            raise _Rejected(
                [Problem(where, "the patient is not in the bundle", ProblemKind.MISSING)]
            )
        if target.model is None:
            raise _Rejected(target.problems)
        p = target.model
        at = target.pointer
        self.where.add("/patient", at)
        self.patient_entry = target
        mrn = self._mrn(target)
        first, last = _person_name(p.name or [])
        names = p.name or []
        name_index = next((k for k, n in enumerate(names) if n.use == "official"), 0)
        self.where.add("/patient/first_name", f"{at}/name/{name_index}/given/0")
        self.where.add("/patient/last_name", f"{at}/name/{name_index}/family")
        self.where.add("/patient/birth_date", f"{at}/birthDate")
        self.where.add("/patient/sex", f"{at}/gender")
        birth = _as_date(p.birthDate) if p.birthDate is not None else None
        if p.birthDate is not None and birth is None:
            self._fail(
                f"{at}/birthDate", "birth date is not a full date", field="/patient/birth_date"
            )
        sex = normalise_sex(p.gender)
        return {
            "mrn": mrn,
            "first_name": first,
            "last_name": last,
            "birth_date": birth.isoformat() if birth else None,
            "sex": sex,
            "address": self._patient_address(target),
        }

    def _mrn(self, target: _Entry) -> str | None:
        identifiers = target.model.identifier or []
        for k, identifier in enumerate(identifiers):
            codes = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
            if codes & MRN_TYPES and identifier.value:
                self.where.add("/patient/mrn", f"{target.pointer}/identifier/{k}/value")
                return identifier.value.strip()
        self.where.add("/patient/mrn", f"{target.pointer}/id")
        return target.model.id

    def _patient_address(self, target: _Entry) -> dict[str, Any] | None:
        addresses = target.model.address or []
        at = f"{target.pointer}/address"
        if not addresses:
            self._fail(
                at, "the patient has no address", ProblemKind.MISSING, field="/patient/address"
            )
            return None
        index = next((k for k, a in enumerate(addresses) if a.use == "home"), 0)
        a = addresses[index]
        at = f"{at}/{index}"
        self.where.add("/patient/address", at)
        self.where.add("/patient/address/line1", f"{at}/line/0")
        self.where.add("/patient/address/line2", f"{at}/line/1")
        self.where.add("/patient/address/city", f"{at}/city")
        self.where.add("/patient/address/state", f"{at}/state")
        self.where.add("/patient/address/postal_code", f"{at}/postalCode")
        lines = a.line or []
        state = state_code(a.state)
        if a.state and state is None:
            self._fail(
                f"{at}/state",
                "not a US state code or name",
                ProblemKind.UNKNOWN,
                field="/patient/address/state",
            )
        postal = postal_code(a.postalCode)
        if postal is None:
            self._fail(
                f"{at}/postalCode",
                "postal code is missing, the all-zero placeholder or not a US ZIP code",
                ProblemKind.MISSING if not a.postalCode else ProblemKind.INVALID,
                field="/patient/address/postal_code",
            )
        body = {
            "line1": _clip(lines[0], 55) if lines else None,
            "city": a.city,
            "state": state,
            "postal_code": postal,
        }
        if len(lines) > 1 and lines[1]:
            body["line2"] = _clip(lines[1], 55)
        return body

    # --- coverage --------------------------------------------------------------------------

    def _coverages(self, patient: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        sources = list(self._coverage_sources())
        if not sources:
            self._fail(
                self.entry.pointer,
                "no coverage: neither a Claim nor a Coverage names the payer",
                ProblemKind.MISSING,
            )
            return []
        coverages: list[dict[str, Any]] = []
        seen: set[str] = set()
        for where, coverage, display in sources:
            resolved = self._coverage(where, coverage, display, patient)
            if resolved is None or resolved["payer"]["payer_id"] in seen:
                continue
            seen.add(resolved["payer"]["payer_id"])
            if len(coverages) == MAX_COVERAGES:
                self._fail(where, f"more than {MAX_COVERAGES} coverages")
                break
            at = f"/coverages/{len(coverages)}"
            self.where.add(at, where)
            resolved["priority"] = PRIORITIES[len(coverages)]
            coverages.append(resolved)
        return coverages

    def _coverage_sources(self) -> Iterator[tuple[str, _Entry | None, str | None]]:
        for claim, _ in self.claims:
            insurance = sorted(
                enumerate(claim.model.insurance or []),
                key=lambda pair: (not pair[1].focal, pair[1].sequence or 0),
            )
            for k, item in insurance:
                where = f"{claim.pointer}/insurance/{k}/coverage"
                target = self.bundle.resolve(item.coverage, context=claim)
                if target is not None and target.type == "Coverage":
                    yield where, target, None
                else:
                    yield where, None, item.coverage.display if item.coverage else None
            return
        beneficiary = getattr(self, "patient_entry", None)
        candidates = []
        for entry in self.bundle.of_type("Coverage"):
            if entry.model is None or entry.model.status not in ("active", None):
                continue
            if (
                beneficiary is not None
                and self.bundle.resolve(entry.model.beneficiary, context=entry) is not beneficiary
            ):
                continue
            candidates.append(entry)
        candidates.sort(key=lambda e: e.model.order or 99)
        for entry in candidates:
            yield entry.pointer, entry, None

    def _coverage(
        self,
        where: str,
        coverage: _Entry | None,
        display: str | None,
        patient: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        payer_ids: list[str] = []
        names: list[str] = [display] if display else []
        member_id = group = relationship = None
        member_where = where
        if coverage is not None and coverage.model is not None:
            c = coverage.model
            for payor in c.payor or []:
                organisation = self.bundle.resolve(payor, context=coverage)
                if (
                    organisation is not None
                    and organisation.type == "Organization"
                    and organisation.model is not None
                ):
                    payer_ids.extend(
                        i.value for i in organisation.model.identifier or [] if i.value
                    )
                    if getattr(organisation.model, "name", None):
                        names.append(organisation.model.name)
                if payor.identifier is not None and payor.identifier.value:
                    payer_ids.append(payor.identifier.value)
                if payor.display:
                    names.append(payor.display)
            if c.type is not None and c.type.text and not names:
                names.append(c.type.text)
            member_id, member_where = _member_id(coverage)
            relationship = _relationship(c.relationship)
            group = next(
                (
                    cls.value
                    for cls in c.class_fhir or []
                    if cls.type and any(x.code == "group" for x in cls.type.coding or [])
                ),
                None,
            )
        elif coverage is not None:
            self._fail_all(coverage.problems)
            return None
        payer = self._resolve_payer(where, payer_ids, names)
        if payer is None:
            return None
        if not member_id and payer.member_id_source == "patient-id" and patient:
            member_id = patient.get("mrn")
            member_where = self.where.locate("/patient/mrn")
        if not member_id:
            self._fail(
                where,
                "no member id: the coverage has no subscriberId or member identifier and the "
                "payer requires one",
                ProblemKind.MISSING,
            )
            return None
        if problem := member_id_problem(member_id):
            self._fail(member_where, problem)
            return None
        body: dict[str, Any] = {
            "payer": {"payer_id": payer.payer_id, "name": payer.name[:60]},
            "member_id": member_id,
            "relationship": relationship or "18",
        }
        if group:
            body["group_number"] = group[:50]
        return body

    def _resolve_payer(self, where: str, payer_ids: list[str], names: list[str]) -> Payer | None:
        if not payer_ids and not names:
            self._fail(where, "the coverage names no payer", ProblemKind.MISSING)
            return None
        last: Unresolved | None = None
        for payer_id in payer_ids:
            try:
                return self.registry.payer_by_id(payer_id)
            except Unresolved as exc:
                last = exc
        for name in names:
            try:
                return self.registry.payer_by_name(name)
            except Unresolved as exc:
                last = exc
        assert last is not None
        self._fail(where, last.reason, last.kind)
        return None

    # --- providers -------------------------------------------------------------------------

    def _providers(self) -> dict[str, Any]:
        return {
            "billing": self._billing(),
            "rendering": self._rendering(),
            "facility_npi": self._facility_npi(),
        }

    def _rendering(self) -> dict[str, Any] | None:
        candidates = list(self._rendering_candidates())
        if not candidates:
            self._fail(
                f"{self.entry.pointer}/participant",
                "no practitioner performed this encounter",
                ProblemKind.MISSING,
            )
            return None
        where, reference, context = candidates[0]
        self.where.add("/providers/rendering", where)
        try:
            provider = self._registered(reference, context, rendering=True)
        except Unresolved as exc:
            self._fail(where, exc.reason, exc.kind)
            return None
        body: dict[str, Any] = {
            "npi": provider.npi,
            "first_name": provider.first_name,
            "last_name": provider.last_name,
        }
        if provider.taxonomy:
            body["taxonomy"] = provider.taxonomy
        return body

    def _rendering_candidates(self) -> Iterator[tuple[str, Any, _Entry]]:
        participants = list(enumerate(self.encounter.participant or []))

        def rank(pair: tuple[int, Any]) -> int:
            codes = {c.code for t in pair[1].type or [] for c in t.coding or []}
            ranks = [RENDERING_PARTICIPANTS.index(c) for c in codes if c in RENDERING_PARTICIPANTS]
            return min(ranks) if ranks else len(RENDERING_PARTICIPANTS)

        for k, participant in sorted(participants, key=rank):
            if _is_practitioner(participant.individual, self.bundle, self.entry):
                yield (
                    f"{self.entry.pointer}/participant/{k}/individual",
                    participant.individual,
                    self.entry,
                )
        for claim, _ in self.claims:
            for k, member in enumerate(claim.model.careTeam or []):
                if _is_practitioner(member.provider, self.bundle, claim):
                    yield f"{claim.pointer}/careTeam/{k}/provider", member.provider, claim
            if _is_practitioner(claim.model.provider, self.bundle, claim):
                yield f"{claim.pointer}/provider", claim.model.provider, claim

    def _billing(self) -> dict[str, Any] | None:
        reference, context, where = None, self.entry, f"{self.entry.pointer}/serviceProvider"
        if self.encounter.serviceProvider is not None:
            reference = self.encounter.serviceProvider
        else:
            for claim, _ in self.claims:
                provider = claim.model.provider
                if _reference_type(provider, self.bundle, claim) == "Organization":
                    reference, context, where = provider, claim, f"{claim.pointer}/provider"
                    break
        self.where.add("/providers/billing", where)
        try:
            if reference is None:
                provider = self.registry.default_billing_provider()
            else:
                provider = self._registered(reference, context, rendering=False)
        except Unresolved as exc:
            self._fail(where, exc.reason, exc.kind)
            return None
        assert provider.address is not None
        return {
            "npi": provider.npi,
            "name": provider.name,
            "tax_id": provider.tax_id,
            "address": provider.address.as_contract(),
        }

    def _registered(self, reference: Any, context: _Entry, *, rendering: bool) -> Provider:
        target = self.bundle.resolve(reference, context=context)
        if target is not None and target.type == "PractitionerRole" and target.model is not None:
            context, reference = target, target.model.practitioner
            target = self.bundle.resolve(reference, context=context)
        npi, token = _reference_token(reference)
        tokens = [token] if token else []
        if target is not None:
            if target.type not in ("Practitioner", "Organization"):
                raise Unresolved("the reference is not to a Practitioner or Organization")
            if target.model is None:
                raise Unresolved("the referenced provider resource is not valid FHIR")
            tokens = list(_identifier_tokens(target.raw)) + tokens
            npi = npi or _npi_of(target)[0]
        if not tokens and not npi:
            raise Unresolved(
                "provider is referenced without an identifier the registry can resolve",
                ProblemKind.MISSING,
            )
        last: Unresolved | None = None
        for local in tokens or [None]:
            try:
                if rendering:
                    return self.registry.rendering_provider(npi=npi, local=local)
                return self.registry.billing_provider(npi=npi, local=local)
            except Unresolved as exc:
                last = exc
        assert last is not None
        raise last

    def _facility_npi(self) -> str | None:
        for item in self.encounter.location or []:
            target = self.bundle.resolve(item.location, context=self.entry)
            tokens = list(_identifier_tokens(target.raw)) if target is not None else []
            _, token = _reference_token(item.location)
            tokens += [token] if token else []
            for t in tokens:
                facility = self.registry.facility(t)
                if facility is not None and is_valid_npi(facility.npi):
                    return facility.npi
        return None

    # --- class and place of service --------------------------------------------------------

    def _class_and_place(self) -> tuple[str | None, str | None]:
        code = self.encounter.class_fhir.code if self.encounter.class_fhir else None
        where = f"{self.entry.pointer}/class"
        self.where.add("/encounter_class", where)
        self.where.add("/place_of_service", where)
        mapped = encounter_class("fhir", code)
        if mapped is None:
            self._fail(where, "encounter class is not one intake bills", ProblemKind.UNSUPPORTED)
            return None, None
        klass, class_default = mapped
        documented = self._documented_place()
        if documented:
            return klass, documented
        facility = self._facility_place()
        if facility:
            return klass, facility
        if klass != "ambulatory":
            return klass, class_default
        return klass, self.registry.defaults.place_of_service or class_default

    def _documented_place(self) -> str | None:
        for kind in ("Claim", "ExplanationOfBenefit"):
            for claim, _ in self.bundle.linked(self.entry, kind):
                if claim.model is None or not _is_medical_claim(claim):
                    continue
                for k, item in enumerate(claim.model.item or []):
                    place = _place_of_service([item.locationCodeableConcept])
                    if place:
                        self.where.add(
                            "/place_of_service", f"{claim.pointer}/item/{k}/locationCodeableConcept"
                        )
                        return place
        return None

    def _facility_place(self) -> str | None:
        for item in self.encounter.location or []:
            target = self.bundle.resolve(item.location, context=self.entry)
            if target is not None and target.type == "Location" and target.model is not None:
                place = _place_of_service([*(target.model.type or []), target.model.physicalType])
                if place:
                    return place
            tokens = list(_identifier_tokens(target.raw)) if target is not None else []
            _, token = _reference_token(item.location)
            for t in [*tokens, *([token] if token else [])]:
                facility = self.registry.facility(t)
                if facility is not None and facility.place_of_service:
                    return facility.place_of_service
        return None

    # --- diagnoses -------------------------------------------------------------------------

    def _diagnoses(self) -> list[dict[str, Any]]:
        found: list[_Diagnosis] = []
        self.claim_sequences: dict[tuple[int, int], int] = {}
        for k, diagnosis in enumerate(self.encounter.diagnosis or []):
            target = self.bundle.resolve(diagnosis.condition, context=self.entry)
            self._add_condition(found, target, f"{self.entry.pointer}/diagnosis/{k}")
        for claim, _ in self.claims:
            for k, diagnosis in enumerate(claim.model.diagnosis or []):
                where = f"{claim.pointer}/diagnosis/{k}"
                if diagnosis.diagnosisReference is not None:
                    target = self.bundle.resolve(diagnosis.diagnosisReference, context=claim)
                    position = self._add_condition(found, target, where)
                else:
                    position = self._add_concept(
                        found,
                        diagnosis.diagnosisCodeableConcept,
                        f"{where}/diagnosisCodeableConcept",
                    )
                if position is not None and diagnosis.sequence is not None:
                    self.claim_sequences[(id(claim), diagnosis.sequence)] = position
        if not self.claims or not found:
            for condition, _ in self.bundle.linked(self.entry, "Condition"):
                self._add_condition(found, condition, condition.pointer)
            for k, concept in enumerate(self.encounter.reasonCode or []):
                self._add_concept(found, concept, f"{self.entry.pointer}/reasonCode/{k}")
            for k, reason in enumerate(self.encounter.reasonReference or []):
                target = self.bundle.resolve(reason, context=self.entry)
                where = f"{self.entry.pointer}/reasonReference/{k}"
                if target is not None and target.type == "Condition":
                    self._add_condition(found, target, where)
                elif target is not None and target.model is not None:
                    self._add_concept(found, getattr(target.model, "code", None), where)
        if not found:
            for k, concept in enumerate(self.encounter.type or []):
                if self._add_concept(
                    found, concept, f"{self.entry.pointer}/type/{k}", reason_for_visit=True
                ):
                    break
        if not found:
            self._fail(
                self.entry.pointer,
                "no diagnosis and no reason for the visit is documented",
                ProblemKind.MISSING,
            )
        if len(found) > MAX_DIAGNOSES:
            self._fail(
                self.entry.pointer,
                f"{len(found)} diagnoses documented; a claim carries at most {MAX_DIAGNOSES}",
            )
        for index, diagnosis in enumerate(found):
            self.where.add(f"/diagnoses/{index}", diagnosis.where)
        return [d.body for d in found]

    def _add_condition(
        self, found: list[_Diagnosis], target: _Entry | None, where: str
    ) -> int | None:
        if target is None or target.type != "Condition":
            self._fail(where, "the referenced Condition is not in the bundle", ProblemKind.MISSING)
            return None
        if target.model is None:
            self._fail_all(target.problems)
            return None
        status = target.model.verificationStatus
        if status is not None and any(
            c.code in ("refuted", "entered-in-error") for c in status.coding or []
        ):
            return None
        key = ("Condition", id(target))
        for position, existing in enumerate(found, start=1):
            if existing.key == key:
                return position
        return self._append(found, key, target.model.code, f"{target.pointer}/code")

    def _add_concept(
        self, found: list[_Diagnosis], concept: Any, where: str, *, reason_for_visit: bool = False
    ) -> int | None:
        if concept is None:
            return None
        codings = _codings(concept)
        key = ("Concept", *(c["code"] for c in codings[:1]), _concept_text(concept))
        for position, existing in enumerate(found, start=1):
            if existing.key == key:
                return position
        return self._append(found, key, concept, where, reason_for_visit=reason_for_visit)

    def _append(
        self,
        found: list[_Diagnosis],
        key: tuple[Any, ...],
        concept: Any,
        where: str,
        *,
        reason_for_visit: bool = False,
    ) -> int | None:
        codings = _codings(concept)
        text = _concept_text(concept)
        if not codings and not text:
            self._fail(where, "diagnosis has neither a code nor text", ProblemKind.MISSING)
            return None
        if reason_for_visit and text:
            text = _clip(f"Reason for visit: {text}", MAX_TEXT)
        icd = next(
            (c["code"] for c in codings if c["system"] == DocumentedCodeSystem.ICD_10_CM), None
        )
        body: dict[str, Any] = {"sequence": len(found) + 1, "text": text, "codings": codings}
        if icd:
            body["code"] = icd
        found.append(_Diagnosis(key, body, where))
        return len(found)

    # --- service lines ---------------------------------------------------------------------

    def _lines(self) -> list[dict[str, Any]]:
        """Each line: its concept, date, units, modifiers, claim diagnosis sequences, where."""
        lines: list[dict[str, Any]] = []
        if self.claims:
            for claim, _ in self.claims:
                lines.extend(self._claim_lines(claim))
            return lines
        for procedure, _ in self.bundle.linked(self.entry, "Procedure"):
            if procedure.model.status == "completed":
                lines.append(
                    self._procedure_line(procedure, procedure.model.code, procedure.pointer)
                )
        for shot, _ in self.bundle.linked(self.entry, "Immunization"):
            if shot.model.status == "completed":
                lines.append(
                    {
                        "concept": shot.model.vaccineCode,
                        "where": f"{shot.pointer}/vaccineCode",
                        "date": _as_date(shot.model.occurrenceDateTime),
                    }
                )
        for charge, _ in self.bundle.linked(self.entry, "ChargeItem"):
            c = charge.model
            if c.status != "billable":
                continue
            lines.append(
                {
                    "concept": c.code,
                    "where": f"{charge.pointer}/code",
                    "date": _as_date(c.occurrenceDateTime)
                    or (_as_date(c.occurrencePeriod.start) if c.occurrencePeriod else None),
                    "quantity": (c.quantity.value, f"{charge.pointer}/quantity/value")
                    if c.quantity
                    else None,
                }
            )
        return lines

    def _procedure_line(self, procedure: _Entry, concept: Any, where: str) -> dict[str, Any]:
        m = procedure.model
        performed = _as_date(m.performedDateTime) or (
            _as_date(m.performedPeriod.start) if m.performedPeriod else None
        )
        return {"concept": concept or m.code, "where": where, "date": performed}

    def _claim_lines(self, claim: _Entry) -> Iterator[dict[str, Any]]:
        c = claim.model
        diagnosis_codes: dict[int, set[str]] = {}
        for diagnosis in c.diagnosis or []:
            codes: set[str] = set()
            if diagnosis.diagnosisReference is not None:
                target = self.bundle.resolve(diagnosis.diagnosisReference, context=claim)
                if target is not None and target.model is not None and target.type == "Condition":
                    codes = {
                        x.code
                        for x in ((target.model.code.coding if target.model.code else None) or [])
                    }
            elif diagnosis.diagnosisCodeableConcept is not None:
                codes = {x.code for x in diagnosis.diagnosisCodeableConcept.coding or []}
            diagnosis_codes[diagnosis.sequence] = codes
        procedures = {p.sequence: p for p in c.procedure or []}
        information = {s.sequence: s for s in c.supportingInfo or []}
        for k, item in sorted(enumerate(c.item or []), key=lambda pair: pair[1].sequence):
            where = f"{claim.pointer}/item/{k}"
            if item.productOrService is None:
                continue
            item_codes = {x.code for x in item.productOrService.coding or []}
            linked_only_to_diagnoses = not (
                item.procedureSequence or item.informationSequence or item.encounter
            )
            if (
                linked_only_to_diagnoses
                and item.diagnosisSequence
                and any(item_codes & diagnosis_codes.get(s, set()) for s in item.diagnosisSequence)
            ):
                continue
            line: dict[str, Any] = {
                "concept": item.productOrService,
                "where": f"{where}/productOrService",
                "date": _as_date(item.servicedDate)
                or (_as_date(item.servicedPeriod.start) if item.servicedPeriod else None),
                "modifiers": [
                    (x.code, f"{where}/modifier/{m}")
                    for m, concept in enumerate(item.modifier or [])
                    for x in (concept.coding or [])[:1]
                ],
                "pointers": [
                    ((id(claim), s), f"{where}/diagnosisSequence/{n}")
                    for n, s in enumerate(item.diagnosisSequence or [])
                ],
                "quantity": (item.quantity.value, f"{where}/quantity/value")
                if item.quantity
                else None,
            }
            for s in item.procedureSequence or []:
                procedure = procedures.get(s)
                target = (
                    self.bundle.resolve(procedure.procedureReference, context=claim)
                    if procedure is not None and procedure.procedureReference is not None
                    else None
                )
                if target is not None and target.model is not None and target.type == "Procedure":
                    line["date"] = line["date"] or self._procedure_line(target, None, "")["date"]
            for s in item.informationSequence or []:
                info = information.get(s)
                target = (
                    self.bundle.resolve(info.valueReference, context=claim)
                    if info is not None and info.valueReference is not None
                    else None
                )
                if target is not None and target.model is not None:
                    line["date"] = line["date"] or _as_date(
                        getattr(target.model, "occurrenceDateTime", None)
                        or getattr(target.model, "effectiveDateTime", None)
                    )
            yield line

    def _procedure_bodies(
        self, lines: list[dict[str, Any]], encounter_start: str | None
    ) -> list[dict[str, Any]]:
        if len(lines) > MAX_LINES:
            self._fail(
                self.entry.pointer,
                f"{len(lines)} service lines; a claim carries at most {MAX_LINES}",
            )
            lines = lines[:MAX_LINES]
        bodies = []
        for index, line in enumerate(lines):
            at = f"/procedures/{index}"
            self.where.add(at, line["where"])
            codings = _codings(line["concept"])
            body: dict[str, Any] = {
                "sequence": index + 1,
                "code_system": "CPT",
                "text": _concept_text(line["concept"]),
                "service_date": (line["date"].isoformat() if line.get("date") else encounter_start),
                "codings": codings,
            }
            for system in (DocumentedCodeSystem.CPT, DocumentedCodeSystem.HCPCS):
                code = next((c["code"] for c in codings if c["system"] == system), None)
                if code:
                    body["code_system"], body["code"] = system.value, code
                    break
            modifiers = line.get("modifiers") or []
            if modifiers:
                body["modifiers"] = [code for code, _ in modifiers]
                for m, (_, where) in enumerate(modifiers):
                    self.where.add(f"{at}/modifiers/{m}", where)
            quantity = line.get("quantity")
            if quantity is not None and quantity[0] is not None:
                units, where = quantity
                self.where.add(f"{at}/units", where)
                body["units"] = _units(units)
            sequences = [
                self.claim_sequences[key]
                for key, _ in line.get("pointers") or []
                if key in self.claim_sequences
            ]
            if sequences:
                body["diagnosis_sequences"] = list(dict.fromkeys(sequences))[:4]
            bodies.append(body)
        return bodies


# --- small readers ------------------------------------------------------------------------


def _under_any(location: str, fields: set[str]) -> bool:
    return any(location == f or location.startswith(f + "/") or f == "" for f in fields)


def _is_medical_claim(claim: _Entry) -> bool:
    m = claim.model
    if m is None or m.use not in (None, "claim") or m.status in ("cancelled", "entered-in-error"):
        return False
    kinds = {c.code for c in (m.type.coding or [])} if m.type else set()
    return "pharmacy" not in kinds


def _reference_type(reference: Any, bundle: _Bundle, context: _Entry) -> str | None:
    """The resource type a reference points at, from its target, its type or its text."""
    if reference is None:
        return None
    target = bundle.resolve(reference, context=context)
    if target is not None:
        return target.type
    kind = getattr(reference, "type", None)
    if kind:
        return kind
    ref = getattr(reference, "reference", None) or ""
    head = ref.split("?", 1)[0].rstrip("/").split("/")
    if "?" in ref:
        return head[-1]
    return head[-2] if len(head) >= 2 else None


def _is_practitioner(reference: Any, bundle: _Bundle, context: _Entry) -> bool:
    return _reference_type(reference, bundle, context) in ("Practitioner", "PractitionerRole")


def _member_id(coverage: _Entry) -> tuple[str | None, str]:
    c = coverage.model
    if c.subscriberId:
        return c.subscriberId.strip(), f"{coverage.pointer}/subscriberId"
    identifiers = c.identifier or []
    for k, identifier in enumerate(identifiers):
        codes = {x.code for x in (identifier.type.coding or [])} if identifier.type else set()
        if codes & MEMBER_ID_TYPES and identifier.value:
            return identifier.value.strip(), f"{coverage.pointer}/identifier/{k}/value"
    return None, coverage.pointer


def _relationship(concept: Any) -> str | None:
    for coding in (concept.coding if concept else None) or []:
        code = subscriber_relationship("fhir", coding.code)
        if code:
            return code
    return None


def _codings(concept: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for coding in (getattr(concept, "coding", None) or []) if concept else []:
        system = code_system(coding.system)
        if system is None or not coding.code:
            continue
        item: dict[str, Any] = {"system": system.value, "code": coding.code.strip()}
        if coding.display:
            item["display"] = _clip(coding.display, MAX_TEXT)
        if item not in out:
            out.append(item)
    return out[:MAX_CODINGS]


def _concept_text(concept: Any) -> str | None:
    if concept is None:
        return None
    text = getattr(concept, "text", None)
    if not text:
        text = next((c.display for c in getattr(concept, "coding", None) or [] if c.display), None)
    return _clip(text, MAX_TEXT)


def _as_date(value: Any) -> date | None:
    """The calendar date as written: a dateTime's own local date, not its UTC date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _units(value: Any) -> Any:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if number == number.to_integral_value():
        return int(number)
    return str(number)
