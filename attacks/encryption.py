"""instruction_encryption: the request encoded (Base64, Caesar, URL encoding) with an instruction
to decode it and answer. Every scheme is a bijection on text, and ``decode`` inverts ``encode``.

Caesar is defined on two alphabets: Latin letters rotate within A-Z and a-z (mod 26), and CJK
Unified Ideographs (U+4E00-U+9FFF) rotate within that block (mod 20,992), so that Chinese
prompts are hidden too. Every other character (digits, punctuation, spaces) is left unchanged.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from urllib.parse import quote, unquote

from attacks.base import RecoveryKind, Rendered, TemplateAttack
from attacks.errors import AttackError
from attacks.template_data import AttackTemplates, SlotRule
from core.protocols import TextGenerator
from core.types import Case

_CJK_FIRST, _CJK_LAST = 0x4E00, 0x9FFF
_CJK_SIZE = _CJK_LAST - _CJK_FIRST + 1
DEFAULT_CAESAR_SHIFT = 3


def encode_base64(text: str) -> str:
    """Standard Base64 of the UTF-8 bytes."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_base64(payload: str) -> str:
    """Inverse of ``encode_base64``; ``AttackError`` for invalid Base64 or UTF-8."""
    try:
        return base64.b64decode(payload.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error) as exc:
        raise AttackError(f"not a Base64 payload of UTF-8 text: {exc}") from None


def _rotate(ch: str, shift: int) -> str:
    code = ord(ch)
    if "a" <= ch <= "z":
        return chr((code - 97 + shift) % 26 + 97)
    if "A" <= ch <= "Z":
        return chr((code - 65 + shift) % 26 + 65)
    if _CJK_FIRST <= code <= _CJK_LAST:
        return chr((code - _CJK_FIRST + shift) % _CJK_SIZE + _CJK_FIRST)
    return ch


def encode_caesar(text: str, shift: int = DEFAULT_CAESAR_SHIFT) -> str:
    """Rotate Latin letters and CJK ideographs forward by ``shift``; leave everything else."""
    return "".join(_rotate(ch, shift) for ch in text)


def decode_caesar(payload: str, shift: int = DEFAULT_CAESAR_SHIFT) -> str:
    """Inverse of ``encode_caesar`` with the same shift."""
    return "".join(_rotate(ch, -shift) for ch in payload)


def encode_url(text: str) -> str:
    """Percent-encoding of the UTF-8 bytes; only unreserved ASCII characters stay as they are."""
    return quote(text, safe="")


def decode_url(payload: str) -> str:
    """Inverse of ``encode_url``; ``AttackError`` when the bytes are not UTF-8."""
    try:
        return unquote(payload, errors="strict")
    except UnicodeDecodeError as exc:
        raise AttackError(f"URL payload is not UTF-8 text: {exc}") from None


@dataclass(frozen=True, slots=True)
class Scheme:
    """One encoding: name, and its encode/decode pair taking the Caesar shift (ignored by others)."""

    name: str
    encode: Callable[[str, int], str]
    decode: Callable[[str, int], str]


SCHEMES: Mapping[str, Scheme] = MappingProxyType(
    {
        "base64": Scheme("base64", lambda t, _s: encode_base64(t), lambda p, _s: decode_base64(p)),
        "caesar": Scheme("caesar", encode_caesar, decode_caesar),
        "url": Scheme("url", lambda t, _s: encode_url(t), lambda p, _s: decode_url(p)),
    }
)


class InstructionEncryption(TemplateAttack):
    """Encodes the request with a seeded choice among ``schemes`` and asks the model to decode and
    answer it. ``caesar_shift`` fixes the shift (1-25); ``None`` draws it per case from the seed."""

    name = "instruction_encryption"
    version = "1"
    description = (
        "Encodes the request (Base64, Caesar, URL encoding) and asks the model to decode and answer."
    )
    slot_rules = (
        SlotRule("base64", frozenset({"payload"})),
        SlotRule("caesar", frozenset({"payload"}), frozenset({"shift"})),
        SlotRule("url", frozenset({"payload"})),
    )

    def __init__(
        self,
        *,
        schemes: Sequence[str] = ("base64", "caesar", "url"),
        caesar_shift: int | None = DEFAULT_CAESAR_SHIFT,
        templates: AttackTemplates | None = None,
    ) -> None:
        unknown = [s for s in schemes if s not in SCHEMES]
        if not schemes or unknown:
            raise AttackError(
                f"instruction_encryption: unknown scheme(s) {unknown}; known: {sorted(SCHEMES)}"
            )
        if caesar_shift is not None and not 1 <= caesar_shift <= 25:
            raise AttackError(f"instruction_encryption: caesar_shift must be 1-25, got {caesar_shift}")
        super().__init__(templates)
        self.schemes = tuple(schemes)
        self.caesar_shift = caesar_shift

    async def render(self, case: Case, rng: random.Random, generator: TextGenerator | None) -> Rendered:
        """Encode with a seeded scheme (and shift) and wrap in that scheme's template."""
        scheme = SCHEMES[rng.choice(self.schemes)]
        shift = self.caesar_shift if self.caesar_shift is not None else rng.randint(1, 25)
        payload = scheme.encode(case.text, shift)
        rendered = self.fill(case, rng, scheme.name, {"payload": payload, "shift": str(shift)})
        extra = [("scheme", scheme.name)]
        if scheme.name == "caesar":
            extra.append(("shift", str(shift)))
        return replace(rendered, extra=tuple(extra))

    def recovery(self, attacked: Case) -> RecoveryKind:
        """The payload decodes to the base prompt."""
        return RecoveryKind.DECODE

    def recover(self, attacked: Case) -> str | None:
        """Extract the payload from the recorded template and decode it with the recorded scheme."""
        prov = attacked.provenance_dict()
        scheme = SCHEMES.get(prov.get("scheme", ""))
        if scheme is None:
            raise AttackError(f"case {attacked.id!r}: provenance names no known encoding scheme")
        shift = int(prov.get("shift", DEFAULT_CAESAR_SHIFT))
        payload = self.extract_slot(attacked, "payload", {"shift": str(shift)})
        return None if payload is None else scheme.decode(payload, shift)
