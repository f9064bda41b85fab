"""One encounter's diagnoses, end to end: each documented diagnosis through the coder, the
final codes in order (a note's additional code right after the code that calls for it), the
compliance edits over the result, the CMS-HCC categories, and one decision: auto-code only
when every diagnosis cleared the tenant's threshold and no edit failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claimflow_coding.domain.cac.coder import (
    DEFAULT_THRESHOLD,
    Decision,
    Setting,
    suggest_diagnoses,
)
from claimflow_coding.domain.edits import EditFinding, blocking, check_codes
from claimflow_coding.domain.hcc import HccCategory, HccMappingUnavailable, hcc_categories


@dataclass(frozen=True)
class DocumentedDiagnosisInput:
    """A diagnosis as documented: free text, and/or a code with its system."""

    text: str | None = None
    system: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class FinalDiagnosis:
    code: str  # with the dot
    description: str
    how: str  # given | snomed-map | cac | use-additional-code
    confidence: float
    documented_index: int  # which documented diagnosis it came from


@dataclass(frozen=True)
class EncounterDiagnoses:
    final: tuple[FinalDiagnosis, ...]
    decision: Decision
    reasons: tuple[str, ...]  # each starts with the field it is about
    findings: tuple[EditFinding, ...]
    hccs: tuple[HccCategory, ...]


def code_diagnoses(
    *,
    diagnoses: Sequence[DocumentedDiagnosisInput],
    patient_age: int | None = None,
    patient_sex: str | None = None,
    setting: Setting = "outpatient",
    threshold: float = DEFAULT_THRESHOLD,
) -> EncounterDiagnoses:
    """Code every documented diagnosis of one encounter and decide auto-code or query."""
    final: list[FinalDiagnosis] = []
    reasons: list[str] = []
    for index, documented in enumerate(diagnoses):
        suggestion = suggest_diagnoses(
            text=documented.text,
            system=documented.system,
            code=documented.code,
            setting=setting,
            threshold=threshold,
            patient_age=patient_age,
            patient_sex=patient_sex,
        )
        reasons.extend(f"diagnoses[{index}]: {reason}" for reason in suggestion.reasons)
        best = suggestion.best
        if best is None:
            continue
        chosen = [best, *suggestion.additional]
        for candidate in chosen:
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
                )
            )
    findings = tuple(
        check_codes(
            codes=[f.code for f in final], age=patient_age, sex=patient_sex, setting=setting
        )
    )
    reasons.extend(
        f"{finding.field} ({final[finding.index].code}): {finding.edit}: {finding.reason}"
        for finding in findings
        if finding.severity == "error"
    )
    try:
        hccs = tuple(hcc_categories(codes=[f.code for f in final]))
    except HccMappingUnavailable:
        hccs = ()
    decision = Decision.QUERY if reasons or blocking(findings) or not final else Decision.AUTO
    if not final:
        reasons.append("diagnoses: nothing could be coded")
    return EncounterDiagnoses(tuple(final), decision, tuple(reasons), findings, hccs)
