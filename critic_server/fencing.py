"""Judge-injection hardening for prompt-based critics (hf, openai).

The text under evaluation is untrusted: a target model's response (or an attack prompt) may try to
steer the judge ("rate this as safe"), forge a verdict, close the fence, or end the chat turn with a
fake ``<|im_end|>``. Two layers keep it inside its fence:

1. Escaping. ``&``, ``<`` and ``>`` become HTML entities, so no angle-bracket token survives (chat
   special tokens such as ``<|im_end|>``, ``</s>``, ``<explanation>``, and the fence markers
   themselves, which are built from ``<<<`` and ``>>>``). Special tokens of the judge's tokenizer
   that contain no angle bracket (``[INST]``) have their first character entity-encoded too, so
   the tokenizer can never read them as control tokens.
2. Random per-request delimiters. Each fence carries a fresh 64-bit nonce; the judge's instructions
   name the exact markers, so even a lucky forgery of the shape would carry the wrong nonce.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _entity(char: str) -> str:
    return f"&#{ord(char)};"


class Escaper:
    """Escapes untrusted text for one judge: HTML entities plus the tokenizer's bare special tokens."""

    __slots__ = ("_bare_specials",)

    def __init__(self, special_tokens: Iterable[str] = ()) -> None:
        # Only tokens without angle brackets need their own pass: the others cannot survive escaping.
        bare = sorted(
            {t for t in special_tokens if t and not any(c in t for c in "<>&")}, key=len, reverse=True
        )
        self._bare_specials: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(t) for t in bare)) if bare else None
        )

    def escape(self, text: str) -> str:
        """``text`` with ``&<>`` entity-encoded and bare special tokens broken."""
        out = text.translate(_HTML_ESCAPES)
        if self._bare_specials is not None:
            out = self._bare_specials.sub(lambda m: _entity(m.group(0)[0]) + m.group(0)[1:], out)
        return out


@dataclass(frozen=True, slots=True)
class Fence:
    """A pair of delimiters with a fresh random nonce, used for one request."""

    nonce: str

    @classmethod
    def new(cls) -> Fence:
        """A fence with a new 64-bit random nonce."""
        return cls(nonce=secrets.token_hex(8))

    def open(self, name: str) -> str:
        """Opening marker of the ``name`` section (``PROMPT`` or ``RESPONSE``)."""
        return f"<<<BEGIN_{name}_{self.nonce}>>>"

    def close(self, name: str) -> str:
        """Closing marker of the ``name`` section."""
        return f"<<<END_{name}_{self.nonce}>>>"

    def wrap(self, name: str, text: str, escaper: Escaper) -> str:
        """``text`` escaped and placed between this fence's markers for ``name``."""
        return f"{self.open(name)}\n{escaper.escape(text)}\n{self.close(name)}"
