"""Judge-injection hardening for prompt-based critics (hf, openai, the gateway's judge).

Two regimes. An instruction-template judge (a general model told what to do, whose instructions name
the markers) gets both layers below. A fine-tuned chat-format judge (Octopus-SEval, XGuard) must see
the texts exactly as in training, so only ``SpecialTokenGuard`` applies: the tokenizer's special
tokens inside the texts are broken (a zero-width space after their first character) so no text can
end its turn, and nothing else changes.

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


# Chat-markup tokens of common templates (``<|im_end|>``, ``<|eot_id|>``, ``<|start_header_id|>``):
# broken even when the caller does not know the served model's tokenizer (a vLLM endpoint).
_CHAT_MARKUP = re.compile(r"<\|[A-Za-z0-9_\-]{1,40}\|>")
_ZWSP = "\u200b"


class SpecialTokenGuard:
    """Breaks special tokens inside an untrusted text; every other character is left as it is."""

    __slots__ = ("_pattern",)

    def __init__(self, special_tokens: Iterable[str] = (), *, chat_markup: bool = True) -> None:
        tokens = sorted({t for t in special_tokens if len(t) > 1}, key=len, reverse=True)
        parts = [re.escape(t) for t in tokens]
        if chat_markup:
            parts.append(_CHAT_MARKUP.pattern)
        self._pattern: re.Pattern[str] | None = re.compile("|".join(parts)) if parts else None

    def neutralize(self, text: str) -> str:
        """``text`` with each special token split after its first character (no other change)."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: m.group(0)[0] + _ZWSP + m.group(0)[1:], text)


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
