"""The lexical index over every ICD-10-CM term the coder can match: tabular descriptions and
inclusion terms, Alphabetic Index paths, the Neoplasm and Drug tables (`data/icd10cm_terms.tsv.gz`,
built by `tools/build_icd10cm_terms.py`).

Scoring is idf-weighted coverage both ways: how much of the statement a term explains (recall)
and how much of the term the statement says (precision). Nonessential modifiers and neutral
words ("unspecified", "NOS") never count against a term, which is what makes the default code
win when the documentation says nothing more.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from rapidfuzz import fuzz, process

from claimflow_coding.domain.cac.text import Slot, is_neutral, stem, term_tokens, words

TERMS_FILE = "icd10cm_terms.tsv.gz"
SOURCES = ("tabular", "inclusion", "index", "index-see", "neoplasm", "drug")
RECALL_WEIGHT = 0.6
# A statement word matched only by a nonessential modifier counts half: the modifier does
# not change the code, so it is weaker evidence than a word the term requires.
OPTIONAL_CREDIT = 0.5
# Words whose absence from the statement must weigh heavily against a term that requires
# them: a side (I.B.13: never assumed) and "other" (only for documented specified types).
SPECIFIC_WORDS = ("left", "right", "bilateral", "other")
SPECIFIC_MIN_IDF = 6.0


@dataclass(frozen=True)
class TermHit:
    term: int
    code: str
    source: str
    text: str
    recall: float
    precision: float
    score: float


class TermIndex:
    """Inverted index of stems over terms, with idf weights; built once per process."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.codes: list[str] = []
        self.sources: list[str] = []
        self.texts: list[str] = []
        vocabulary: dict[str, int] = {}
        postings: list[list[int]] = []
        free_postings: list[list[bool]] = []
        self.surface: dict[str, str] = {}
        term_tokens_flat: list[int] = []
        term_free_flat: list[bool] = []
        offsets = [0]
        for code, source, text in rows:
            term_id = len(self.codes)
            self.codes.append(code)
            self.sources.append(source)
            self.texts.append(text)
            required, optional = term_tokens(text)
            for token, free in [(t, is_neutral(t)) for t in required] + [
                (t, True) for t in optional
            ]:
                token_id = vocabulary.setdefault(token, len(vocabulary))
                if token_id == len(postings):
                    postings.append([])
                    free_postings.append([])
                postings[token_id].append(term_id)
                free_postings[token_id].append(free)
                term_tokens_flat.append(token_id)
                term_free_flat.append(free)
            offsets.append(len(term_tokens_flat))
        self.vocabulary = vocabulary
        count = len(self.codes)
        df = np.array([len(p) for p in postings], dtype=np.float64)
        self.idf = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
        for word in SPECIFIC_WORDS:
            token_id = vocabulary.get(stem(word))
            if token_id is not None:
                self.idf[token_id] = max(self.idf[token_id], SPECIFIC_MIN_IDF)
        self.postings = [np.array(p, dtype=np.int32) for p in postings]
        self.free = [np.array(f, dtype=bool) for f in free_postings]
        self.term_tokens = np.array(term_tokens_flat, dtype=np.int32)
        self.term_free = np.array(term_free_flat, dtype=bool)
        self.offsets = np.array(offsets, dtype=np.int64)
        weights = self.idf[self.term_tokens] * ~self.term_free
        self.required_weight = np.add.reduceat(np.append(weights, 0), self.offsets[:-1]).astype(
            np.float32
        )
        self.required_weight[self.offsets[:-1] == self.offsets[1:]] = 0
        self.median_idf = float(np.median(self.idf))
        self._idf = {t: float(self.idf[i]) for t, i in vocabulary.items()}
        for text in set(self.texts):
            for word in words(text.lower()):
                self.surface.setdefault(word, stem(word))
        self._surface_words = list(self.surface)

    def __len__(self) -> int:
        return len(self.codes)

    def known(self, token: str) -> bool:
        return token in self.vocabulary

    def idf_of(self, token: str) -> float:
        found = self._idf.get(token)
        return found if found is not None else self.median_idf

    def correct(self, word: str) -> str | None:
        """The index word a misspelled statement word most likely meant, if any is close."""
        if len(word) < 5 or word.isdigit():
            return None
        found = process.extractOne(word, self._surface_words, scorer=fuzz.ratio, score_cutoff=88)
        return self.surface[found[0]] if found else None

    def slot_weight(self, slot: Slot) -> float:
        known = [self.idf_of(s) for s in slot.stems if s in self.vocabulary]
        return (max(known) if known else self.median_idf) * slot.factor

    def search(self, slots: tuple[Slot, ...], *, limit: int = 80) -> list[TermHit]:
        """The best-scoring terms for these slots."""
        slots = tuple(s for s in slots if any(t in self.vocabulary for t in s.stems))
        if not slots:
            return []
        token_ids = sorted(
            {self.vocabulary[t] for s in slots for t in s.stems if t in self.vocabulary}
        )
        lists = [self.postings[t] for t in token_ids]
        all_terms = np.concatenate(lists)
        candidates, inverse = np.unique(all_terms, return_inverse=True)
        idf_each = np.concatenate(
            [
                np.full(len(p), self.idf[t], dtype=np.float32)
                for t, p in zip(token_ids, lists, strict=True)
            ]
        )
        free_each = np.concatenate([self.free[t] for t in token_ids])
        covered = np.bincount(inverse, weights=idf_each, minlength=len(candidates))
        free_matched = np.bincount(inverse, weights=idf_each * free_each, minlength=len(candidates))
        matched = np.zeros(len(candidates), dtype=np.float64)
        total = 0.0
        for slot in slots:
            if slot.implied:
                continue
            weight = self.slot_weight(slot)
            ids = [self.vocabulary[t] for t in slot.stems if t in self.vocabulary]
            credit = np.zeros(len(candidates), dtype=np.float64)
            for token_id in ids:
                positions = np.searchsorted(candidates, self.postings[token_id])
                value = np.where(self.free[token_id], OPTIONAL_CREDIT, 1.0)
                np.maximum.at(credit, positions, value)
            matched += weight * credit
            total += weight
        if total <= 0:
            return []
        recall = matched / total
        denominator = self.required_weight[candidates] + free_matched
        precision = np.divide(
            covered, denominator, out=np.ones_like(covered), where=denominator > 0
        )
        precision = np.minimum(precision, 1.0)
        score = recall**RECALL_WEIGHT * precision ** (1 - RECALL_WEIGHT)
        if len(score) > limit:
            top = np.argpartition(-score, limit)[:limit]
        else:
            top = np.arange(len(score))
        top = top[np.argsort(-score[top], kind="stable")]
        return [
            TermHit(
                term=int(candidates[i]),
                code=self.codes[candidates[i]],
                source=self.sources[candidates[i]],
                text=self.texts[candidates[i]],
                recall=float(recall[i]),
                precision=float(precision[i]),
                score=float(score[i]),
            )
            for i in top
            if score[i] > 0
        ]

    def tokens_of(self, term: int) -> tuple[frozenset[str], frozenset[str]]:
        """(required, free) stems of one term."""
        ids = self.term_tokens[self.offsets[term] : self.offsets[term + 1]]
        free = self.term_free[self.offsets[term] : self.offsets[term + 1]]
        names = self._names()
        return (
            frozenset(names[i] for i, f in zip(ids, free, strict=True) if not f),
            frozenset(names[i] for i, f in zip(ids, free, strict=True) if f),
        )

    @cache  # noqa: B019 - one index per process, never freed
    def _names(self) -> list[str]:
        names = [""] * len(self.vocabulary)
        for token, token_id in self.vocabulary.items():
            names[token_id] = token
        return names


@dataclass(frozen=True)
class Query:
    """The statement's slots with their weights, ready to score many terms against."""

    slots: tuple[Slot, ...]
    weights: tuple[float, ...]
    total: float
    index: TermIndex
    said: frozenset[str]

    @classmethod
    def of(cls, slots: tuple[Slot, ...], index: TermIndex) -> Query:
        weights = tuple(index.slot_weight(s) for s in slots)
        total = sum(w for s, w in zip(slots, weights, strict=True) if not s.implied)
        said = frozenset(t for s in slots if not s.implied for t in s.stems)
        return cls(slots, weights, total, index, said)

    def similarity(
        self, required: frozenset[str], free: frozenset[str]
    ) -> tuple[float, float, float]:
        """(recall, precision, score) of a term given as stem sets: the measure `search`
        uses, for terms the coder builds by refining a parent code."""
        if self.total <= 0:
            return 0.0, 0.0, 0.0
        words = required | free
        matched = 0.0
        hit: set[str] = set()
        for slot, weight in zip(self.slots, self.weights, strict=True):
            found = slot.stems & words
            if found:
                hit |= found
                if not slot.implied:
                    strong = any(t in required and not is_neutral(t) for t in found)
                    matched += weight if strong else weight * OPTIONAL_CREDIT
        idf = self.index.idf_of
        required_weight = sum(idf(t) for t in required if not is_neutral(t))
        covered = sum(idf(t) for t in hit)
        free_hit = covered - sum(idf(t) for t in hit if t in required and not is_neutral(t))
        denominator = required_weight + free_hit
        precision = min(1.0, covered / denominator) if denominator > 0 else 1.0
        recall = matched / self.total
        return recall, precision, recall**RECALL_WEIGHT * precision ** (1 - RECALL_WEIGHT)


def _rows() -> list[tuple[str, str, str]]:
    raw = resources.files("claimflow_coding.domain").joinpath("data", TERMS_FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()[1:]
    return [tuple(line.split("\t", 2)) for line in lines]  # type: ignore[misc]


@cache
def term_index() -> TermIndex:
    """The packaged index, built on first use and kept for the life of the process."""
    return TermIndex(_rows())
