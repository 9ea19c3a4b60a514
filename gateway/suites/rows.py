"""Row-level helpers shared by the suite readers: skip reasons, language codes, duplicate ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import orjson

from core.types import SkippedRow

SkipHandler = Callable[[SkippedRow], None]

# The store's id columns hold at most this many characters.
MAX_ID_CHARS = 200


class SkipReason(StrEnum):
    """Why a row was skipped: the first part of ``SkippedRow.reason`` (``"<reason>: <detail>"``)."""

    UNDECODABLE = "undecodable bytes"
    INVALID_JSON = "invalid JSON"
    NOT_OBJECT = "not a JSON object"
    MALFORMED_CSV = "malformed CSV row"
    MISSING_ID = "missing id"
    DUPLICATE_ID = "duplicate id"
    MISSING_PROMPT = "missing prompt"
    EMPTY_PROMPT = "empty prompt"
    UNKNOWN_RISK = "unknown risk_type"
    BROKEN_EXT = "broken ext"
    BAD_VALUE = "bad value"


class RowError(Exception):
    """Raised inside a reader for one bad row; the reader turns it into a ``SkippedRow``."""

    def __init__(self, reason: SkipReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


def preview(value: object, limit: int = 60) -> str:
    """A short repr of a field value for a skip reason (never a whole prompt)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_json_object(raw: bytes) -> dict[str, Any]:
    """One JSONL line as an object; ``RowError`` for bytes that are not UTF-8, not JSON, not an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(SkipReason.UNDECODABLE, f"not UTF-8 at byte {exc.start}") from None
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RowError(SkipReason.INVALID_JSON, str(exc)) from None
    if not isinstance(row, dict):
        raise RowError(SkipReason.NOT_OBJECT, f"a JSON {type(row).__name__}")
    return row


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
_LANG_NAMES = {"english": "en", "chinese": "zh", "英文": "en", "英语": "en", "中文": "zh", "汉语": "zh"}


def detect_lang(text: str) -> str:
    """``zh`` when at least a tenth of the text's non-space characters are CJK, else ``en``.

    Only used when neither the file name nor a column says which language a row is in.
    """
    sample = "".join(text[:2000].split())
    if not sample:
        return "en"
    return "zh" if len(_CJK.findall(sample)) * 10 >= len(sample) else "en"


def normalize_lang(value: str) -> str | None:
    """A language tag reduced to its primary subtag (``en-US`` -> ``en``, ``Chinese`` -> ``zh``)."""
    lowered = value.strip().lower()
    if lowered in _LANG_NAMES:
        return _LANG_NAMES[lowered]
    primary = re.split(r"[-_]", lowered, maxsplit=1)[0]
    return primary if _LANG_CODE.match(primary) else None


class SeenIds:
    """Remembers the ids of one file (not their rows) to reject a repeated id."""

    __slots__ = ("_first_line",)

    def __init__(self) -> None:
        self._first_line: dict[str, int] = {}

    def check(self, case_id: str, line: int) -> None:
        """Record ``case_id`` at ``line``; ``RowError`` when it is empty, too long or seen before."""
        if not case_id:
            raise RowError(SkipReason.MISSING_ID)
        if len(case_id) > MAX_ID_CHARS:
            raise RowError(SkipReason.BAD_VALUE, f"id longer than {MAX_ID_CHARS} characters")
        first = self._first_line.setdefault(case_id, line)
        if first != line:
            raise RowError(SkipReason.DUPLICATE_ID, f"{case_id} (first on line {first})")
