"""ICD-10-CM rules over the packaged code set (simple-icd-10-cm): validity, billability, the
7th character and Excludes1 notes. Lookups are cached because every coded encounter hits them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from itertools import combinations

from claimflow_shared.codes import normalize_icd10cm

with warnings.catch_warnings():
    # The package loads its tables through a deprecated importlib.resources call at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd

NOT_A_CODE = "not an ICD-10-CM code"
NOT_BILLABLE = "not billable: code to the highest specificity"

_MONTHS = {
    month: number
    for number, month in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
}
_RELEASE_FILE = re.compile(r"^icd10c-tabular-([A-Za-z]+)-([0-9]{1,2})-([0-9]{4})\.xml$")


def _release_date() -> str:
    """The effective date of the packaged release, read from the name of its tabular file."""
    for entry in resources.files("simple_icd_10_cm.data").iterdir():
        found = _RELEASE_FILE.match(entry.name)
        if found and found.group(1) in _MONTHS:
            month, day, year = _MONTHS[found.group(1)], int(found.group(2)), found.group(3)
            return f"{year}-{month:02d}-{day:02d}"
    return f"simple-icd-10-cm {metadata.version('simple-icd-10-cm')}"


ICD10CM_VERSION = _release_date()


def dotted(code: str) -> str:
    """E119 -> E11.9, the way coders read codes."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


@dataclass(frozen=True)
class DiagnosisCheck:
    code: str
    valid: bool
    billable: bool
    description: str | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def rule(self) -> str | None:
        """The edit a failed check is reported under (the worklist filters on it)."""
        if self.problem is None:
            return None
        if "7th character" in self.problem:
            return "ICD-7TH-CHARACTER"
        return "ICD-NOT-BILLABLE" if self.valid else "ICD-INVALID"


@dataclass(frozen=True)
class Excludes1Conflict:
    """`code` sits under an Excludes1 note (on `noted_at`) that names `excluded`."""

    code: str
    excluded: str
    noted_at: str
    note: str

    @property
    def problem(self) -> str:
        return (
            f"Excludes1: {dotted(self.code)} and {dotted(self.excluded)} cannot be coded together "
            f"({self.noted_at} excludes '{self.note}')"
        )


def check_diagnosis(code: str) -> DiagnosisCheck:
    """Is this a valid, billable ICD-10-CM code? Accepts codes with or without the dot."""
    try:
        normalized = normalize_icd10cm(code)
    except ValueError:
        return DiagnosisCheck(str(code).strip().upper(), False, False, None, NOT_A_CODE)
    return _check_normalized(normalized)


@lru_cache(maxsize=65_536)
def _check_normalized(code: str) -> DiagnosisCheck:
    if not _is_diagnosis_code(code):
        return DiagnosisCheck(code, False, False, None, _unknown_code_problem(code))
    description = icd.get_description(code)
    if icd.is_leaf(code):
        return DiagnosisCheck(code, True, True, description, None)
    return DiagnosisCheck(code, True, False, description, _specificity_problem(code))


def _is_diagnosis_code(code: str) -> bool:
    # Chapters ("4") and blocks ("E08-E13") are valid items in the tree, but never diagnoses.
    return icd.is_valid_item(code) and icd.is_category_or_subcategory(code)


def _unknown_code_problem(code: str) -> str:
    # A common slip: the 7th character written without the X placeholders before it.
    stem, seventh = code[:-1], code[-1]
    if 3 <= len(stem) < 6 and seventh.isalpha():
        candidate = stem.ljust(6, "X") + seventh
        if _is_diagnosis_code(candidate) and icd.is_leaf(candidate):
            return f"{NOT_A_CODE}: the 7th character needs placeholder X, as in {dotted(candidate)}"
    return NOT_A_CODE


def _specificity_problem(code: str) -> str:
    children = icd.get_children(code)
    if children and all(icd.is_extended_subcategory(child) for child in children):
        options = ", ".join(child[-1] for child in children)
        example = children[0].replace(".", "")
        return f"{NOT_BILLABLE}; a 7th character is required ({options}), e.g. {dotted(example)}"
    if icd.get_seven_chr_def(code, search_in_ancestors=True):
        return f"{NOT_BILLABLE}; codes in this category also need a 7th character"
    return NOT_BILLABLE


@dataclass(frozen=True)
class _Span:
    """Codes an Excludes1 note names: one code and its children, or a range, possibly
    narrowed to certain characters after the category (`E08-E13 with .43`)."""

    low: str
    high: str
    tail_low: str = ""
    tail_high: str = ""

    def covers(self, code: str) -> bool:
        if not (self.low <= code[: len(self.low)] and code[: len(self.high)] <= self.high):
            return False
        if not self.tail_low:
            return True
        tail = code[3:]
        return self.tail_low <= tail[: len(self.tail_low)] and tail[: len(self.tail_high)] <= (
            self.tail_high
        )


_REF = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?-?"
_TAIL = r"\.([0-9A-Z]{1,4})(?:-\.([0-9A-Z]{1,4}))?"
_REFERENCE = re.compile(rf"^({_REF})(?:-({_REF}))?(?:\s+with\s+(.+))?$")
_TAIL_QUALIFIER = re.compile(rf"^{_TAIL}$")
_PARENTHESES = re.compile(r"\(([^()]*)\)")


def _bare(reference: str) -> str:
    return reference.replace(".", "").rstrip("-")


def _parse_reference(text: str) -> _Span | None:
    found = _REFERENCE.match(text.strip())
    if not found:
        return None
    first, last, qualifier = found.groups()
    span = _Span(_bare(first), _bare(last or first))
    if qualifier is None:
        return span
    tail = _TAIL_QUALIFIER.match(qualifier.strip())
    if not tail:
        # Qualifiers such as "with 5th character 9" are left to the coder, not guessed at.
        return None
    return _Span(span.low, span.high, tail.group(1), tail.group(2) or tail.group(1))


def _spans_in_note(note: str) -> tuple[_Span, ...]:
    spans = []
    for inside in _PARENTHESES.findall(note):
        for part in inside.split(","):
            span = _parse_reference(part)
            if span is not None:
                spans.append(span)
    return tuple(spans)


@lru_cache(maxsize=16_384)
def _excludes1_notes(code: str) -> tuple[tuple[str, str, tuple[_Span, ...]], ...]:
    """Every Excludes1 note that governs `code`: its own and those of its ancestors (a note
    on a category or block applies to every code under it)."""
    notes = []
    seen = set()
    for owner in (code, *icd.get_ancestors(code)):
        if owner in seen:
            continue
        seen.add(owner)
        for note in icd.get_excludes1(owner):
            spans = _spans_in_note(note)
            if spans:
                notes.append((_owner_name(owner), note, spans))
    return tuple(notes)


def _owner_name(owner: str) -> str:
    if owner.isdigit():
        return f"chapter {owner}"
    return owner if "-" in owner or "." in owner else dotted(owner)


@lru_cache(maxsize=65_536)
def _one_way_conflict(code: str, other: str) -> Excludes1Conflict | None:
    for owner, note, spans in _excludes1_notes(code):
        for span in spans:
            # A note never excludes the code it is written under; guards odd ranges.
            if span.covers(other) and not span.covers(code):
                return Excludes1Conflict(code, other, owner, note)
    return None


def excludes1_conflict(first: str, second: str) -> Excludes1Conflict | None:
    """The Excludes1 note that forbids coding these two together, looked up both ways."""
    a, b = check_diagnosis(first), check_diagnosis(second)
    if not (a.valid and b.valid) or a.code == b.code:
        return None
    return _one_way_conflict(a.code, b.code) or _one_way_conflict(b.code, a.code)


def excludes1_conflicts(codes: list[str]) -> list[tuple[int, int, Excludes1Conflict]]:
    """Every pair (by position) of these codes that an Excludes1 note forbids."""
    found = []
    for (i, first), (j, second) in combinations(enumerate(codes), 2):
        conflict = excludes1_conflict(first, second)
        if conflict is not None:
            found.append((i, j, conflict))
    return found
