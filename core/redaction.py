"""Removes API keys and bearer tokens from text before it is logged, stored or shown.

Two layers: every configured key value (whatever its shape), and the common key shapes of the
vendors we talk to (so a key we were never told about is still caught).

Configured values are matched by fragment, not only whole: any run of ``FRAGMENT_MIN`` or more
characters copied from a secret is removed, so a vendor error that echoes a key's prefix, its
suffix, or the key split in two leaks at most ``FRAGMENT_MIN - 1`` characters of each piece. The
match uses an index of every ``FRAGMENT_MIN``-character window of every secret: one set look-up per
text position, whatever the number or length of the secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# Vendor key shapes. Each is long enough that ordinary prose never matches.
_KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{16,}"),  # Anthropic
    re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI, DeepSeek, DashScope
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),  # Google / Gemini
    re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"gsk_[A-Za-z0-9]{20,}"),  # Groq
    re.compile(r"hf_[A-Za-z0-9]{20,}"),  # Hugging Face
    re.compile(r"xai-[A-Za-z0-9]{20,}"),  # xAI
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/]{12,}=*"),
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|api-key|access[_-]?token|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"
    ),
)

_SECRET_VAR_RE = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)")

# Values this short would redact ordinary words; such "keys" are not worth protecting this way.
# It is also the shortest fragment of a secret that is removed: 8 characters of a random key do
# not occur in prose by chance, and 7 or fewer give an attacker nothing usable.
FRAGMENT_MIN = 8


class Redactor:
    """Replaces known secret values and common key shapes with ``[REDACTED]``.

    Immutable after construction: build one per process (or per run) with the secret values
    read from the configured key variables, and pass it to whatever logs or stores text.
    """

    __slots__ = ("_windows",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._windows: frozenset[str] = frozenset(
            s[i : i + FRAGMENT_MIN]
            for s in secrets
            if s and len(s) >= FRAGMENT_MIN
            for i in range(len(s) - FRAGMENT_MIN + 1)
        )

    @classmethod
    def from_env(cls, var_names: Iterable[str]) -> Redactor:
        """A redactor for the current values of the named environment variables."""
        return cls(os.environ.get(name, "") for name in var_names)

    @classmethod
    def from_environment(cls, extra_var_names: Iterable[str] = ()) -> Redactor:
        """A redactor for every secret-looking environment variable (``*KEY*``, ``*TOKEN*``,
        ``*SECRET*``, ``*PASSWORD*``) plus the named ones (a target's ``api_key_env`` may be
        called anything)."""
        names = {name for name in os.environ if _SECRET_VAR_RE.search(name)}
        names.update(extra_var_names)
        return cls.from_env(names)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and key-shaped token replaced."""
        if not text:
            return text
        if self._windows:
            text = self._remove_fragments(text)
        for pattern in _KEY_PATTERNS:
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
            else:
                text = pattern.sub(REDACTED, text)
        return text

    def _remove_fragments(self, text: str) -> str:
        """``text`` with every maximal run covered by secret windows replaced by one marker.

        A fragment of length >= FRAGMENT_MIN is exactly a run of consecutive positions whose
        window is in the index, so one pass finds them all (and merges adjacent ones).
        """
        windows, n = self._windows, FRAGMENT_MIN
        pieces: list[str] = []
        kept = 0  # text[kept:] is not yet emitted
        end = -1  # end of the covered run being extended, -1 when none
        for i in range(len(text) - n + 1):
            if text[i : i + n] in windows:
                if end < i:  # a new run starts here
                    if end >= 0:
                        pieces.append(REDACTED)
                        kept = end
                    pieces.append(text[kept:i])
                    kept = i
                end = i + n
        if end < 0:
            return text
        pieces.append(REDACTED)
        pieces.append(text[end:])
        return "".join(pieces)

    def redact_exception(self, exc: BaseException) -> str:
        """``Type: message`` of an exception, redacted, for logs and the store."""
        return self.redact(f"{type(exc).__name__}: {exc}")
