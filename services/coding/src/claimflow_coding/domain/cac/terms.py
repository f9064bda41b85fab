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
import hashlib
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
from rapidfuzz import fuzz, process

from claimflow_coding.domain.cac.text import Slot, is_neutral, stem, term_tokens, words

TERMS_FILE = "icd10cm_terms.tsv.gz"
INDEX_FILE = "icd10cm_index.npz"
SOURCES = ("tabular", "inclusion", "index", "index-see", "neoplasm", "drug")
RECALL_WEIGHT = 0.6
# A statement word matched only by a nonessential modifier counts half: the modifier does
# not change the code, so it is weaker evidence than a word the term requires.
OPTIONAL_CREDIT = 0.5
# A word matched through a synonym ("ocular" for "eye") counts a little less than the word
# the statement wrote: the code set's own wording is the better evidence.
SYNONYM_CREDIT = 0.85
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


def pack_strings(values: list[str]) -> np.ndarray:
    """Strings as one NUL-separated UTF-8 byte array (no pickles in package data)."""
    return np.frombuffer("\0".join(values).encode("utf-8"), dtype=np.uint8)


def unpack_strings(packed: np.ndarray) -> list[str]:
    return packed.tobytes().decode("utf-8").split("\0")


def save_index(path) -> None:
    """Write the prebuilt arrays (the build tool calls this)."""
    np.savez_compressed(path, **build_arrays(_rows()))


def build_arrays(rows: list[tuple[str, str, str]]) -> dict[str, np.ndarray]:
    """Tokenize every term once: the arrays the index is made of (what the packaged
    `icd10cm_index.npz` holds, so a process only loads them)."""
    vocabulary: dict[str, int] = {}
    code_ids: dict[str, int] = {}
    term_code: list[int] = []
    term_source: list[int] = []
    tokens: list[int] = []
    free: list[bool] = []
    offsets = [0]
    blob: list[bytes] = []
    text_offsets = [0]
    surface: dict[str, str] = {}
    for code, source, text in rows:
        term_code.append(code_ids.setdefault(code, len(code_ids)))
        term_source.append(SOURCES.index(source))
        encoded = text.encode("utf-8")
        blob.append(encoded)
        text_offsets.append(text_offsets[-1] + len(encoded))
        required, optional = term_tokens(text)
        for token, is_free in [(t, is_neutral(t)) for t in required] + [
            (t, True) for t in optional
        ]:
            tokens.append(vocabulary.setdefault(token, len(vocabulary)))
            free.append(is_free)
        offsets.append(len(tokens))
        for word in words(text.lower()):
            if word not in surface:
                surface[word] = stem(word)
    return {
        "fingerprint": pack_strings([tokenizer_fingerprint()]),
        "vocabulary": pack_strings(list(vocabulary)),
        "codes": pack_strings(list(code_ids)),
        "term_code": np.array(term_code, dtype=np.int32),
        "term_source": np.array(term_source, dtype=np.int8),
        "term_tokens": np.array(tokens, dtype=np.int32),
        "term_free": np.array(free, dtype=bool),
        "offsets": np.array(offsets, dtype=np.int64),
        "texts": np.frombuffer(b"".join(blob), dtype=np.uint8),
        "text_offsets": np.array(text_offsets, dtype=np.int64),
        "surface_words": pack_strings(list(surface)),
        "surface_stems": pack_strings(list(surface.values())),
    }


class TermIndex:
    """Inverted index of stems over terms, with idf weights; built once per process."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._names = unpack_strings(arrays["vocabulary"])
        self.vocabulary = {t: i for i, t in enumerate(self._names)}
        self._codes = unpack_strings(arrays["codes"])
        self.term_code = arrays["term_code"]
        self.term_source = arrays["term_source"]
        self.term_tokens = arrays["term_tokens"]
        self.term_free = arrays["term_free"]
        self.offsets = arrays["offsets"]
        self._texts = arrays["texts"].tobytes()
        self._text_offsets = arrays["text_offsets"]
        self.surface = dict(
            zip(
                unpack_strings(arrays["surface_words"]),
                unpack_strings(arrays["surface_stems"]),
                strict=True,
            )
        )
        self._surface_words = list(self.surface)
        count = len(self.term_code)
        term_of_token = np.repeat(np.arange(count, dtype=np.int32), np.diff(self.offsets))
        order = np.argsort(self.term_tokens, kind="stable")
        self._posting_terms = term_of_token[order]
        self._posting_free = self.term_free[order]
        df = np.bincount(self.term_tokens, minlength=len(self._names))
        self._posting_offsets = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
        self.idf = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
        for word in SPECIFIC_WORDS:
            token_id = self.vocabulary.get(stem(word))
            if token_id is not None:
                self.idf[token_id] = max(self.idf[token_id], SPECIFIC_MIN_IDF)
        weights = self.idf[self.term_tokens] * ~self.term_free
        sums = np.concatenate(([0.0], np.cumsum(weights, dtype=np.float64)))
        self.required_weight = (sums[self.offsets[1:]] - sums[self.offsets[:-1]]).astype(np.float32)
        self.median_idf = float(np.median(self.idf))
        self._idf = {t: float(self.idf[i]) for t, i in self.vocabulary.items()}
        self._required_weights: dict[frozenset[str], float] = {}

    def postings(self, token_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, free flags) of one token."""
        start, end = self._posting_offsets[token_id], self._posting_offsets[token_id + 1]
        return self._posting_terms[start:end], self._posting_free[start:end]

    def code_of(self, term: int) -> str:
        return self._codes[self.term_code[term]]

    def source_of(self, term: int) -> str:
        return SOURCES[self.term_source[term]]

    def text_of(self, term: int) -> str:
        start, end = self._text_offsets[term], self._text_offsets[term + 1]
        return self._texts[start:end].decode("utf-8")

    def __len__(self) -> int:
        return len(self.term_code)

    def known(self, token: str) -> bool:
        return token in self.vocabulary

    def required_weight_of(self, required: frozenset[str]) -> float:
        """Sum of idf over the words a term requires (not neutral): the same for every query,
        so it is remembered per term."""
        found = self._required_weights.get(required)
        if found is None:
            found = sum(self.idf_of(t) for t in required if not is_neutral(t))
            if len(self._required_weights) < 500_000:
                self._required_weights[required] = found
        return found

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

    def search(self, slots: tuple[Slot, ...], *, limit: int = 40) -> list[TermHit]:
        """The best-scoring terms for these slots."""
        slots = tuple(s for s in slots if any(t in self.vocabulary for t in s.stems))
        if not slots:
            return []
        token_ids = sorted(
            {self.vocabulary[t] for s in slots for t in s.stems if t in self.vocabulary}
        )
        lists = [self.postings(t)[0] for t in token_ids]
        all_terms = np.concatenate(lists)
        candidates, inverse = np.unique(all_terms, return_inverse=True)
        idf_each = np.concatenate(
            [
                np.full(len(p), self.idf[t], dtype=np.float32)
                for t, p in zip(token_ids, lists, strict=True)
            ]
        )
        free_each = np.concatenate([self.postings(t)[1] for t in token_ids])
        covered = np.bincount(inverse, weights=idf_each, minlength=len(candidates))
        free_matched = np.bincount(inverse, weights=idf_each * free_each, minlength=len(candidates))
        matched = np.zeros(len(candidates), dtype=np.float64)
        total = 0.0
        for slot in slots:
            if slot.implied:
                continue
            weight = self.slot_weight(slot)
            credit = np.zeros(len(candidates), dtype=np.float64)
            for token in slot.stems:
                token_id = self.vocabulary.get(token)
                if token_id is None:
                    continue
                terms, frees = self.postings(token_id)
                positions = np.searchsorted(candidates, terms)
                value = np.where(frees, OPTIONAL_CREDIT, 1.0)
                if token in slot.alternatives:
                    value = value * SYNONYM_CREDIT
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
                code=self.code_of(int(candidates[i])),
                source=self.source_of(int(candidates[i])),
                text=self.text_of(int(candidates[i])),
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
        names = self._names
        return (
            frozenset(names[i] for i, f in zip(ids, free, strict=True) if not f),
            frozenset(names[i] for i, f in zip(ids, free, strict=True) if f),
        )


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
        idf = self.index.idf_of
        matched = covered = free_hit = 0.0
        seen: set[str] = set()
        for slot, weight in zip(self.slots, self.weights, strict=True):
            best = 0.0
            for token in slot.stems:
                in_required = token in required
                if not in_required and token not in free:
                    continue
                strong = in_required and not is_neutral(token)
                if token not in seen:
                    seen.add(token)
                    value = idf(token)
                    covered += value
                    if not strong:
                        free_hit += value
                if not slot.implied:
                    credit = 1.0 if strong else OPTIONAL_CREDIT
                    if token in slot.alternatives:
                        credit *= SYNONYM_CREDIT
                    best = max(best, credit)
            matched += weight * best
        denominator = self.index.required_weight_of(required) + free_hit
        precision = min(1.0, covered / denominator) if denominator > 0 else 1.0
        recall = matched / self.total
        return recall, precision, recall**RECALL_WEIGHT * precision ** (1 - RECALL_WEIGHT)


def _rows() -> list[tuple[str, str, str]]:
    raw = resources.files("claimflow_coding.domain").joinpath("data", TERMS_FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()[1:]
    return [tuple(line.split("\t", 2)) for line in lines]  # type: ignore[misc]


def tokenizer_fingerprint() -> str:
    """Changes whenever the term tokenizer (text.py) changes: a packaged index built with
    another tokenizer is not used."""
    source = resources.files("claimflow_coding.domain.cac").joinpath("text.py").read_bytes()
    terms = resources.files("claimflow_coding.domain").joinpath("data", TERMS_FILE).read_bytes()
    return hashlib.sha256(source + terms).hexdigest()[:16]


def load_packaged_arrays() -> dict[str, np.ndarray] | None:
    """The prebuilt arrays shipped with the package, if they match this tokenizer."""
    path = resources.files("claimflow_coding.domain").joinpath("data", INDEX_FILE)
    if not path.is_file():
        return None
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if unpack_strings(arrays["fingerprint"]) != [tokenizer_fingerprint()]:
        return None
    return arrays


_loaded: list[TermIndex] = []
_loading = threading.Lock()


def term_index() -> TermIndex:
    """The index, loaded from the packaged arrays (or built from the term list when they are
    stale) on first use and kept for the life of the process. Loaded once even when the
    service warms it in a thread while a request asks for it."""
    if not _loaded:
        with _loading:
            if not _loaded:
                _loaded.append(_load_index())
    return _loaded[0]


def _load_index() -> TermIndex:
    arrays = load_packaged_arrays()
    if arrays is None:
        warnings.warn(
            f"{INDEX_FILE} is missing or stale: building the term index in-process "
            "(run tools/build_icd10cm_terms.py)",
            stacklevel=2,
        )
        arrays = build_arrays(_rows())
    return TermIndex(arrays)
