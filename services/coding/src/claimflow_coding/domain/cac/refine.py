"""Specificity rules: from a matched term to a billable code.

A term often names a category (`S52.5-`); the coder walks down the tabular, at each level taking
the child whose own words the statement says, and the "unspecified" child when it says nothing
more (ICD-10-CM guideline I.A.9 and I.B.13). The 7th character comes from the episode of care
(I.C.19.a), with placeholder X filled by the tabular itself; fractures default to closed and
displaced (I.C.19.c.1).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

from claimflow_coding.domain.cac.terms import Query
from claimflow_coding.domain.cac.text import Reading, is_neutral, stem, term_tokens

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd

_LATERAL = frozenset({stem("left"), stem("right")})
_SIDES = frozenset({stem("left"), stem("right"), stem("bilateral")})
CHILD_WORDING_WEIGHT = 0.25


@lru_cache(maxsize=131_072)
def description(code: str) -> str:
    return icd.get_description(code)


@lru_cache(maxsize=131_072)
def description_tokens(code: str) -> frozenset[str]:
    required, _ = term_tokens(description(code))
    return frozenset(required)


@lru_cache(maxsize=131_072)
def needs_seventh(code: str) -> bool:
    """Codes whose children are all 7th-character extensions: the stem the episode completes."""
    children = icd.get_children(code)
    return bool(children) and all(icd.is_extended_subcategory(c) for c in children)


@lru_cache(maxsize=131_072)
def refinable_children(code: str) -> tuple[str, ...]:
    if icd.is_leaf(code) or needs_seventh(code):
        return ()
    return tuple(c.replace(".", "") for c in icd.get_children(code))


@lru_cache(maxsize=16_384)
def seventh_words(code: str) -> frozenset[str]:
    """Words of the 7th-character meanings of a stem when they are not an episode of care
    (eye, stage, fetus, tophus): a statement that says them is describing this code."""
    if not needs_seventh(code):
        return frozenset()
    meanings = icd.get_seven_chr_def(code, search_in_ancestors=True) or {}
    text = " ".join(meanings.values()).lower()
    if _EPISODE_MEANING.search(text):
        return frozenset()
    return frozenset(stem(w) for w in re.findall(r"[a-z0-9]+", text)) - {"of", "or", "the"}


@dataclass(frozen=True)
class Refined:
    code: str  # billable stem (a 7th character may still be due)
    required: frozenset[str]
    free: frozenset[str]
    recall: float
    precision: float
    score: float


def refine(
    code: str,
    required: frozenset[str],
    free: frozenset[str],
    query: Query,
) -> Refined:
    """Walk from `code` down to a billable stem, choosing at each level the child that keeps
    the term most faithful to the statement."""
    recall, precision, score = query.similarity(required, free)
    depth = 0
    while (children := refinable_children(code)) and depth < 4:
        parent_words = description_tokens(code)
        best: tuple[float, int, str, frozenset[str]] | None = None
        unsided = [c for c in children if not description_tokens(c) & _SIDES]
        for order, child in enumerate(children):
            extra = description_tokens(child) - parent_words - required
            if unsided and (extra & _SIDES) - query.said:
                continue  # a side is never assumed (I.B.13): take the unspecified-side child
            extended = required | extra
            _, _, s = query.similarity(extended, free)
            # A child whose own wording drops what the statement says ("Depression,
            # unspecified" under "single episode of major depression") is a worse fit.
            s += CHILD_WORDING_WEIGHT * query.similarity(description_tokens(child), frozenset())[2]
            # Ties go to the child that adds only neutral words (the "unspecified" default),
            # then to tabular order.
            neutral_bonus = 1e-4 if extra and all(is_neutral(t) for t in extra) else 0.0
            key = (s + neutral_bonus, -order, child, extended)
            if best is None or key[:2] > best[:2]:
                best = key
        assert best is not None
        code, required = best[2], best[3]
        recall, precision, score = query.similarity(required, free)
        depth += 1
    if extra_free := seventh_words(code):
        free = free | extra_free
        recall, precision, score = query.similarity(required, free)
    return Refined(code, required, free, recall, precision, score)


_SEVENTH_WORDS = {
    "initial": "initial",
    "subsequent": "subsequent",
    "sequela": "sequela",
    "sequelae": "sequela",
    "routine": "routine",
    "delayed": "delayed",
    "nonunion": "nonunion",
    "malunion": "malunion",
    "open": "open",
    "closed": "closed",
}


@dataclass(frozen=True)
class Seventh:
    code: str
    character: str
    meaning: str
    documented: bool


def seventh_character(stem_code: str, reading: Reading) -> Seventh | None:
    """The full code for a stem that needs a 7th character. Injury and external-cause codes
    take the episode of care from the statement; without one, 'initial encounter' (closed
    fracture) is proposed and the statement is marked as not documenting it. Other 7th
    characters (eye, stage, fetus, tophus) are matched on the statement's own words, with the
    unspecified one as the default."""
    if not needs_seventh(stem_code):
        return None
    children = {c.replace(".", "")[-1]: c.replace(".", "") for c in icd.get_children(stem_code)}
    meanings = {
        letter: " ".join(text.lower().split())
        for letter, text in (
            icd.get_seven_chr_def(stem_code, search_in_ancestors=True) or {}
        ).items()
    }
    if any(_EPISODE_MEANING.search(m) for m in meanings.values()):
        letter, documented = _episode_letter(children, meanings, reading)
    else:
        letter, documented = _worded_letter(children, meanings, reading)
    meaning = " ".join(meanings.get(letter, "").split("/")[0].split())
    return Seventh(children[letter], letter, meaning, documented)


_EPISODE_MEANING = re.compile(r"\b(initial|subsequent|sequela)\b")
_DEFAULT_MEANING = re.compile(r"\b(unspecified|not applicable|without)\b")


def _episode_letter(
    children: dict[str, str], meanings: dict[str, str], reading: Reading
) -> tuple[str, bool]:
    said = {_SEVENTH_WORDS[w] for w in reading.episode if w in _SEVENTH_WORDS}
    if "healing" in reading.episode and not said & {"delayed"}:
        said.add("routine")
    documented = bool(said & {"initial", "subsequent", "sequela"})
    if not documented and said & {"routine", "delayed", "nonunion", "malunion"}:
        said.add("subsequent")
        documented = True
    best: tuple[float, str] | None = None
    for letter in children:
        meaning_words = set(re.findall(r"[a-z]+", meanings.get(letter, "")))
        named = {w for w in _SEVENTH_WORDS.values() if w in meaning_words}
        score = len(said & named) - 0.5 * len(named - said)
        if not documented and "initial" in named:
            score += 0.75  # active treatment is the usual reason a condition is documented
        if "open" not in said and "open" in named:
            score -= 1.0  # a fracture not said to be open is closed (I.C.19.c.1)
        if best is None or score > best[0]:
            best = (score, letter)
    assert best is not None
    return best[1], documented


def _worded_letter(
    children: dict[str, str], meanings: dict[str, str], reading: Reading
) -> tuple[str, bool]:
    said = {stem(w) for w in re.findall(r"[a-z0-9]+", f"{reading.certain} {reading.uncertain}")}
    best: tuple[float, str] | None = None
    for letter in children:
        meaning = meanings.get(letter, "")
        words_ = {stem(w) for w in re.findall(r"[a-z0-9]+", meaning)} - {"of", "or", "the"}
        score = len(words_ & said) - 0.1 * len(words_ - said)
        if _DEFAULT_MEANING.search(meaning):
            score += 0.05
        if best is None or score > best[0]:
            best = (score, letter)
    assert best is not None
    letter = best[1]
    meaning_words = {stem(w) for w in re.findall(r"[a-z0-9]+", meanings.get(letter, ""))}
    return letter, bool(meaning_words & said)


def laterality_unstated(code: str, reading: Reading) -> bool:
    """The code is the unspecified-side one among siblings that name a side, and the statement
    names none: a query, since payers reject unspecified laterality where a side exists."""
    if reading.laterality:
        return False
    own = description_tokens(code)
    if own & _LATERAL:
        return False
    parent = icd.get_parent(code)
    if not parent:
        return False
    siblings = [description_tokens(c.replace(".", "")) for c in icd.get_children(parent)]
    # Both sides must exist among the siblings: "due to left heart disease" is not a side.
    return any(stem("right") in s for s in siblings) and any(stem("left") in s for s in siblings)
