"""Reading a generator's answer and the filters every generated row must pass.

Rows are dropped for one reason each, checked in this order (the first that applies wins):
``empty``, ``too_short``, ``too_long``, ``refused``, ``wrong_language``, ``duplicate_exact``
(same normalized text earlier in the batch, or in an existing suite), ``duplicate_near``
(MinHash/LSH Jaccard estimate at or above the threshold against an earlier row or an existing
suite's prompt). Whole answers are dropped as ``unparseable``, ``empty`` or ``refused``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from gateway.generation.templates import PromptTemplate

NUM_PERM = 128
"""MinHash permutations: a Jaccard estimate within about 0.045 (one standard error) of the truth."""
SHINGLE = 5
"""Character shingle size: works for text with spaces (English) and without (Chinese)."""


class Drop(StrEnum):
    """Why a generated row (or a whole answer) was dropped."""

    UNPARSEABLE = "unparseable"
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    REFUSED = "refused"
    WRONG_LANGUAGE = "wrong_language"
    DUPLICATE_EXACT = "duplicate_exact"
    DUPLICATE_NEAR = "duplicate_near"
    DUPLICATE_EXISTING = "duplicate_existing"


ROW_FILTERS = ("nonempty", "length", "not_refused", "language", "unique_exact", "unique_near", "novel")
"""The filters a kept row passed, in order (recorded in its provenance)."""


class UnparseableError(ValueError):
    """The answer holds no JSON object with a ``prompts`` list."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_answer(text: str) -> list[str]:
    """The prompt texts in a generator's answer.

    Accepts the schema's ``{"prompts": [{"text": ...}]}``, a bare list, strings instead of objects,
    a code fence around the JSON, or prose before and after it: models that ignore
    ``response_format`` still get read. Raises ``UnparseableError`` when nothing fits.
    """
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        rows = _rows(data)
        if rows is not None:
            return rows
    raise UnparseableError("no JSON with a list of prompts")


def _rows(data: Any) -> list[str] | None:
    if isinstance(data, dict):
        data = next(
            (data[k] for k in ("prompts", "items", "questions") if isinstance(data.get(k), list)), None
        )
    if not isinstance(data, list):
        return None
    out: list[str] = []
    for item in data:
        if isinstance(item, dict):
            item = item.get("text", item.get("prompt", ""))
        out.append(item if isinstance(item, str) else "")
    return out


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def language_ok(text: str, lang: str) -> bool:
    """Whether ``text`` is in ``lang`` by script: Chinese needs a third of its letters to be CJK,
    English at most a twentieth (names quoted from the taxonomy may be in the other script).
    Other languages are not checked."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    letters = cjk + latin
    if letters == 0:
        return False
    if lang == "zh":
        return cjk * 3 >= letters
    if lang == "en":
        return cjk * 20 <= letters
    return True


_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """Case, width, punctuation and whitespace folded away: the key for exact duplicates."""
    return _PUNCT_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def shingles(text: str) -> set[bytes]:
    """Character shingles of the normalized text without spaces."""
    flat = normalize(text).replace(" ", "")
    if len(flat) <= SHINGLE:
        return {flat.encode("utf-8")}
    return {flat[i : i + SHINGLE].encode("utf-8") for i in range(len(flat) - SHINGLE + 1)}


class Deduper:
    """Exact and near-duplicate index over existing suites and the rows kept so far.

    Near duplicates use datasketch's MinHash LSH (``threshold`` on the estimated Jaccard of
    character shingles); an LSH candidate is confirmed by its MinHash estimate, so a row is only
    dropped near the threshold, not for sharing a band by chance.
    """

    def __init__(self, threshold: float = 0.7, *, num_perm: int = NUM_PERM) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._num_perm = num_perm
        # Bands tuned to miss few true pairs (weights favour recall): candidates are confirmed
        # by their MinHash estimate below, so the extra false candidates cost a comparison each.
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
        self._hashes: dict[str, Any] = {}
        self._exact: dict[str, bool] = {}  # normalized text -> from an existing suite

    def minhash(self, text: str) -> Any:
        """The MinHash of ``text``'s shingles."""
        from datasketch import MinHash

        m = MinHash(num_perm=self._num_perm)
        m.update_batch(list(shingles(text)))
        return m

    def add_existing(self, texts: Iterable[str]) -> int:
        """Index prompts of existing suites; returns how many were new to the index."""
        added = 0
        for text in texts:
            key = normalize(text)
            if key in self._exact:
                continue
            self._exact[key] = True
            self._insert(f"e{len(self._hashes)}", self.minhash(text))
            added += 1
        return added

    def check(self, text: str) -> Drop | None:
        """Why ``text`` duplicates an indexed one, or None (then it is indexed as kept)."""
        key = normalize(text)
        existing = self._exact.get(key)
        if existing is not None:
            return Drop.DUPLICATE_EXISTING if existing else Drop.DUPLICATE_EXACT
        m = self.minhash(text)
        for other in self._lsh.query(m):
            if self._hashes[other].jaccard(m) >= self.threshold:
                return Drop.DUPLICATE_EXISTING if other.startswith("e") else Drop.DUPLICATE_NEAR
        self._exact[key] = False
        self._insert(f"k{len(self._hashes)}", m)
        return None

    def _insert(self, key: str, m: Any) -> None:
        self._hashes[key] = m
        self._lsh.insert(key, m)


class RowCheck:
    """The row-level filters that need no index (length, refusal, language) for one template."""

    __slots__ = ("_refusal", "lang", "template")

    def __init__(self, template: PromptTemplate, lang: str) -> None:
        self.template = template
        self.lang = lang
        self._refusal = template.refusal_regex()

    def drop(self, text: str) -> Drop | None:
        """Why ``text`` fails, or None."""
        stripped = text.strip()
        if not stripped:
            return Drop.EMPTY
        if len(stripped) < self.template.min_chars:
            return Drop.TOO_SHORT
        if len(stripped) > self.template.max_chars:
            return Drop.TOO_LONG
        if self.refused(stripped):
            return Drop.REFUSED
        if not language_ok(stripped, self.lang):
            return Drop.WRONG_LANGUAGE
        return None

    def refused(self, text: str) -> bool:
        """Whether ``text`` reads as the generator refusing to write the prompt."""
        return self._refusal.search(text.strip()) is not None
