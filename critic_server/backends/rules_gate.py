"""A one-pass literal prefilter for the rules critic's many regexes.

Scanning a 1 kB response with sixty regexes costs about a millisecond in CPython; most of them
cannot match because the words they need are absent. For each pattern this module derives, from
the pattern's own syntax tree, a set of word-initial literals of which every match must contain
one (e.g. the verbs of "<violent verb> <person>"). One trie-shaped regex finds which of those
literals occur in the text, and only the patterns they belong to are run.

The derivation is conservative: a pattern for which no such set can be proven gets ``None`` and
always runs. Only literals that start right after ``\\b``, ``^`` or whitespace in the pattern and
begin with a word character qualify, so the gate may look for them at word starts only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# The stdlib regex parser: the only way to read a pattern's structure. Used at start-up only;
# any failure to analyse a pattern just means that pattern is never gated.
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser as _p  # type: ignore[attr-defined]
from typing import Any

_WORD_START_ATS = {_c.AT_BOUNDARY, _c.AT_BEGINNING, _c.AT_BEGINNING_LINE, _c.AT_BEGINNING_STRING}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}
_MIN_LITERAL = 2
WINDOW_BEFORE = 80
"""Characters before a literal occurrence searched for a match (covers optional leading words)."""
WINDOW_AFTER = 200
"""Characters after a literal occurrence searched for a match."""


def lower_pattern(pattern: str) -> str:
    """``pattern`` with its literal letters lower-cased and escapes (``\\W``, ``\\S``) untouched."""
    return re.sub(r"(\\.)|([A-Z]+)", lambda m: m.group(1) or m.group(2).lower(), pattern)


def _is_space_class(op: Any, av: Any) -> bool:
    if op is _c.IN:
        return all(
            (o is _c.CATEGORY and a in (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD))
            or (o is _c.LITERAL and chr(a).isspace())
            for o, a in av
        )
    if op is _c.CATEGORY:
        return av in (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD)
    if op is _c.LITERAL:
        return chr(av).isspace()
    if op in _REPEATS and av[0] >= 1:
        return all(_is_space_class(o, a) for o, a in av[2])
    return False


def _score(lits: frozenset[str]) -> tuple[int, int]:
    return (min(len(s) for s in lits), -len(lits))


def _required(items: Iterable[tuple[Any, Any]], word_start: bool) -> frozenset[str] | None:
    """Word-initial literals one of which every match of ``items`` contains (None: unknown)."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    run_ok = False

    def flush() -> None:
        nonlocal run_ok
        text = "".join(run)
        if not run_ok:
            # Whatever follows whitespace inside the run starts a word.
            cut = next((i for i, ch in enumerate(text) if ch.isspace()), len(text))
            text = text[cut:]
        text = text.lstrip()
        if len(text) >= _MIN_LITERAL and (text[0].isalnum() or text[0] == "_"):
            candidates.append(frozenset([text]))
        run.clear()
        run_ok = False

    for op, av in items:
        if op is _c.LITERAL:
            if not run:
                run_ok = word_start
            run.append(chr(av))
            word_start = chr(av).isspace()
            continue
        if op is _c.AT:
            # Zero-width: a boundary makes what follows word-initial; others change nothing.
            if av in _WORD_START_ATS and not run:
                word_start = True
            continue
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            continue
        flush()
        found: frozenset[str] | None = None
        if op is _c.SUBPATTERN:
            found = _required(av[-1], word_start)
        elif op is _c.BRANCH:
            alternatives = [_required(alt, word_start) for alt in av[1]]
            if all(a is not None for a in alternatives):
                found = frozenset().union(*(a for a in alternatives if a is not None))
        elif op in _REPEATS and av[0] >= 1:
            found = _required(av[2], word_start)
        if found:
            candidates.append(found)
        word_start = _is_space_class(op, av)
    flush()
    if not candidates:
        return None
    best = max(candidates, key=_score)
    return best if _score(best)[0] >= _MIN_LITERAL else None


def required_literals(pattern: str) -> frozenset[str] | None:
    """Word-initial literals of which every match of ``pattern`` contains one, or None."""
    try:
        return _required(_p.parse(pattern, 0), False)
    except Exception:  # a pattern the analysis does not understand is simply never gated
        return None


def _trie_regex(words: Iterable[str]) -> str:
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        # Greedy optional tail: the longest literal at a position wins; prefixes are mapped below.
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class LiteralGate:
    """Given a text, which of a fixed list of patterns can possibly match it."""

    __slots__ = ("_always", "_by_literal", "_rx")

    def __init__(self, patterns: Sequence[str]) -> None:
        literal_sets: list[frozenset[str] | None] = [required_literals(p) for p in patterns]
        self._always = frozenset(i for i, s in enumerate(literal_sets) if s is None)
        owners: dict[str, set[int]] = {}
        for i, lits in enumerate(literal_sets):
            for lit in lits or ():
                owners.setdefault(lit, set()).add(i)
        # The gate scans without overlap: a literal found at a position is the LONGEST there, and
        # the scan resumes after it. So a found literal stands for every literal that is a prefix of
        # it, and for every literal that starts at a word inside it (prefix of, or extending, the
        # rest of it from that word on). Over-approximating keeps the gate exact: never a miss.
        known = sorted(owners)
        by_literal: dict[str, frozenset[int]] = {}
        for lit in known:
            idx: set[int] = set()
            starts = [0] + [i + 1 for i, ch in enumerate(lit) if not (ch.isalnum() or ch == "_")]
            for start in starts:
                tail = lit[start:]
                if not tail:
                    continue
                for other in known:
                    if tail.startswith(other) or (start > 0 and other.startswith(tail)):
                        idx |= owners[other]
            by_literal[lit] = frozenset(idx)
        self._by_literal = by_literal
        self._rx: re.Pattern[str] | None = (
            re.compile(r"\b(?:" + _trie_regex(owners) + ")") if owners else None
        )

    @property
    def ungated(self) -> frozenset[int]:
        """Indices of patterns that always run (no literal set could be derived)."""
        return self._always

    def candidates(self, text: str) -> dict[int, list[int]]:
        """Patterns that may match ``text`` (lower-cased like the patterns), each with the positions
        of the literals that admitted it (empty for patterns that are never gated)."""
        out: dict[int, list[int]] = {i: [] for i in self._always}
        if self._rx is not None:
            by_literal = self._by_literal
            for m in self._rx.finditer(text):
                pos = m.start()
                for i in by_literal[m.group()]:
                    found = out.get(i)
                    if found is None:
                        out[i] = [pos]
                    elif found:
                        found.append(pos)
        return out


def search_near(
    rx: re.Pattern[str],
    text: str,
    positions: Sequence[int],
    *,
    before: int = WINDOW_BEFORE,
    after: int = WINDOW_AFTER,
) -> re.Match[str] | None:
    """``rx.search`` restricted to windows around ``positions`` (the whole text when empty).

    A match of a gated pattern contains one of its literals; windows sized generously around each
    literal occurrence therefore find it while scanning a fraction of a long text.
    """
    if not positions:
        return rx.search(text)
    n = len(text)
    lo, hi = -1, -1
    for pos in positions:
        start, end = max(0, pos - before), min(n, pos + after)
        if start <= hi:
            hi = end
            continue
        if hi >= 0:
            m = rx.search(text, lo, hi)
            if m is not None:
                return m
        lo, hi = start, end
    return rx.search(text, lo, hi) if hi >= 0 else None
