"""A JSON encounter (the `POST /v1/encounters` body, one NDJSON line) completed from the
tenant's master data, then validated: errors are JSON pointers into the body.

The body is the `encounter.documented` payload, with what the registry knows made optional:
- a coverage's `payer` may give only `name` (a display name or alias) or only `payer_id`;
  either must resolve to one of the tenant's payers;
- `member_id` may be left out for a payer whose member ids are the source's patient id;
- `providers.billing` may be left out (the tenant's default billing provider) or give only
  `npi` or `local_id`; `providers.rendering` may give only `npi` or `local_id`;
- `source.system` may be left out when the caller supplies the source system.

A tenant that has registered no payers bills without payer master data: its coverages must
name the payer completely (`payer_id` and `name`), which is then taken as sent; a payer
given by name alone has nothing to resolve against and is rejected. Once a tenant registers
payers, every coverage must resolve to one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from claimflow_intake.domain.registry import Provider, TenantRegistry, Unresolved
from claimflow_intake.domain.validation import Problem, ProblemKind, validate_documented
from claimflow_shared.events import EncounterDocumented


def read_json_encounter(
    body: Any,
    *,
    registry: TenantRegistry,
    today: date,
    source_system: str | None = None,
) -> tuple[EncounterDocumented | None, list[Problem]]:
    """The encounter, or the problems (JSON pointers, reasons, no values); never raises."""
    if not isinstance(body, Mapping):
        return None, [Problem("/", "is not a JSON object")]
    try:
        completed, problems = complete_from_registry(
            body, registry=registry, source_system=source_system
        )
    except RecursionError:
        return None, [Problem("/", "JSON is nested too deeply")]
    encounter, invalid = validate_documented(
        completed, today=today, known_payer_ids=registry.payer_ids if registry.payers else None
    )
    spoiled = {"/".join(p.location.split("/")[:4]) for p in problems}
    problems += [
        p
        for p in invalid
        if not any(p.location == s or p.location.startswith(s + "/") for s in spoiled)
    ]
    if problems:
        return None, problems
    return encounter, []


def complete_from_registry(
    body: Mapping[str, Any], *, registry: TenantRegistry, source_system: str | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """The body with payers, member ids and providers filled in from the registry."""
    # Copy only what is filled in (the caller's body is left as it was).
    out: dict[str, Any] = dict(body)
    problems: list[Problem] = []
    source = out.get("source")
    if isinstance(source, Mapping) and not source.get("system") and source_system:
        out["source"] = {**source, "system": source_system}
    patient = out.get("patient") if isinstance(out.get("patient"), Mapping) else {}
    coverages = out.get("coverages")
    if isinstance(coverages, list):
        out["coverages"] = coverages = [dict(c) if isinstance(c, Mapping) else c for c in coverages]
        for i, coverage in enumerate(coverages):
            if isinstance(coverage, dict):
                _complete_coverage(coverage, i, patient, registry, problems)
    providers = out.get("providers")
    if providers is None:
        providers = {}
    if isinstance(providers, Mapping):
        out["providers"] = providers = dict(providers)
        _complete_billing(providers, registry, problems)
        _complete_rendering(providers, registry, problems)
    return out, problems


def _complete_coverage(
    coverage: dict[str, Any],
    index: int,
    patient: Mapping[str, Any],
    registry: TenantRegistry,
    problems: list[Problem],
) -> None:
    where = f"/coverages/{index}"
    payer = coverage.get("payer")
    if not isinstance(payer, dict):
        return
    payer_id, name = payer.get("payer_id"), payer.get("name")
    if not registry.payers:
        if not (isinstance(payer_id, str) and payer_id and isinstance(name, str) and name):
            field = "name" if isinstance(payer_id, str) and payer_id else "payer_id"
            problems.append(
                Problem(
                    f"{where}/payer/{field}",
                    "the tenant has no payers registered: give payer_id and name",
                    ProblemKind.MISSING,
                )
            )
        return
    try:
        found = registry.resolve_payer(
            payer_id=payer_id if isinstance(payer_id, str) else None,
            name=name if isinstance(name, str) else None,
        )
    except Unresolved as exc:
        field = "payer_id" if isinstance(payer_id, str) and payer_id else "name"
        problems.append(Problem(f"{where}/payer/{field}", exc.reason, exc.kind))
        return
    coverage["payer"] = {"payer_id": found.payer_id, "name": found.name[:60]}
    if not coverage.get("member_id") and found.member_id_source == "patient-id":
        mrn = patient.get("mrn") if isinstance(patient, Mapping) else None
        if isinstance(mrn, str):
            coverage["member_id"] = mrn


def _complete_billing(
    providers: dict[str, Any], registry: TenantRegistry, problems: list[Problem]
) -> None:
    billing = providers.get("billing")
    if isinstance(billing, dict) and _complete(billing, ("npi", "name", "tax_id", "address")):
        return
    npi = billing.get("npi") if isinstance(billing, dict) else None
    local = billing.get("local_id") if isinstance(billing, dict) else None
    try:
        found = registry.billing_provider(
            npi=npi if isinstance(npi, str) else None,
            local=local if isinstance(local, str) else None,
        )
        providers["billing"] = _billing_body(found)
    except Unresolved as exc:
        problems.append(Problem("/providers/billing", exc.reason, exc.kind))


def _complete_rendering(
    providers: dict[str, Any], registry: TenantRegistry, problems: list[Problem]
) -> None:
    rendering = providers.get("rendering")
    if not isinstance(rendering, dict) or _complete(rendering, ("npi", "first_name", "last_name")):
        return
    npi, local = rendering.get("npi"), rendering.get("local_id")
    if not (isinstance(npi, str) or isinstance(local, str)):
        return
    try:
        found = registry.rendering_provider(
            npi=npi if isinstance(npi, str) else None,
            local=local if isinstance(local, str) else None,
        )
    except Unresolved as exc:
        problems.append(Problem("/providers/rendering", exc.reason, exc.kind))
        return
    body = {"npi": found.npi, "first_name": found.first_name, "last_name": found.last_name}
    taxonomy = rendering.get("taxonomy") or found.taxonomy
    if taxonomy:
        body["taxonomy"] = taxonomy
    providers["rendering"] = body


def _complete(body: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    return all(body.get(k) for k in keys)


def _billing_body(provider: Provider) -> dict[str, Any]:
    if provider.address is None:
        raise Unresolved("billing provider has no address", ProblemKind.MISSING)
    return {
        "npi": provider.npi,
        "name": provider.name,
        "tax_id": provider.tax_id,
        "address": provider.address.as_contract(),
    }
