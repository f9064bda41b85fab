"""ICD-10-CM compliance edits over the final diagnosis codes of one encounter: exists and is
billable, 7th character, Excludes1 pairs, age and sex, sequencing (manifestation and
infectious-agent codes never first, code-first notes, external-cause and first-listed-only Z
codes), duplicates. Each edit is one small `check_*` function over data tables in `data/`.

Findings name the position (`diagnoses[i].code`), an edit code and a reason a coder reads; they
never carry patient data. Severity `error` blocks auto-coding, `warning` is shown to the coder.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

from claimflow_coding.domain.icd10 import (
    _spans_in_note,
    check_diagnosis,
    dotted,
    excludes1_conflicts,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd

Severity = Literal["error", "warning"]
_OPTIONAL_NOTE = re.compile(r"\bif (applicable|known|present|desired)\b", re.IGNORECASE)
Setting = Literal["outpatient", "inpatient"]


@dataclass(frozen=True)
class EditFinding:
    edit: str
    index: int
    severity: Severity
    reason: str

    @property
    def field(self) -> str:
        return f"diagnoses[{self.index}].code"


@dataclass(frozen=True)
class Encounter:
    """What the edits look at: the final codes in order (no dot) and the patient context."""

    codes: tuple[str, ...]
    valid: tuple[bool, ...]
    age: int | None
    sex: str | None
    setting: Setting


@dataclass(frozen=True)
class _Range:
    low: str
    high: str

    def covers(self, code: str) -> bool:
        return self.low <= code[: len(self.low)] and code[: len(self.high)] <= self.high


def _table(name: str) -> list[dict[str, str]]:
    text = resources.files("claimflow_coding.domain").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _bare(code: str) -> str:
    return code.replace(".", "").strip().upper()


@dataclass(frozen=True)
class _AgeRule:
    span: _Range
    low: int
    high: int
    category: str
    rationale: str


@cache
def _age_rules() -> tuple[_AgeRule, ...]:
    return tuple(
        _AgeRule(
            _Range(_bare(r["low"]), _bare(r["high"])),
            int(r["min_age"]),
            int(r["max_age"]),
            r["category"],
            r["rationale"],
        )
        for r in _table("edit_age_ranges.csv")
    )


@cache
def _sex_rules() -> tuple[tuple[_Range, str, str], ...]:
    ranges = [
        (_Range(_bare(r["low"]), _bare(r["high"])), r["sex"], r["rationale"])
        for r in _table("edit_sex_ranges.csv")
    ]
    worded = [
        (_Range(r["code"], r["code"]), r["sex"], f"the code title says {r['title']!r}")
        for r in _table("icd10cm_sex_words.csv")
    ]
    return tuple(ranges + worded)


# The rules that cover a code, looked up once per code: every encounter asks again.
@lru_cache(maxsize=65_536)
def _age_rules_of(code: str) -> tuple[_AgeRule, ...]:
    return tuple(rule for rule in _age_rules() if rule.span.covers(code))


@lru_cache(maxsize=65_536)
def _sex_rules_of(code: str) -> tuple[tuple[str, str], ...]:
    return tuple((sex, why) for span, sex, why in _sex_rules() if span.covers(code))


@cache
def _never_first_codes() -> dict[str, str]:
    return {r["code"]: r["kind"] for r in _table("icd10cm_never_first.csv")}


@cache
def _first_listed_rules() -> tuple[tuple[_Range, str, str], ...]:
    return tuple(
        (_Range(_bare(r["low"]), _bare(r["high"])), r["rule"], r["rationale"])
        for r in _table("edit_first_listed.csv")
    )


def check_billable(encounter: Encounter) -> list[EditFinding]:
    findings = []
    for i, code in enumerate(encounter.codes):
        check = check_diagnosis(code)
        if check.ok:
            continue
        findings.append(EditFinding(check.rule or "ICD-INVALID", i, "error", check.problem or ""))
    return findings


def check_duplicates(encounter: Encounter) -> list[EditFinding]:
    seen: dict[str, int] = {}
    findings = []
    for i, code in enumerate(encounter.codes):
        if code in seen:
            findings.append(
                EditFinding(
                    "ICD-DUPLICATE",
                    i,
                    "error",
                    f"{dotted(code)} is already listed at diagnoses[{seen[code]}]",
                )
            )
        else:
            seen[code] = i
    return findings


def check_excludes1(encounter: Encounter) -> list[EditFinding]:
    listed = [c for c, ok in zip(encounter.codes, encounter.valid, strict=True) if ok]
    positions = [i for i, ok in enumerate(encounter.valid) if ok]
    return [
        EditFinding("ICD-EXCLUDES1", positions[later], "error", conflict.problem)
        for _, later, conflict in excludes1_conflicts(listed)
    ]


def check_age(encounter: Encounter) -> list[EditFinding]:
    if encounter.age is None:
        return []
    findings = []
    for i, code in enumerate(encounter.codes):
        for rule in _age_rules_of(code):
            if not rule.low <= encounter.age <= rule.high:
                severity: Severity = "warning" if rule.category == "newborn" else "error"
                findings.append(
                    EditFinding(
                        f"ICD-AGE-{rule.category.upper()}",
                        i,
                        severity,
                        f"{dotted(code)} is a {rule.category} code (ages {rule.low}-{rule.high})"
                        f" and the patient's age is outside that range: {rule.rationale}",
                    )
                )
                break
    return findings


def check_sex(encounter: Encounter) -> list[EditFinding]:
    sex = (encounter.sex or "").strip().upper()[:1]
    if sex not in {"F", "M"}:
        return []
    findings = []
    for i, code in enumerate(encounter.codes):
        for code_sex, rationale in _sex_rules_of(code):
            if code_sex != sex:
                who = "female" if code_sex == "F" else "male"
                findings.append(
                    EditFinding(
                        "ICD-SEX",
                        i,
                        "error",
                        f"{dotted(code)} is for {who} patients only and the patient's sex "
                        f"differs ({rationale})",
                    )
                )
                break
    return findings


def check_first_listed(encounter: Encounter) -> list[EditFinding]:
    """Codes that may never be first-listed, and Z codes that may only be first-listed."""
    findings = []
    for i, code in enumerate(encounter.codes):
        kind = _never_first(code)
        if i == 0 and kind:
            findings.append(
                EditFinding(
                    f"ICD-{kind.upper()}-FIRST",
                    i,
                    "error",
                    f"{dotted(code)} is a {kind} code and may never be first-listed: sequence "
                    "the underlying condition first",
                )
            )
        for span, rule, rationale in _first_listed_rules():
            if not span.covers(code):
                continue
            if rule == "never-first" and i == 0:
                findings.append(
                    EditFinding("ICD-NEVER-FIRST", i, "error", f"{dotted(code)}: {rationale}")
                )
            elif rule == "first-only" and i > 0:
                findings.append(
                    EditFinding(
                        "ICD-FIRST-LISTED-ONLY",
                        i,
                        "error",
                        f"{dotted(code)} may only be the first-listed diagnosis: {rationale}",
                    )
                )
            break
    return findings


def check_code_first(encounter: Encounter) -> list[EditFinding]:
    """A 'code first' note names the condition to sequence before this code."""
    findings = []
    for i, code in enumerate(encounter.codes):
        if not encounter.valid[i]:
            continue
        spans = note_spans(code, "code_first")
        if not spans:
            continue
        before = [c for c in encounter.codes[:i] if any(s.covers(c) for s in spans)]
        after = [c for c in encounter.codes[i + 1 :] if any(s.covers(c) for s in spans)]
        if before:
            continue
        if after:
            findings.append(
                EditFinding(
                    "ICD-CODE-FIRST",
                    i,
                    "error",
                    f"{dotted(code)} must follow {dotted(after[0])}: its 'code first' note "
                    "sequences the underlying condition first",
                )
            )
        elif _never_first(code):
            findings.append(
                EditFinding(
                    "ICD-CODE-FIRST",
                    i,
                    "warning",
                    f"{dotted(code)} has a 'code first' note and no underlying condition it "
                    "names is coded on this encounter",
                )
            )
    return findings


def check_use_additional(encounter: Encounter) -> list[EditFinding]:
    """'Use additional code' notes whose required companion is missing (a warning: many
    notes say 'if applicable')."""
    findings = []
    for i, code in enumerate(encounter.codes):
        if not encounter.valid[i]:
            continue
        spans = note_spans(code, "use_additional")
        if spans and not any(s.covers(c) for s in spans for c in encounter.codes if c != code):
            names = (
                dotted(s.low) + (f"-{dotted(s.high)}" if s.high != s.low else "") for s in spans
            )
            listed = ", ".join(list(dict.fromkeys(names))[:4])
            findings.append(
                EditFinding(
                    "ICD-USE-ADDITIONAL",
                    i,
                    "warning",
                    f"{dotted(code)} has a 'use additional code' note ({listed}) and none is "
                    "coded; add it when the documentation supports it",
                )
            )
    return findings


EDITS: tuple[Callable[[Encounter], list[EditFinding]], ...] = (
    check_billable,
    check_duplicates,
    check_excludes1,
    check_age,
    check_sex,
    check_first_listed,
    check_code_first,
    check_use_additional,
)


def check_codes(
    *,
    codes: Sequence[str],
    age: int | None = None,
    sex: str | None = None,
    setting: Setting = "outpatient",
) -> list[EditFinding]:
    """Every compliance edit over one encounter's final diagnoses, in their listed order."""
    bare = tuple(_bare(c) for c in codes)
    valid = tuple(check_diagnosis(c).valid for c in bare)
    encounter = Encounter(bare, valid, age, sex, setting)
    findings: list[EditFinding] = []
    for edit in EDITS:
        findings.extend(edit(encounter))
    return sorted(findings, key=lambda f: (f.index, f.severity != "error", f.edit))


def code_first_order(codes: Sequence[str]) -> tuple[list[int], list[str]]:
    """The order the "code first" convention asks for (I.A.13): a code whose note names a
    condition listed after it moves to just after that condition, so a manifestation never
    precedes its etiology. Returns positions into `codes` in the new order, and a note per
    move; codes without such a note keep their relative order."""
    bare = [_bare(c) for c in codes]
    spans = [note_spans(c, "code_first") if check_diagnosis(c).valid else () for c in bare]
    order = list(range(len(codes)))
    moved: list[str] = []
    for _ in range(len(codes)):
        for position, index in enumerate(order):
            etiology = next(
                (
                    later
                    for later in range(position + 1, len(order))
                    if any(span.covers(bare[order[later]]) for span in spans[index])
                ),
                None,
            )
            if etiology is None:
                continue
            moved.append(
                f"{dotted(bare[index])} moved after {dotted(bare[order[etiology]])}: its 'code "
                "first' note sequences the underlying condition first"
            )
            order.insert(etiology, order.pop(position))
            break
        else:
            break
    return order, moved


def blocking(findings: Sequence[EditFinding]) -> bool:
    return any(f.severity == "error" for f in findings)


def never_first_listed(code: str) -> bool:
    """May this code never be first-listed (manifestation, infectious agent, external cause,
    BMI, weeks of gestation, outcome of delivery)?"""
    bare = _bare(code)
    if _never_first(bare):
        return True
    return any(
        rule == "never-first" and span.covers(bare) for span, rule, _ in _first_listed_rules()
    )


def _never_first(code: str) -> str | None:
    table = _never_first_codes()
    for length in range(len(code), 2, -1):
        kind = table.get(code[:length])
        if kind:
            return kind
    return None


@cache
def note_spans(code: str, which: str) -> tuple:
    """The code ranges a 'code first' / 'use additional code' note of this code (or of its
    category) names, as parsed references."""
    getter = icd.get_code_first if which == "code_first" else icd.get_use_additional_code
    spans = []
    for owner in (code, *icd.get_ancestors(code)):
        if not icd.is_category_or_subcategory(owner):
            continue
        note = getter(owner)
        if which == "use_additional" and note and _OPTIONAL_NOTE.search(note):
            continue  # "if applicable" / "if known": nothing to ask for when absent
        if note:
            spans.extend(_spans_in_note(note.replace("\n", ", ")))
            if spans:
                break
    return tuple(spans)
