"""Removes API keys and bearer tokens from text before it is logged, stored or shown.

Two layers: the exact values of every configured key variable (whatever their shape), and the
common key shapes of the vendors we talk to (so a key we were never told about is still caught).
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
_MIN_SECRET_LEN = 8


class Redactor:
    """Replaces known secret values and common key shapes with ``[REDACTED]``.

    Immutable after construction: build one per process (or per run) with the secret values
    read from the configured key variables, and pass it to whatever logs or stores text.
    """

    __slots__ = ("_secret_re",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        self._secret_re: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(v) for v in values)) if values else None
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
        if self._secret_re is not None:
            text = self._secret_re.sub(REDACTED, text)
        for pattern in _KEY_PATTERNS:
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
            else:
                text = pattern.sub(REDACTED, text)
        return text

    def redact_exception(self, exc: BaseException) -> str:
        """``Type: message`` of an exception, redacted, for logs and the store."""
        return self.redact(f"{type(exc).__name__}: {exc}")
