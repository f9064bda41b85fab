"""The coder worklist's rules: the life of an item as one transition table, who may act on
it, and how a coder's decision (accept the suggestion, or correct it) becomes final codes
that pass the same compliance edits as automatic coding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from claimflow_coding.domain.coding import CODE_SETS, Coded, patient_context, risk_categories
from claimflow_coding.domain.edits import check_codes
from claimflow_coding.domain.hcc import HccMappingUnavailable, hcc_categories
from claimflow_coding.domain.icd10 import check_diagnosis, dotted
from claimflow_coding.domain.procedures import check_procedure
from claimflow_shared.codes import ProcedureCodeSystem
from claimflow_shared.events.models import (
    CodedDiagnosis,
    CodeDecision,
    CodedServiceLine,
    CodingQueryRaised,
    EncounterDocumented,
    QueryReason,
)


class ItemStatus(StrEnum):
    OPEN = "open"  # waiting for a coder
    CLAIMED = "claimed"  # a coder works on it
    QUERIED = "queried"  # the coder asked the provider; waiting on the answer
    ANSWERED = "answered"  # the provider answered; back with the coder who asked
    RESOLVED = "resolved"  # coded by a coder: encounter.coded emitted
    SUPERSEDED = "superseded"  # an amended revision was coded automatically


class ItemAction(StrEnum):
    RAISE = "raise"
    CLAIM = "claim"
    RELEASE = "release"
    ACCEPT = "accept"
    CORRECT = "correct"
    QUERY_PROVIDER = "query-provider"
    ANSWER = "answer"
    SUPERSEDE = "supersede"
    REOPEN = "reopen"


S, A = ItemStatus, ItemAction
WAITING = (S.OPEN, S.CLAIMED, S.QUERIED, S.ANSWERED)
TRANSITIONS: dict[tuple[ItemStatus, ItemAction], ItemStatus] = {
    # A coder takes an item, and gives it back untouched.
    (S.OPEN, A.CLAIM): S.CLAIMED,
    (S.CLAIMED, A.RELEASE): S.OPEN,
    (S.ANSWERED, A.RELEASE): S.OPEN,
    # The coder decides: the suggestion as it is, or corrected codes.
    (S.CLAIMED, A.ACCEPT): S.RESOLVED,
    (S.ANSWERED, A.ACCEPT): S.RESOLVED,
    (S.CLAIMED, A.CORRECT): S.RESOLVED,
    (S.ANSWERED, A.CORRECT): S.RESOLVED,
    # Documentation unclear: ask the provider (a physician query), record the answer.
    (S.CLAIMED, A.QUERY_PROVIDER): S.QUERIED,
    (S.ANSWERED, A.QUERY_PROVIDER): S.QUERIED,
    (S.QUERIED, A.ANSWER): S.ANSWERED,
    # An amended revision arrives: coded automatically, or back on the worklist.
    **{(status, A.SUPERSEDE): S.SUPERSEDED for status in WAITING},
    **{(status, A.REOPEN): S.OPEN for status in ItemStatus},
}
# Actions only the coder holding the item may take.
HOLDER_ONLY = frozenset({A.RELEASE, A.ACCEPT, A.CORRECT, A.QUERY_PROVIDER, A.ANSWER})


class WorklistError(Exception):
    """A command the item's state or the caller does not allow (`kind` says which)."""

    def __init__(self, kind: str, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.kind = kind  # not-found | conflict | invalid
        self.field = field
        self.reason = reason


def next_status(
    status: str,
    action: ItemAction,
    *,
    holder: str | None,
    principal: str,
    take_over: bool = False,
) -> ItemStatus:
    """The status after `action`, or `WorklistError` saying why it is not allowed now."""
    current = ItemStatus(status)
    if action is A.CLAIM and current is S.CLAIMED and take_over:
        return S.CLAIMED
    if action in HOLDER_ONLY and current in WAITING and holder != principal:
        reason = "claim the item first" if holder is None else f"claimed by {holder}"
        raise WorklistError("conflict", "item", reason)
    target = TRANSITIONS.get((current, action))
    if target is None:
        if action is A.CLAIM and current in WAITING:
            raise WorklistError("conflict", "item", f"already claimed by {holder}")
        raise WorklistError("conflict", "item", f"cannot {action.value} an item that is {status}")
    return target


# --- a coder's decision -------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """A service line as a coder enters it; pointers are positions in the coder's diagnoses."""

    code_system: str
    code: str
    diagnosis_pointers: Sequence[int]
    modifiers: Sequence[str] = ()
    units: int = 1
    service_date: date | None = None


@dataclass(frozen=True)
class Decision:
    """What the coder decided: `diagnoses` None keeps the suggested codes (accept)."""

    diagnoses: Sequence[str] | None = None
    lines: Sequence[LineInput] | None = None
    overrides: Sequence[str] = ()
    note: str | None = None
    method: str = "coder"  # how corrected codes were found (coder, provider-answer)


def resolve(
    *,
    documented: EncounterDocumented,
    suggestion: CodingQueryRaised,
    decision: Decision,
    coder: str,
    threshold: float | None = None,
) -> Coded:
    """The final codes of a coder's decision, checked like automatic codes: every code valid
    and billable, every blocking edit either fixed or overridden by name with a note."""
    problems: list[tuple[str, str]] = []
    suggested = {d.code: d for d in suggestion.suggested_diagnoses}
    codes = (
        [d.code for d in suggestion.suggested_diagnoses]
        if decision.diagnoses is None
        else [str(c) for c in decision.diagnoses]
    )
    final: list[CodedDiagnosis] = []
    if not codes:
        problems.append(("diagnoses", "at least one diagnosis is needed"))
    if len(codes) > 12:
        problems.append(("diagnoses", "at most 12 diagnoses"))
    for index, raw in enumerate(codes[:12]):
        check = check_diagnosis(raw)
        if not check.ok:
            problems.append((f"diagnoses[{index}]", check.problem or "not billable"))
            continue
        if any(d.code == check.code for d in final):
            problems.append((f"diagnoses[{index}]", f"{dotted(check.code)} is listed twice"))
            continue
        final.append(
            _decided(len(final) + 1, check.code, check.description, suggested, coder, decision)
        )
    overridden = set(decision.overrides)
    if overridden and not (decision.note or "").strip():
        problems.append(("note", "overriding an edit needs a note saying why"))
    patient = patient_context(documented)
    notes: list[QueryReason] = []
    if final and len(final) == len(codes):
        for finding in check_codes(
            codes=[d.code for d in final],
            age=patient.age,
            sex=patient.sex,
            setting=patient.setting,  # type: ignore[arg-type]
        ):
            reason = QueryReason(
                field=finding.field,
                code=final[finding.index].code,
                problem=finding.reason,
                rule=finding.edit,
            )
            if finding.severity == "error" and finding.edit not in overridden:
                problems.append((finding.field, f"{finding.edit}: {finding.reason}"))
            else:
                notes.append(reason)
    lines = _lines(documented, suggestion, decision, final, coder, problems)
    if problems:
        raise WorklistError(
            "invalid", problems[0][0], "; ".join(f"{f}: {r}" for f, r in problems)[:2000]
        )
    try:
        hccs = risk_categories(hcc_categories(codes=[d.code for d in final]))
    except HccMappingUnavailable:
        hccs = []
    if decision.note and overridden:
        notes.append(
            QueryReason(
                field="diagnoses",
                problem=f"edits overridden by {coder}: {decision.note}"[:500],
                rule="OVERRIDE:" + ",".join(sorted(overridden))[:30],
            )
        )
    return Coded(
        final_diagnoses=tuple(final),
        service_lines=tuple(lines),
        code_sets=CODE_SETS,
        coded_by=coder,
        hccs=tuple(hccs),
        notes=tuple(notes),
        threshold=threshold,
    )


def _decided(
    sequence: int,
    code: str,
    description: str | None,
    suggested: dict[str, CodedDiagnosis],
    coder: str,
    decision: Decision,
) -> CodedDiagnosis:
    """A code the suggestion had keeps how it was found, now decided by the coder; a new
    code is the coder's own."""
    before = suggested.get(code)
    if before is None:
        return CodedDiagnosis(
            sequence=sequence,
            code=code,
            description=description,
            decision=CodeDecision.CODER,
            decided_by=coder,
            method=decision.method,
        )
    kept = (
        before.decision
        if before.decision is CodeDecision.GIVEN
        else CodeDecision.SUGGESTED_ACCEPTED
    )
    return before.model_copy(update={"sequence": sequence, "decision": kept, "decided_by": coder})


def _lines(
    documented: EncounterDocumented,
    suggestion: CodingQueryRaised,
    decision: Decision,
    final: list[CodedDiagnosis],
    coder: str,
    problems: list[tuple[str, str]],
) -> list[CodedServiceLine]:
    if decision.lines is None:
        return _suggested_lines(suggestion, final, coder, problems)
    if not decision.lines:
        problems.append(("service_lines", "at least one service line is needed"))
    lines = []
    suggested = {
        (x.code_system.value, x.code, tuple(x.modifiers), x.units)
        for x in suggestion.suggested_lines
    }
    for index, line in enumerate(decision.lines[:50]):
        where = f"service_lines[{index}]"
        try:
            system = ProcedureCodeSystem(line.code_system)
        except ValueError:
            problems.append((f"{where}.code_system", "must be CPT or HCPCS"))
            continue
        check = check_procedure(system, line.code)
        if not check.ok:
            problems.append((f"{where}.code", check.problem or "unknown code"))
            continue
        pointers = list(dict.fromkeys(line.diagnosis_pointers))
        if not pointers or len(pointers) > 4 or any(not 1 <= p <= len(final) for p in pointers):
            problems.append(
                (f"{where}.diagnosis_pointers", f"1 to 4 positions between 1 and {len(final)}")
            )
            continue
        key = (system.value, check.code, tuple(line.modifiers), line.units)
        try:
            lines.append(
                CodedServiceLine(
                    line_number=len(lines) + 1,
                    code_system=system,
                    code=check.code,
                    modifiers=list(line.modifiers),
                    units=line.units,
                    service_date=line.service_date or documented.period_start,
                    diagnosis_pointers=pointers,
                    decision=CodeDecision.SUGGESTED_ACCEPTED
                    if key in suggested
                    else CodeDecision.CODER,
                    decided_by=coder,
                    method="coder" if key not in suggested else None,
                )
            )
        except ValueError as exc:
            problems.append((where, _first_error(exc)))
    return lines


def _suggested_lines(
    suggestion: CodingQueryRaised,
    final: list[CodedDiagnosis],
    coder: str,
    problems: list[tuple[str, str]],
) -> list[CodedServiceLine]:
    """The suggested lines, their pointers following the codes they pointed at (a pointer to
    a code the coder removed is dropped; a line left with none points at the first)."""
    if not suggestion.suggested_lines:
        problems.append(("service_lines", "nothing was suggested: enter the service lines"))
        return []
    code_at = {d.sequence: d.code for d in suggestion.suggested_diagnoses}
    position = {d.code: d.sequence for d in final}
    lines = []
    for line in suggestion.suggested_lines:
        pointers = [
            position[code_at[p]] for p in line.diagnosis_pointers if code_at.get(p) in position
        ]
        lines.append(
            line.model_copy(
                update={
                    "diagnosis_pointers": list(dict.fromkeys(pointers)) or [1],
                    "decision": CodeDecision.GIVEN
                    if line.decision is CodeDecision.GIVEN
                    else CodeDecision.SUGGESTED_ACCEPTED,
                    "decided_by": coder,
                }
            )
        )
    return lines


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', 'invalid')}"
    return "invalid"
