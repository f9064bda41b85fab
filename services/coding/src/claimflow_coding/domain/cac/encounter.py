"""One encounter's diagnoses, end to end: each documented diagnosis through the coder, the
final codes in order (a note's additional code right after the code that calls for it, a
manifestation after its etiology, a code the service implies where the guidelines put it),
the compliance edits over the result, the CMS-HCC categories, and one decision: auto-code only
when every diagnosis cleared the tenant's threshold and no edit failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claimflow_coding.domain.cac.coder import (
    DEFAULT_THRESHOLD,
    Decision,
    Setting,
    Suggestion,
    suggest_diagnoses,
)
from claimflow_coding.domain.edits import EditFinding, check_codes, code_first_order
from claimflow_coding.domain.hcc import HccCategory, HccMappingUnavailable, hcc_categories
from claimflow_coding.domain.icd10 import check_diagnosis, dotted
from claimflow_coding.domain.reasons import rule_of


@dataclass(frozen=True)
class DocumentedDiagnosisInput:
    """A diagnosis as documented: free text, and/or a code with its system. `field` names it
    in the caller's document (default `diagnoses[i]`)."""

    text: str | None = None
    system: str | None = None
    code: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class ImpliedDiagnosis:
    """A code the documented service implies (a preventive visit its examination code, a
    vaccine Z23), added unless a code of its `family` is already final. The choice between
    `without_findings` and `with_findings` follows whether any other condition is coded."""

    family: str  # code prefix, no dot: "Z000", "Z23"
    without_findings: str
    with_findings: str
    first: bool
    confidence: float
    rationale: str


@dataclass(frozen=True)
class FinalDiagnosis:
    code: str  # with the dot
    description: str
    how: str  # given | snomed-map | cac | use-additional-code | service
    confidence: float
    documented_index: int | None  # which documented diagnosis it came from (None: implied)
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Issue:
    """Something a coder must resolve, at a field of the caller's document, under a rule."""

    field: str
    code: str | None
    rule: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem} ({self.rule})"


@dataclass(frozen=True)
class EncounterDiagnoses:
    final: tuple[FinalDiagnosis, ...]
    decision: Decision
    issues: tuple[Issue, ...]  # each blocks auto-coding
    findings: tuple[EditFinding, ...]
    hccs: tuple[HccCategory, ...]
    suggestions: tuple[Suggestion, ...] = ()  # per documented diagnosis, in input order
    notes: tuple[Issue, ...] = ()  # edit warnings, moves, codes deliberately not coded

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(str(issue) for issue in self.issues)


def code_diagnoses(
    *,
    diagnoses: Sequence[DocumentedDiagnosisInput],
    patient_age: int | None = None,
    patient_sex: str | None = None,
    setting: Setting = "outpatient",
    threshold: float = DEFAULT_THRESHOLD,
    implied: Sequence[ImpliedDiagnosis] = (),
) -> EncounterDiagnoses:
    """Code every documented diagnosis of one encounter and decide auto-code or query."""
    fields = [d.field or f"diagnoses[{i}]" for i, d in enumerate(diagnoses)]
    suggestions = [_suggest(d, patient_sex, setting, threshold, False) for d in diagnoses]
    final: list[FinalDiagnosis] = []
    issues: list[Issue] = []
    notes: list[Issue] = []
    for index, suggestion in enumerate(suggestions):
        where = fields[index]
        about = f"{where}.code" if diagnoses[index].code else f"{where}.text"
        issues.extend(
            Issue(about, diagnoses[index].code, rule_of(reason), str(reason))
            for reason in suggestion.reasons
        )
        if suggestion.not_coded:
            notes.append(Issue(where, None, "NOT-CODED", f"not coded: {suggestion.not_coded}"))
        best = suggestion.best
        if best is None:
            continue
        for candidate in (best, *suggestion.additional):
            if any(f.code == candidate.code for f in final):
                continue
            final.append(
                FinalDiagnosis(
                    code=candidate.code,
                    description=candidate.description,
                    how=candidate.how
                    if candidate is best
                    else (candidate.evidence[0].source if candidate.evidence else "cac"),
                    confidence=candidate.confidence,
                    documented_index=index,
                    evidence=tuple(e.as_text() for e in candidate.evidence[:3]),
                )
            )
    final = _with_implied(final, implied)
    final, moves = _in_code_first_order(final)
    notes.extend(Issue("diagnoses", None, "ICD-CODE-FIRST-ORDER", move) for move in moves)
    findings = tuple(
        check_codes(
            codes=[f.code for f in final], age=patient_age, sex=patient_sex, setting=setting
        )
    )
    for finding in findings:
        source = final[finding.index].documented_index
        where = f"{fields[source]}.code" if source is not None else "diagnoses"
        issue = Issue(where, final[finding.index].code, finding.edit, finding.reason)
        (issues if finding.severity == "error" else notes).append(issue)
    try:
        hccs = tuple(hcc_categories(codes=[f.code for f in final]))
    except HccMappingUnavailable:
        hccs = ()
    if not final and not issues:
        issues.append(Issue("diagnoses", None, "DX-NONE", "nothing could be coded"))
    decision = Decision.QUERY if issues else Decision.AUTO
    if decision is Decision.QUERY:
        # A human will look: show runners-up for the concepts the map resolved alone.
        suggestions = [
            _suggest(d, patient_sex, setting, threshold, True) if _mapped_alone(s) else s
            for d, s in zip(diagnoses, suggestions, strict=True)
        ]
    return EncounterDiagnoses(
        tuple(final),
        decision,
        tuple(issues),
        findings,
        hccs,
        tuple(suggestions),
        tuple(notes),
    )


def _suggest(
    documented: DocumentedDiagnosisInput,
    sex: str | None,
    setting: Setting,
    threshold: float,
    alternatives: bool,
) -> Suggestion:
    return suggest_diagnoses(
        text=documented.text,
        system=documented.system,
        code=documented.code,
        setting=setting,
        threshold=threshold,
        patient_sex=sex,
        alternatives=alternatives,
    )


def _mapped_alone(suggestion: Suggestion) -> bool:
    return suggestion.best is not None and suggestion.best.how == "snomed-map"


def _with_implied(
    final: list[FinalDiagnosis], implied: Sequence[ImpliedDiagnosis]
) -> list[FinalDiagnosis]:
    """The codes the services imply, where the guidelines put them (a general examination
    first-listed, I.C.21.c.13), unless the documentation already carries one of the family."""
    bare = [f.code.replace(".", "") for f in final]
    findings = any(not code.startswith("Z") for code in bare)
    out = list(final)
    for item in implied:
        if any(code.startswith(item.family) for code in bare):
            continue
        code = item.with_findings if findings else item.without_findings
        check = check_diagnosis(code)
        if not check.ok:
            continue
        diagnosis = FinalDiagnosis(
            code=dotted(check.code),
            description=check.description or "",
            how="service",
            confidence=item.confidence,
            documented_index=None,
            evidence=(f"service: {item.rationale}",),
        )
        out.insert(0, diagnosis) if item.first else out.append(diagnosis)
        bare.append(check.code)
    return out


def _in_code_first_order(
    final: list[FinalDiagnosis],
) -> tuple[list[FinalDiagnosis], list[str]]:
    order, moves = code_first_order([f.code for f in final])
    return [final[i] for i in order], moves
