"""Computer-assisted coding of one documented diagnosis: ranked ICD-10-CM candidates with a
confidence and the evidence, and the decision to code it automatically or ask a coder.

Entry points: `suggest_diagnoses` (free text, a SNOMED CT code with its display, or an
ICD-10-CM code to verify) and `statement_result` (the JSON object `claimflow code --json`
prints per statement).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

from claimflow_coding.domain.cac.refine import (
    description,
    description_tokens,
    icd,
    laterality_unstated,
    needs_seventh,
    refine,
    seventh_character,
)
from claimflow_coding.domain.cac.snomed import SNOMED_SYSTEMS, snomed_mapping
from claimflow_coding.domain.cac.terms import Query, TermIndex, term_index
from claimflow_coding.domain.cac.text import (
    NEGATED,
    Reading,
    Slot,
    read_statement,
    rewrite,
    slots_of,
    stem,
)
from claimflow_coding.domain.edits import never_first_listed, note_spans
from claimflow_coding.domain.icd10 import check_diagnosis, dotted
from claimflow_coding.domain.reasons import Reason

DEFAULT_THRESHOLD = 0.80
COMBINATIONS_FILE = "cac_combinations.csv"
_SEX_WORDS = {"F": ("female",), "M": ("male",)}
_EPISODE = re.compile(r"\b(initial|subsequent|sequela)\b")
MIN_CANDIDATES = 5
WIDE_SEARCH = 200
ICD10CM_SYSTEMS = frozenset(
    {"icd10cm", "icd-10-cm", "http://hl7.org/fhir/sid/icd-10-cm", "2.16.840.1.113883.6.90"}
)

Setting = Literal["outpatient", "inpatient"]


class Decision(StrEnum):
    AUTO = "auto"
    QUERY = "query"


@dataclass(frozen=True)
class Evidence:
    """Why a code is proposed: which source matched and its wording."""

    source: str  # tabular | inclusion | index | index-see | neoplasm | drug | snomed-map | given
    term: str

    def as_text(self) -> str:
        return f"{self.source}: {self.term}"


@dataclass(frozen=True)
class Candidate:
    code: str  # with the dot, e.g. E11.65
    description: str
    confidence: float
    evidence: tuple[Evidence, ...]
    how: str = "cac"  # cac | snomed-map | given


@dataclass(frozen=True)
class Suggestion:
    text: str | None
    candidates: tuple[Candidate, ...]
    decision: Decision
    reasons: tuple[str, ...]
    threshold: float
    uncertain: bool = False
    symptom_coded: bool = False
    # Codes the best candidate's "use additional code" note calls for and the statement
    # documents (the CKD stage after I12.9 or E11.22, the heart failure type after I11.0).
    additional: tuple[Candidate, ...] = ()
    # Set when the documented concept is deliberately not coded (a SNOMED CT finding such as
    # "Full-time employment" that no ICD-10-CM code describes): why.
    not_coded: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def suggest_diagnoses(
    *,
    text: str | None = None,
    system: str | None = None,
    code: str | None = None,
    setting: Setting = "outpatient",
    threshold: float = DEFAULT_THRESHOLD,
    patient_age: int | None = None,
    patient_sex: str | None = None,
    alternatives: bool = True,
) -> Suggestion:
    """Rank ICD-10-CM codes for one documented diagnosis and decide auto-code or query.

    `system`/`code` may carry an ICD-10-CM code to verify or a SNOMED CT concept (its display
    text in `text` is the fallback when the curated map lacks it). Age and sex are accepted for
    the caller's convenience; the compliance edits (`edits.check_codes`) apply them. Without
    `alternatives`, a concept the curated map resolves is not searched again for runners-up
    (the encounter pipeline asks for them only when a human will look)."""
    del patient_age
    normalized_system = (system or "").strip().lower()
    if not code and text and _looks_like_icd(text.strip()) and check_diagnosis(text).valid:
        # A statement that is itself an ICD-10-CM code ("E11.65") is a code to verify.
        code, text = text.strip(), None
    if code and (
        normalized_system in ICD10CM_SYSTEMS or (not normalized_system and _looks_like_icd(code))
    ):
        given = _verify_given(code, text=text, setting=setting, threshold=threshold)
        if given is not None:
            return given
    if code and normalized_system in SNOMED_SYSTEMS:
        mapped = snomed_mapping(code)
        if mapped is not None and not mapped.icd10cm:
            return Suggestion(
                text=text,
                candidates=(),
                decision=Decision.AUTO,
                reasons=(),
                threshold=threshold,
                not_coded=f"{code} {mapped.display}: "
                + mapped.rationale.removeprefix("not coded: "),
            )
        if mapped is not None:
            candidate = Candidate(
                code=dotted(mapped.icd10cm),
                description=description(mapped.icd10cm),
                confidence=0.99,
                evidence=(Evidence("snomed-map", f"{code} {mapped.display}: {mapped.rationale}"),),
                how="snomed-map",
            )
            rest = (
                _code_text(text or mapped.display, setting, threshold).candidates
                if alternatives
                else ()
            )
            others = tuple(c for c in rest if c.code != candidate.code)
            reasons = (
                ()
                if candidate.confidence >= threshold
                else (
                    Reason(
                        f"confidence {candidate.confidence:.2f} below the threshold "
                        f"{threshold:.2f}",
                        "CAC-LOW-CONFIDENCE",
                    ),
                )
            )
            return Suggestion(
                text=text,
                candidates=(candidate, *others)[: max(MIN_CANDIDATES, 1 + len(others))],
                decision=Decision.QUERY if reasons else Decision.AUTO,
                reasons=reasons,
                threshold=threshold,
            )
    if not (text or "").strip():
        return Suggestion(
            text=text,
            candidates=(),
            decision=Decision.QUERY,
            reasons=(Reason("no diagnosis text or known code to code from", "DX-MISSING"),),
            threshold=threshold,
        )
    return _code_text(text or "", setting, threshold, patient_sex)


def statement_result(text: str, *, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """The object `claimflow code --json` prints for one statement: candidates best first
    (at least five where there are five), codes with the dot."""
    suggestion = suggest_diagnoses(text=text, threshold=threshold)
    return {
        "text": text,
        "candidates": [
            {
                "code": c.code,
                "description": c.description,
                "confidence": round(c.confidence, 4),
                "evidence": [e.as_text() for e in c.evidence],
            }
            for c in suggestion.candidates
        ],
        "decision": suggestion.decision.value,
        "reasons": list(suggestion.reasons),
    }


def _looks_like_icd(code: str) -> bool:
    bare = code.replace(".", "").strip().upper()
    return 3 <= len(bare) <= 7 and bare[0].isalpha() and bare[1].isdigit()


def _verify_given(code: str, *, text: str | None, setting: Setting, threshold: float):
    check = check_diagnosis(code)
    if check.ok:
        candidate = Candidate(
            code=dotted(check.code),
            description=check.description or "",
            confidence=1.0,
            evidence=(Evidence("given", dotted(check.code)),),
            how="given",
        )
        return Suggestion(
            text=text,
            candidates=(candidate,),
            decision=Decision.AUTO,
            reasons=(),
            threshold=threshold,
        )
    if check.valid or text:
        # A valid but non-billable code (or an unknown one with its wording): search under it.
        suggestion = _code_text(text or check.description or "", setting, threshold)
        within = tuple(
            c for c in suggestion.candidates if c.code.replace(".", "").startswith(check.code)
        )
        ordered = within + tuple(c for c in suggestion.candidates if c not in within)
        return Suggestion(
            text=text,
            candidates=ordered,
            decision=Decision.QUERY,
            reasons=(Reason(f"documented code {code.strip()}: {check.problem}", check.rule or ""),),
            threshold=threshold,
        )
    return Suggestion(
        text=text,
        candidates=(),
        decision=Decision.QUERY,
        reasons=(Reason(f"documented code: {check.problem}", check.rule or "ICD-INVALID"),),
        threshold=threshold,
    )


@dataclass
class _Ranked:
    code: str
    score: float
    recall: float
    precision: float
    evidence: list[Evidence]
    query_reasons: list[Reason]


def _code_text(
    text: str, setting: Setting, threshold: float, patient_sex: str | None = None
) -> Suggestion:
    reading = read_statement(text)
    reasons: list[str] = []
    uncertain = False
    symptom_coded = False
    if reading.negated:
        return Suggestion(
            text=text,
            candidates=(),
            decision=Decision.QUERY,
            reasons=(
                Reason(
                    "the statement documents the condition as absent or ruled out", "CAC-NEGATED"
                ),
            ),
            threshold=threshold,
        )
    search_text = reading.certain
    if reading.uncertain:
        if setting == "inpatient":
            # Inpatient: an uncertain diagnosis at discharge is coded as if it existed (II.H).
            search_text = f"{reading.certain} {reading.uncertain}".strip()
        elif reading.certain:
            symptom_coded = True  # outpatient: code the sign or symptom instead (IV.H)
        else:
            search_text = reading.uncertain
            uncertain = True
            reasons.append(
                Reason(
                    "uncertain diagnosis (rule out / suspected / probable) in an outpatient "
                    "setting, with no sign or symptom documented to code instead",
                    "CAC-UNCERTAIN",
                )
            )
    index = term_index()
    slots = _slots(search_text, reading, sex=patient_sex)
    ranked = _rank(slots, reading, index)
    candidates = _confidences(ranked)
    if not candidates:
        reasons.append(Reason("no ICD-10-CM term matches the statement", "CAC-NO-MATCH"))
    else:
        best_reasons = ranked[0].query_reasons
        reasons.extend(best_reasons)
        if candidates[0].confidence < threshold:
            reasons.append(
                Reason(
                    f"confidence {candidates[0].confidence:.2f} below the threshold "
                    f"{threshold:.2f}",
                    "CAC-LOW-CONFIDENCE",
                )
            )
    additional = _additional_codes(candidates[0].code, slots) if candidates else ()
    return Suggestion(
        text=text,
        candidates=tuple(candidates),
        decision=Decision.QUERY if reasons else Decision.AUTO,
        reasons=tuple(reasons),
        threshold=threshold,
        uncertain=uncertain,
        symptom_coded=symptom_coded,
        additional=additional,
    )


ADDITIONAL_MIN_SCORE = 0.6
ADDITIONAL_MAX_LEAVES = 300


def _additional_codes(code: str, slots: tuple[Slot, ...]) -> tuple[Candidate, ...]:
    """The code a 'use additional code' note of `code` names, when the statement's words
    that `code` does not explain describe one of them."""
    bare = code.replace(".", "")
    stem_code = icd.get_parent(bare).replace(".", "") if len(bare) == 7 else bare
    said_by_code = description_tokens(stem_code)
    residual = tuple(
        s for s in slots if not s.implied and not (s.stems & said_by_code) and s.factor >= 1
    )
    if not residual:
        return ()
    query = Query.of(residual, term_index())
    best: tuple[float, str] | None = None
    for leaf in _note_leaves(bare):
        recall, _, score = query.similarity(description_tokens(leaf), frozenset())
        if recall > 0 and score >= ADDITIONAL_MIN_SCORE and (best is None or score > best[0]):
            best = (score, leaf)
    if best is None:
        return ()
    return (
        Candidate(
            code=dotted(best[1]),
            description=description(best[1]),
            confidence=round(best[0], 4),
            evidence=(Evidence("use-additional-code", f"note on {code}"),),
        ),
    )


@cache
def _note_leaves(code: str) -> tuple[str, ...]:
    leaves: list[str] = []
    for span in note_spans(code, "use_additional"):
        for category in _categories_between(span.low[:3], span.high[:3]):
            for item in (category, *icd.get_descendants(category)):
                bare = item.replace(".", "")
                if icd.is_leaf(item) and span.covers(bare) and not needs_seventh(bare):
                    leaves.append(bare)
                if len(leaves) > ADDITIONAL_MAX_LEAVES:
                    return ()
    return tuple(dict.fromkeys(leaves))


def _categories_between(low: str, high: str) -> list[str]:
    if low == high:
        return [low] if icd.is_valid_item(low) else []
    letter = low[0]
    return [
        f"{letter}{n:02d}"
        for n in range(int(low[1:3]), int(high[1:3]) + 1)
        if low[1:3].isdigit() and high[1:3].isdigit() and icd.is_valid_item(f"{letter}{n:02d}")
    ]


def _slots(search_text: str, reading: Reading, *, sex: str | None = None) -> tuple[Slot, ...]:
    slots = list(slots_of(search_text, history=reading.history))
    if reading.laterality & {"left", "right"}:
        slots.append(Slot(frozenset({stem("unilateral")}), "unilateral", implied=True))
    # Sex-specific wording ("female breast") is implied by the patient's sex, or by nothing
    # when it is unknown; the compliance edits catch a code of the other sex.
    for word in _SEX_WORDS.get((sex or "").strip().upper()[:1], ("female", "male")):
        slots.append(Slot(frozenset({stem(word)}), word, implied=True))
    index = term_index()
    corrected = []
    for slot in slots:
        if slot.implied or any(index.known(s) for s in slot.stems):
            corrected.append(slot)
            continue
        guess = index.correct(slot.word)
        corrected.append(Slot(frozenset({guess}), slot.word) if guess else slot)
    return tuple(corrected)


def _rank(slots: tuple[Slot, ...], reading: Reading, index: TermIndex) -> list[_Ranked]:
    hits = index.search(slots)
    if len({hit.code for hit in hits}) < MIN_CANDIDATES * 2:
        # Few distinct codes among the best terms (many wordings of one code): look further
        # so the coder still sees alternatives.
        hits = index.search(slots, limit=WIDE_SEARCH)
    query = Query.of(slots, index)
    by_code: dict[str, _Ranked] = {}
    refined_cache: dict[tuple[str, frozenset[str], frozenset[str]], Any] = {}
    for hit in hits:
        required, free = index.tokens_of(hit.term)
        key = (hit.code, required, free)
        refined = refined_cache.get(key)
        if refined is None:
            refined = refined_cache[key] = refine(hit.code, required, free, query)
        # The Alphabetic Index is the coder's entry point: on a tie it beats tabular wording;
        # a term that says more than the statement in negated scopes ("not due to ...") is
        # less general than the plain entry.
        bonus = 0.002 if hit.source.startswith("index") else 0.0
        negated = sum(1 for t in required | free if t.startswith(NEGATED) and t not in query.said)
        # The code's own title saying what the statement says is evidence too.
        title = query.similarity(description_tokens(refined.code), frozenset())[2]
        score = refined.score + bonus - min(0.02, 0.004 * negated) + TITLE_WEIGHT * title
        evidence = Evidence(hit.source, hit.text)
        current = by_code.get(refined.code)
        if current is None:
            by_code[refined.code] = _Ranked(
                refined.code, score, refined.recall, refined.precision, [evidence], []
            )
        elif score > current.score:
            current.score, current.recall, current.precision = (
                score,
                refined.recall,
                refined.precision,
            )
            current.evidence.insert(0, evidence)
        elif len(current.evidence) < 3:
            current.evidence.append(evidence)
    _apply_combinations(by_code, query)
    _apply_chapter_context(by_code, query)
    if len(by_code) > 1:
        # BMI, external-cause and manifestation codes go with a condition, never alone in
        # first place (I.B.14, I.C.20, I.A.13): the condition the statement names leads.
        for item in by_code.values():
            if never_first_listed(item.code):
                item.score *= NEVER_FIRST_DEMOTION
    if reading.history:
        # "History of" a condition that no longer exists is a personal-history code (Z85-Z87
        # and the like, guideline I.C.21.c.4); the condition's own code needs confirmation.
        for item in by_code.values():
            if not _is_history_code(item.code):
                item.score *= HISTORY_MISMATCH
                item.query_reasons.append(
                    Reason(
                        "documented as history of: confirm whether the condition is current",
                        "CAC-HISTORY",
                    )
                )
    ranked = sorted(by_code.values(), key=lambda r: -r.score)
    for item in ranked[: MIN_CANDIDATES * 2]:
        _complete(item, reading)
    return ranked


def _apply_combinations(by_code: dict[str, _Ranked], query: Query) -> None:
    """Guideline combination codes (hypertension with heart failure or CKD) go first when
    the statement documents both conditions."""
    for rule in _combinations():
        if not rule.applies(query.said):
            continue
        best = max((r.score for r in by_code.values()), default=0.0)
        evidence = Evidence("guideline", rule.guideline)
        item = by_code.get(rule.code)
        if item is None:
            by_code[rule.code] = _Ranked(rule.code, best + 0.01, 1.0, 1.0, [evidence], [])
        else:
            item.score = best + 0.01
            item.evidence.insert(0, evidence)


# Chapter 15 codes are for documented pregnancies (I.C.15.a) and chapter 16 codes for
# conditions of the perinatal period (I.C.16.a): without a word of that context in the
# statement, such codes are demoted below codes that need none.
_CHAPTER_CONTEXT = (
    (
        "O",
        frozenset(
            stem(w)
            for w in [
                "pregnancy",
                "pregnant",
                "gestation",
                "gestational",
                "trimester",
                "prenatal",
                "antepartum",
                "postpartum",
                "puerperal",
                "puerperium",
                "delivery",
                "labor",
                "childbirth",
                "eclampsia",
                "preeclampsia",
                "gravid",
                "gravidarum",
                "obstetric",
                "abortion",
                "miscarriage",
                "ectopic",
                "tubal",
                "lactation",
                "firsttrimester",
                "secondtrimester",
                "thirdtrimester",
                "maternal",
            ]
        ),
    ),
    (
        "P",
        frozenset(
            stem(w)
            for w in [
                "newborn",
                "neonatal",
                "neonate",
                "perinatal",
                "birth",
                "fetal",
                "fetus",
                "infant",
                "preterm",
                "premature",
                "prematurity",
                "congenital",
            ]
        ),
    ),
)
CHAPTER_CONTEXT_MISSING = 0.9
NEVER_FIRST_DEMOTION = 0.92


def _apply_chapter_context(by_code: dict[str, _Ranked], query: Query) -> None:
    for prefix, context in _CHAPTER_CONTEXT:
        if query.said & context:
            continue
        for item in by_code.values():
            if item.code.startswith(prefix):
                item.score *= CHAPTER_CONTEXT_MISSING


@dataclass(frozen=True)
class _Combination:
    """A combination code the guidelines presume from conditions documented together."""

    all_of: tuple[frozenset[str], ...]
    none_of: tuple[frozenset[str], ...]
    code: str
    guideline: str

    def applies(self, said: frozenset[str]) -> bool:
        return all(words <= said for words in self.all_of) and not any(
            words <= said for words in self.none_of
        )


def _phrase_stems(phrase: str) -> frozenset[str]:
    return frozenset(stem(w) for w in re.findall(r"[a-z0-9]+", rewrite(phrase)))


@cache
def _combinations() -> tuple[_Combination, ...]:
    text = resources.files("claimflow_coding.domain").joinpath("data", COMBINATIONS_FILE)
    rows = csv.DictReader(text.read_text("utf-8").splitlines())
    return tuple(
        _Combination(
            all_of=tuple(_phrase_stems(p) for p in row["all_of"].split(";") if p.strip()),
            none_of=tuple(_phrase_stems(p) for p in row["none_of"].split(";") if p.strip()),
            code=row["code"].replace(".", "").strip(),
            guideline=row["guideline"].strip(),
        )
        for row in rows
    )


HISTORY_MISMATCH = 0.9
TITLE_WEIGHT = 0.1


def _is_history_code(code: str) -> bool:
    words = description(code).lower()
    return "history" in words or "old" in words.split() or code.startswith(("Z8", "Z9"))


def _complete(item: _Ranked, reading: Reading) -> None:
    """Add the 7th character and the reasons a coder must confirm this code."""
    stem_code = item.code
    seventh = seventh_character(stem_code, reading)
    if seventh is not None:
        item.code = seventh.code
        if not seventh.documented:
            what = "episode of care" if _EPISODE.search(seventh.meaning) else "7th character"
            item.query_reasons.append(
                Reason(
                    f"{what} not documented: 7th character {seventh.character} "
                    f"({seventh.meaning}) assumed",
                    "ICD-7TH-CHARACTER",
                )
            )
    if laterality_unstated(stem_code, reading):
        item.query_reasons.append(
            Reason("laterality not documented: unspecified side code assigned", "CAC-LATERALITY")
        )


def _confidences(ranked: list[_Ranked]) -> list[Candidate]:
    """Confidence: the match quality of the best term, lowered when the runner-up is close."""
    out: list[Candidate] = []
    for position, item in enumerate(ranked[: max(MIN_CANDIDATES, 5)]):
        following = ranked[position + 1].score if position + 1 < len(ranked) else 0.0
        margin = max(0.0, item.score - following) if position == 0 else 0.0
        quality = min(1.0, item.score / (1 + TITLE_WEIGHT))
        confidence = quality * (0.7 + 0.3 * min(1.0, margin / 0.05))
        if position > 0:
            confidence = min(confidence, out[0].confidence if out else confidence)
        out.append(
            Candidate(
                code=dotted(item.code),
                description=description(item.code),
                confidence=round(confidence, 4),
                evidence=tuple(item.evidence[:3]),
            )
        )
    return out
