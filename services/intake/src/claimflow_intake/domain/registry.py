"""Tenant master data as a pure model: the payers, providers, facilities and defaults every
input stands on, and how an input's payer display name or provider identifier resolves
against them. What does not resolve raises `Unresolved` with the reason; nothing is guessed.

Identifiers outside NPIs are *local identifiers*, written as FHIR tokens `system|value`
(an HL7 v2 assigning authority takes the place of the system).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from claimflow_intake.domain.validation import (
    Problem,
    ProblemKind,
    claim_filing_indicators,
    is_valid_npi,
    npi_problem,
    nucc_taxonomy,
    places_of_service,
    state_code,
)

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TAX_ID_SYSTEMS = frozenset({"urn:oid:2.16.840.1.113883.4.4", "http://hl7.org/fhir/sid/us-tin"})

MemberIdSource = Literal["document", "patient-id"]

# Display names EHRs use for "no payer". They are not payers the tenant forgot to register,
# so they get their own reason instead of "unknown payer".
SELF_PAY_NAMES = frozenset({"no insurance", "self pay", "selfpay", "uninsured", "none"})


class Unresolved(ValueError):
    """An input names a payer or provider the tenant's master data cannot resolve."""

    def __init__(self, reason: str, kind: ProblemKind = ProblemKind.UNKNOWN) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def normalise_name(text: str) -> str:
    """How payer names are compared: case, accents, punctuation and `&`/`and` do not matter."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def local_id(system: str | None, value: str) -> str:
    """A local identifier token; systems compare case-insensitively, values exactly."""
    return f"{(system or '').strip().casefold()}|{value.strip()}"


@dataclass(frozen=True)
class PostalAddress:
    line1: str
    city: str
    state: str
    postal_code: str
    line2: str | None = None

    def as_contract(self) -> dict[str, str]:
        body = {
            "line1": self.line1,
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
        }
        if self.line2:
            body["line2"] = self.line2
        return body


@dataclass(frozen=True)
class Payer:
    """A payer the tenant bills. `aliases` are the names EHRs spell it with.

    `member_id_source` is master data about what the tenant's sources send: "document"
    (the default) requires the member id from the document (FHIR Coverage, IN1-36, a CSV
    column); "patient-id" lets the source's patient identifier stand in when the document
    has none, for payers that key members by the provider's patient id and for synthetic
    sources such as Synthea, which never carry member ids.
    """

    payer_id: str
    name: str
    aliases: tuple[str, ...] = ()
    claim_filing_indicator: str = "CI"
    timely_filing_days: int = 365
    member_id_source: MemberIdSource = "document"

    def names(self) -> Iterator[str]:
        yield self.name
        yield from self.aliases


@dataclass(frozen=True)
class Provider:
    """A billing organisation or a rendering practitioner. An organisation without an NPI
    of its own (Synthea's hospitals) is still a known place of care: its encounters bill
    under the tenant's default billing provider."""

    kind: Literal["organization", "individual"]
    npi: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tax_id: str | None = None
    taxonomy: str | None = None
    address: PostalAddress | None = None
    local_ids: tuple[str, ...] = ()
    # The stored entry this is (its row), so an edit replaces it; not master data itself.
    ref: int | None = field(default=None, compare=False)

    @property
    def can_bill(self) -> bool:
        return (
            self.kind == "organization"
            and is_valid_npi(self.npi)
            and bool(self.tax_id)
            and self.address is not None
            and bool(self.name)
        )

    @property
    def can_render(self) -> bool:
        return (
            self.kind == "individual"
            and is_valid_npi(self.npi)
            and bool(self.first_name)
            and bool(self.last_name)
        )

    @property
    def key(self) -> str:
        return self.npi or (self.local_ids[0] if self.local_ids else "")


@dataclass(frozen=True)
class Facility:
    """A place of care: where the tenant's encounters happen and which POS code it implies."""

    name: str
    local_ids: tuple[str, ...] = ()
    npi: str | None = None
    address: PostalAddress | None = None
    place_of_service: str | None = None
    organization_id: str | None = None
    ref: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TenantDefaults:
    billing_npi: str | None = None
    place_of_service: str | None = None


@dataclass(frozen=True)
class DirectoryUpdate:
    """Providers and facilities read from a Practitioner/Organization bundle (or any other
    source), to be merged into the registry; `problems` say what was left out and why."""

    providers: tuple[Provider, ...] = ()
    facilities: tuple[Facility, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class TenantRegistry:
    """One tenant's master data with its lookup indexes, built once and read many times."""

    tenant_id: str
    payers: tuple[Payer, ...] = ()
    providers: tuple[Provider, ...] = ()
    facilities: tuple[Facility, ...] = ()
    defaults: TenantDefaults = field(default_factory=TenantDefaults)
    _payer_by_id: dict[str, Payer] = field(init=False, repr=False, compare=False)
    _payers_by_name: dict[str, list[Payer]] = field(init=False, repr=False, compare=False)
    _provider_by_npi: dict[str, Provider] = field(init=False, repr=False, compare=False)
    _provider_by_local: dict[str, Provider] = field(init=False, repr=False, compare=False)
    _facility_by_local: dict[str, Facility] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {p.payer_id.upper(): p for p in self.payers}
        by_name: dict[str, list[Payer]] = {}
        for payer in self.payers:
            for name in {normalise_name(n) for n in payer.names()}:
                if name:
                    by_name.setdefault(name, []).append(payer)
        by_npi: dict[str, Provider] = {}
        by_local: dict[str, Provider] = {}
        for provider in self.providers:
            if provider.npi:
                by_npi[provider.npi] = provider
            for token in provider.local_ids:
                by_local[_token(token)] = provider
        facilities: dict[str, Facility] = {}
        for facility in self.facilities:
            for token in facility.local_ids:
                facilities[_token(token)] = facility
        object.__setattr__(self, "_payer_by_id", by_id)
        object.__setattr__(self, "_payers_by_name", by_name)
        object.__setattr__(self, "_provider_by_npi", by_npi)
        object.__setattr__(self, "_provider_by_local", by_local)
        object.__setattr__(self, "_facility_by_local", facilities)

    # --- payers --------------------------------------------------------------------------

    @property
    def payer_ids(self) -> frozenset[str]:
        return frozenset(p.payer_id for p in self.payers)

    def payer_by_id(self, payer_id: str) -> Payer:
        payer = self._payer_by_id.get(payer_id.strip().upper())
        if payer is None:
            raise Unresolved("payer id is not known to the tenant")
        return payer

    def payer_by_name(self, name: str) -> Payer:
        """The one payer whose name or alias matches; ambiguity is an error, not a choice."""
        key = normalise_name(name)
        if not key:
            raise Unresolved("payer name is empty", ProblemKind.MISSING)
        found = self._payers_by_name.get(key, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Unresolved("payer name matches more than one of the tenant's payers")
        if key in SELF_PAY_NAMES or key.replace(" ", "") in SELF_PAY_NAMES:
            raise Unresolved("the patient has no insurance (self-pay): there is no payer to bill")
        raise Unresolved("payer name is not a name or alias of any of the tenant's payers")

    def resolve_payer(self, *, payer_id: str | None = None, name: str | None = None) -> Payer:
        """By payer id when given (falling back to the name), else by name."""
        if payer_id and payer_id.strip():
            try:
                return self.payer_by_id(payer_id)
            except Unresolved:
                if not name:
                    raise
        if name:
            return self.payer_by_name(name)
        raise Unresolved("no payer id or payer name", ProblemKind.MISSING)

    # --- providers -----------------------------------------------------------------------

    def provider(self, *, npi: str | None = None, local: str | None = None) -> Provider:
        """A provider by local identifier first (it may correct a source's bad NPI), then NPI."""
        if local:
            found = self._provider_by_local.get(_token(local))
            if found is not None:
                return found
        if npi:
            npi = npi.strip()
            found = self._provider_by_npi.get(npi)
            if found is not None:
                return found
            problem = npi_problem(npi)
            if problem:
                raise Unresolved(f"provider NPI {problem}", ProblemKind.INVALID)
            raise Unresolved("provider NPI is not in the tenant's provider registry")
        if local:
            raise Unresolved("provider identifier is not in the tenant's provider registry")
        raise Unresolved("no provider identifier", ProblemKind.MISSING)

    def rendering_provider(self, *, npi: str | None = None, local: str | None = None) -> Provider:
        found = self.provider(npi=npi, local=local)
        if found.kind != "individual":
            raise Unresolved("rendering provider is an organisation, not a practitioner")
        if not is_valid_npi(found.npi):
            raise Unresolved(
                "rendering provider has no valid NPI in the tenant's registry",
                ProblemKind.INVALID,
            )
        if not (found.first_name and found.last_name):
            raise Unresolved("rendering provider has no name in the tenant's registry")
        return found

    def default_billing_provider(self) -> Provider:
        if not self.defaults.billing_npi:
            raise Unresolved("the tenant has no default billing provider", ProblemKind.MISSING)
        found = self._provider_by_npi.get(self.defaults.billing_npi)
        if found is None or not found.can_bill:
            raise Unresolved(
                "the tenant's default billing provider is not a registered organisation "
                "with NPI, tax id and address"
            )
        return found

    def billing_provider(self, *, npi: str | None = None, local: str | None = None) -> Provider:
        """The organisation that bills: the one named when it can bill; the tenant's default
        when it names a registered organisation without its own billing identity, or none."""
        if not (npi or local):
            return self.default_billing_provider()
        found = self.provider(npi=npi, local=local)
        if found.can_bill:
            return found
        if found.kind != "organization":
            raise Unresolved("billing provider is a practitioner, not an organisation")
        return self.default_billing_provider()

    # --- facilities ----------------------------------------------------------------------

    def facility(self, local: str) -> Facility | None:
        return self._facility_by_local.get(_token(local))

    # --- maintenance ---------------------------------------------------------------------

    def merged(self, update: DirectoryUpdate) -> TenantRegistry:
        """This registry with an update's providers and facilities added; an entry with the
        same NPI or local identifier is replaced, keeping registry-only fields (tax id,
        taxonomy) the update does not carry."""
        providers = list(self.providers)
        for incoming in update.providers:
            index = _find_provider(providers, incoming)
            if index is None:
                providers.append(incoming)
            else:
                providers[index] = _overlay(providers[index], incoming)
        facilities = list(self.facilities)
        for incoming_facility in update.facilities:
            tokens = {_token(t) for t in incoming_facility.local_ids}
            matches = [
                i for i, f in enumerate(facilities) if tokens & {_token(t) for t in f.local_ids}
            ]
            if matches:
                old = facilities[matches[0]]
                facilities[matches[0]] = replace(
                    incoming_facility,
                    place_of_service=incoming_facility.place_of_service or old.place_of_service,
                    npi=incoming_facility.npi or old.npi,
                    ref=old.ref,
                )
            else:
                facilities.append(incoming_facility)
        return replace(self, providers=tuple(providers), facilities=tuple(facilities))

    def with_payer(self, payer: Payer) -> TenantRegistry:
        """This registry with `payer` added, or replacing the one with its payer id."""
        key = payer.payer_id.upper()
        kept = [p for p in self.payers if p.payer_id.upper() != key]
        return replace(self, payers=(*kept, payer))

    def without_payer(self, payer_id: str) -> TenantRegistry:
        key = payer_id.strip().upper()
        return replace(self, payers=tuple(p for p in self.payers if p.payer_id.upper() != key))

    def matching_provider(self, provider: Provider) -> Provider | None:
        """The registered provider with the same NPI or a shared local identifier."""
        index = _find_provider(list(self.providers), provider)
        return None if index is None else self.providers[index]

    def with_provider(self, provider: Provider) -> TenantRegistry:
        """This registry with `provider` added, or replacing the entry it refers to."""
        if provider.ref is None:
            return replace(self, providers=(*self.providers, provider))
        return replace(
            self,
            providers=tuple(provider if p.ref == provider.ref else p for p in self.providers),
        )

    def without_provider(self, ref: int) -> TenantRegistry:
        return replace(self, providers=tuple(p for p in self.providers if p.ref != ref))

    def with_facility(self, facility: Facility) -> TenantRegistry:
        if facility.ref is None:
            return replace(self, facilities=(*self.facilities, facility))
        return replace(
            self,
            facilities=tuple(facility if f.ref == facility.ref else f for f in self.facilities),
        )

    def without_facility(self, ref: int) -> TenantRegistry:
        return replace(self, facilities=tuple(f for f in self.facilities if f.ref != ref))

    def with_defaults(self, defaults: TenantDefaults) -> TenantRegistry:
        return replace(self, defaults=defaults)

    def problems(self) -> list[Problem]:
        """What is wrong with the master data itself (the admin API refuses such changes)."""
        return list(_registry_problems(self))


def _token(token: str) -> str:
    """A token in its compared form; one without a system (`ABC`) is `|ABC`."""
    system, bar, value = token.rpartition("|")
    return local_id(system if bar else None, value)


def _find_provider(providers: list[Provider], incoming: Provider) -> int | None:
    tokens = {_token(t) for t in incoming.local_ids}
    for i, existing in enumerate(providers):
        if incoming.npi and existing.npi == incoming.npi:
            return i
        if tokens & {_token(t) for t in existing.local_ids}:
            return i
    return None


def _overlay(old: Provider, new: Provider) -> Provider:
    return replace(
        new,
        npi=new.npi or old.npi,
        tax_id=new.tax_id or old.tax_id,
        taxonomy=new.taxonomy or old.taxonomy,
        address=new.address or old.address,
        local_ids=tuple(dict.fromkeys((*old.local_ids, *new.local_ids))),
        ref=old.ref,
    )


def _registry_problems(registry: TenantRegistry) -> Iterator[Problem]:
    seen_ids: set[str] = set()
    for i, payer in enumerate(registry.payers):
        where = f"/payers/{i}"
        if not re.fullmatch(r"[A-Za-z0-9]{2,80}", payer.payer_id):
            yield Problem(f"{where}/payer_id", "a payer id is 2 to 80 letters or digits")
        if payer.payer_id.upper() in seen_ids:
            yield Problem(f"{where}/payer_id", "payer id is used twice")
        seen_ids.add(payer.payer_id.upper())
        if payer.claim_filing_indicator not in claim_filing_indicators():
            yield Problem(
                f"{where}/claim_filing_indicator", "not an X12 claim filing indicator code"
            )
        if not 1 <= payer.timely_filing_days <= 3650:
            yield Problem(f"{where}/timely_filing_days", "must be between 1 and 3650 days")
    for name, payers in registry._payers_by_name.items():
        if len({p.payer_id for p in payers}) > 1:
            index = registry.payers.index(payers[1])
            yield Problem(
                f"/payers/{index}/aliases",
                f"the name '{name}' already belongs to another payer",
            )
    npis: set[str] = set()
    tokens: set[str] = set()
    for i, provider in enumerate(registry.providers):
        where = f"/providers/{i}"
        if provider.kind not in ("organization", "individual"):
            yield Problem(f"{where}/kind", "a provider is an organization or an individual")
        if not provider.npi and not provider.local_ids:
            yield Problem(
                f"{where}/npi", "a provider needs an NPI or a local identifier", ProblemKind.MISSING
            )
        if provider.npi and provider.npi in npis:
            yield Problem(f"{where}/npi", "NPI belongs to another registered provider")
        npis.add(provider.npi or "")
        own = {_token(t) for t in provider.local_ids}
        if own & tokens:
            yield Problem(
                f"{where}/local_ids", "a local identifier belongs to another registered provider"
            )
        tokens |= own
        if provider.npi and (problem := npi_problem(provider.npi)):
            yield Problem(f"{where}/npi", problem)
        if provider.tax_id and not re.fullmatch(r"[0-9]{9}", provider.tax_id):
            yield Problem(f"{where}/tax_id", "a tax id (EIN) is 9 digits")
        if provider.taxonomy and provider.taxonomy not in nucc_taxonomy():
            yield Problem(f"{where}/taxonomy", "not a NUCC taxonomy code", ProblemKind.UNKNOWN)
        if provider.address and state_code(provider.address.state) != provider.address.state:
            yield Problem(f"{where}/address/state", "not a USPS state code")
    for i, facility in enumerate(registry.facilities):
        pos = facility.place_of_service
        if pos and pos not in places_of_service():
            yield Problem(f"/facilities/{i}/place_of_service", "not a CMS place-of-service code")
    defaults = registry.defaults
    if defaults.billing_npi:
        try:
            registry.default_billing_provider()
        except Unresolved as exc:
            yield Problem("/defaults/billing_npi", exc.reason)
    if defaults.place_of_service and defaults.place_of_service not in places_of_service():
        yield Problem("/defaults/place_of_service", "not a CMS place-of-service code")


def registry_from_entries(
    tenant_id: str,
    *,
    payers: Iterable[Payer] = (),
    providers: Iterable[Provider] = (),
    facilities: Iterable[Facility] = (),
    defaults: TenantDefaults | None = None,
) -> TenantRegistry:
    """A registry from stored rows (the lead's tables hold one row per entry)."""
    return TenantRegistry(
        tenant_id=tenant_id,
        payers=tuple(payers),
        providers=tuple(providers),
        facilities=tuple(facilities),
        defaults=defaults or TenantDefaults(),
    )
