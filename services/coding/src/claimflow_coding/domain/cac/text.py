"""From a documented diagnosis statement to search words: abbreviations and lay terms rewritten
to ICD-10-CM wording, tokens that keep digits and single letters ("type 2", "stage 3b"), stems,
and the context cues (uncertain, negated, history, episode of care) that change what may be
coded. The tables are data files beside the package (`data/cac_*.csv`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources

import Stemmer

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "with",
        "in",
        "on",
        "at",
        "to",
        "by",
        "for",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "his",
        "her",
        "their",
        "this",
        "that",
        "which",
        "has",
        "have",
        "had",
        "than",
        "into",
        "per",
        "who",
        "due",
        "also",
    ]
)
# Words a term may carry without saying anything the statement must have said: a statement
# that does not say them is still fully described by the term (the default, unspecified code).
NEUTRAL_WORDS = (
    "unspecified",
    "nos",
    "nec",
    "mellitus",
    "site",
    "part",
    "classified",
    "encounter",
    # A fracture not said to be displaced or not is coded displaced (I.C.19.c.1).
    "displaced",
)
# Words that say the episode of care (the 7th character), not the condition.
EPISODE_WORDS = frozenset(
    [
        "initial",
        "subsequent",
        "sequela",
        "sequelae",
        "routine",
        "delayed",
        "healing",
        "nonunion",
        "malunion",
    ]
)
# Words that open a negated scope ("without complications", "not intractable"); the scope
# ends at a comma or at "with". Negated words become their own tokens ("no_complic"), so
# "with hematuria" never matches "without hematuria".
NEGATORS = frozenset({"without", "not", "no"})
NEGATED = "no_"
NEGATED_QUERY_WEIGHT = 0.3
_SEMANTIC_TAG = re.compile(
    r"\((?:disorder|finding|situation|morphologic abnormality|procedure|event|"
    r"observable entity|clinical finding|person|navigational concept)\)"
)
_RANGE = re.compile(r"\b(\d)\s+through\s+(?:stage\s+)?(\d)\b")
LATERALITY_WORDS = frozenset({"left", "right", "bilateral"})

_JOINED_PREFIXES = (
    "non|pre|post|anti|sub|intra|inter|hyper|hypo|co|re|un|multi|poly|peri|extra|trans|"
    "retro|gastro|micro|macro|neuro|ultra|self|over|under|semi|mid"
)
_PREFIX_HYPHEN = re.compile(rf"\b({_JOINED_PREFIXES})-(?=[a-z])")
_PREFIX_SPACE = re.compile(r"\b(non|pre|post|anti|intra|inter) (?=[a-z]{3})")
_ROMAN = re.compile(r"\b(type|stage|grade|class|degree|phase)\s+(iv|v|i{1,3})([ab]?)\b")
_ROMAN_VALUE = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth"}
_ORDINAL = re.compile(r"\b(1st|2nd|3rd|4th)\b")
_TOKEN = re.compile(r"[a-z0-9]+")
_PIECE = re.compile(r"[a-z0-9]+|[,;()\[\]]")
_SEGMENT = re.compile(r"[;,]|\s-\s|\.\s")

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


NEUTRAL = frozenset(stem(w) for w in NEUTRAL_WORDS)


@lru_cache(maxsize=65_536)
def is_neutral(token: str) -> bool:
    """Words a term may carry without the statement saying them: neutral words and negated
    scopes ("without complications" is what a statement that names none means)."""
    return token in NEUTRAL or token.startswith(NEGATED)


def _data(name: str) -> list[dict[str, str]]:
    text = resources.files("claimflow_coding.domain").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _boundary(pattern: str) -> str:
    start = r"(?<![a-z0-9])" if re.match(r"[a-z0-9(]", pattern) else ""
    end = r"(?![a-z0-9])" if re.search(r"[a-z0-9)]$", pattern) else ""
    return f"{start}(?:{pattern}){end}"


@cache
def _rewrites() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Abbreviations and lay terms in table order: specific rows come before general ones
    ('t2dm' before 'dm', 'metastatic carcinoma to' before 'carcinoma')."""
    rows = _data("cac_abbreviations.csv")
    # A space in a pattern matches any run of spaces: expansions are padded with spaces.
    return tuple(
        (re.compile(_boundary(r["pattern"].replace(" ", r"\s+"))), r["expansion"]) for r in rows
    )


@cache
def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for row in _data("cac_synonyms.csv"):
        word = stem(row["word"].strip().lower())
        for alternative in row["alternatives"].split("|"):
            if alternative.strip():
                table.setdefault(word, set()).add(stem(alternative.strip().lower()))
    return {word: frozenset(alts) for word, alts in table.items()}


@cache
def _cues() -> tuple[tuple[re.Pattern[str], str], ...]:
    cues = []
    for row in _data("cac_context_cues.csv"):
        parts = sorted(row["cue"].split("|"), key=len, reverse=True)
        alternation = "|".join(_boundary(p if "\\" in p else re.escape(p)) for p in parts)
        cues.append((re.compile(alternation), row["kind"]))
    return tuple(cues)


def rewrite(text: str) -> str:
    """Lower-case text in ICD-10-CM wording: abbreviations and lay terms expanded, hyphens and
    numerals made the way the code set writes them."""
    text = text.lower().replace("\u2019", "'").replace("'s ", " ").replace("'", "")
    text = _SEMANTIC_TAG.sub(" ", text)
    text = _ORDINAL.sub(lambda m: _ORDINALS[m.group(1)], text)
    text = _ROMAN.sub(lambda m: f"{m.group(1)} {_ROMAN_VALUE[m.group(2)]}{m.group(3)}", text)
    # Two passes: an expansion may hold a word the table rewrites again ('ca' -> 'cancer').
    for _ in range(2):
        for pattern, expansion in _rewrites():
            text = pattern.sub(f" {expansion} " if expansion else " ", text)
    text = text.replace("in situ", "insitu")
    text = _PREFIX_HYPHEN.sub(r"\1", text)
    text = _PREFIX_SPACE.sub(r"\1", text)
    text = _TRIMESTER.sub(r"\1trimester", _with_trimester(text))
    return " ".join(text.split())


# "first trimester" is one token, so the ordinal cannot match "first pregnancy".
_TRIMESTER = re.compile(r"\b(first|second|third) trimester")
_PREGNANCY = re.compile(r"pregnan|gestation|trimester|prenatal|antepartum|eclampsia|gravid")
_WEEKS = re.compile(r"\b(\d{1,2})\s*(?:weeks?|wks?)\b")


def _with_trimester(text: str) -> str:
    """Weeks of gestation also say the trimester (guideline I.C.15.a.3: first under 14
    weeks, second 14 to under 28, third from 28)."""
    found = _WEEKS.search(text)
    if not found or not _PREGNANCY.search(text) or "trimester" in text:
        return text
    weeks = int(found.group(1))
    trimester = "first" if weeks < 14 else "second" if weeks < 28 else "third"
    return f"{text} {trimester} trimester"


def words(text: str) -> list[str]:
    """Content words of already rewritten text: stopwords dropped, digits and letters kept."""
    return [w for w in _TOKEN.findall(text.replace("-", " ")) if w not in STOPWORDS]


def marked_words(text: str) -> list[tuple[str, bool, bool]]:
    """(word, optional, negated) for rewritten text: words inside parentheses are optional
    (nonessential modifiers), words in a "without"/"not" scope are negated."""
    out: list[tuple[str, bool, bool]] = []
    depth = 0
    negating = False
    for piece in _PIECE.findall(text.replace("-", " ")):
        if piece in "([":
            depth += 1
        elif piece in ")]":
            depth = max(0, depth - 1)
        elif piece in ",;":
            negating = False
        elif piece in NEGATORS:
            negating = True
        elif piece == "with":
            negating = False
        elif piece not in STOPWORDS:
            out.append((piece, depth > 0, negating))
    return out


@lru_cache(maxsize=262_144)
def term_tokens(term: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A code-set term as (required stems, optional stems): words in parentheses are
    nonessential modifiers, present or absent without changing the code."""
    required: list[str] = []
    optional: list[str] = []
    for word, is_optional, negated in marked_words(rewrite_term(term)):
        token = f"{NEGATED}{stem(word)}" if negated else stem(word)
        (optional if is_optional else required).append(token)
    req = tuple(dict.fromkeys(required))
    opt = tuple(w for w in dict.fromkeys(optional) if w not in req)
    return req, opt


def rewrite_term(term: str) -> str:
    """Code-set wording goes through the same hyphen and numeral rules as statements, but not
    through the abbreviation table (the code set does not abbreviate)."""
    text = term.lower().replace("\u2019", "'").replace("'s ", " ").replace("'", "")
    # "stage 1 through stage 4" includes stage 3: the numbers in between become optional.
    text = _RANGE.sub(
        lambda m: "(" + " ".join(str(n) for n in range(int(m[1]), int(m[2]) + 1)) + ")", text
    )
    text = _ROMAN.sub(lambda m: f"{m.group(1)} {_ROMAN_VALUE[m.group(2)]}{m.group(3)}", text)
    text = text.replace("in situ", "insitu")
    text = _PREFIX_HYPHEN.sub(r"\1", text)
    text = _PREFIX_SPACE.sub(r"\1", text)
    # "unspecified trimester" names no trimester: it is the default, not a word to match.
    return _TRIMESTER.sub(r"\1trimester", text.replace("unspecified trimester", "unspecified"))


@dataclass(frozen=True)
class Slot:
    """One word of the statement: matched by its stem or any synonym of it. Implied slots
    (such as 'personal' after 'history of') help a term that has them but cost nothing when
    a term lacks them."""

    stems: frozenset[str]
    word: str
    implied: bool = False
    factor: float = 1.0
    alternatives: frozenset[str] = frozenset()  # synonyms: matched at SYNONYM_CREDIT


@dataclass(frozen=True)
class Reading:
    """What a statement says, split by the context that governs coding."""

    text: str
    certain: str
    uncertain: str
    negated: bool
    history: bool
    family_history: bool
    episode: frozenset[str]
    laterality: frozenset[str]
    slots: tuple[Slot, ...] = field(default=())


def read_statement(text: str) -> Reading:
    """Split the statement into certain and uncertain parts and collect its cues."""
    lowered = rewrite(text)
    certain_parts: list[str] = []
    uncertain_parts: list[str] = []
    negated_parts = 0
    history = family = False
    segments = [s for s in _SEGMENT.split(lowered) if s.strip()] or [lowered]
    for segment in segments:
        kinds = set()
        for pattern, kind in _cues():
            if pattern.search(segment):
                kinds.add(kind)
                if kind in {"uncertain", "negated"}:
                    segment = pattern.sub(" ", segment)
        family = family or "family-history" in kinds
        history = history or "history" in kinds
        if "negated" in kinds:
            negated_parts += 1
        elif "uncertain" in kinds:
            uncertain_parts.append(segment)
        else:
            certain_parts.append(segment)
    certain = ", ".join(certain_parts)
    uncertain = ", ".join(uncertain_parts)
    all_words = set(words(certain + " " + uncertain))
    episode = frozenset(w for w in all_words if w in EPISODE_WORDS or w in {"open", "closed"})
    return Reading(
        text=text,
        certain=certain,
        uncertain=uncertain,
        negated=negated_parts == len(segments),
        history=history and not family,
        family_history=family,
        episode=episode,
        laterality=frozenset(all_words & LATERALITY_WORDS),
    )


def slots_of(text: str, *, history: bool = False) -> tuple[Slot, ...]:
    """Search slots for rewritten text: episode words left to the 7th character, negated
    words ("without complications") kept at a low weight, as the default they usually are."""
    synonyms = _synonyms()
    slots: list[Slot] = []
    seen: set[str] = set()
    for word, _, negated in marked_words(text):
        if word in EPISODE_WORDS:
            continue
        stemmed = stem(word)
        token = f"{NEGATED}{stemmed}" if negated else stemmed
        if token in seen:
            continue
        seen.add(token)
        if negated:
            slots.append(Slot(frozenset({token}), word, factor=NEGATED_QUERY_WEIGHT))
            continue
        alternatives = synonyms.get(stemmed, frozenset()) - {stemmed}
        slots.append(Slot(frozenset({stemmed} | alternatives), word, alternatives=alternatives))
    if history and stem("history") in seen:
        # The cue outweighs the condition's own words: the code is the history code.
        slots = [replace(s, factor=2.0) if s.word == "history" else s for s in slots]
        # "history of X" without "family" is the patient's own history (Z85-Z87).
        slots.append(Slot(frozenset({stem("personal")}), "personal", implied=True))
    return tuple(slots)
