"""What the simulated models answer: deterministic refusals, cautious answers, compliance and blocks.

Each model is a ``Profile``. It reads the prompt (``reading.read_prompt``: risk topic, jailbreak
wrapper, the request inside), then decides by a hash of (vendor seed, model, request seed, prompt),
so the same request always gets the same answer and a resumed run can be compared byte for byte:

1. a jailbreak wrapper gets through with a probability that grows with the model's susceptibility
   and the wrapper's strength; the model then plays along and complies in full;
2. otherwise the model refuses with a probability set by the topic (by dimension for sim-mixed);
3. otherwise it answers, either cautiously (general information and a pointer to a professional)
   or compliantly (an affirmative opening and numbered steps whose details are withheld);
4. on top of that, a vendor whose model opts in blocks a share of clearly risky prompts with its
   own safety filter (``finish_reason="content_filter"``, with at most a few pieces of a compliant
   answer and nothing of a refusal).

Compliant answers never carry real content: see ``phrasing``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from simulator import generation, phrasing
from simulator.judging import JUDGE_MODEL, verdict
from simulator.reading import BYPASS, Reading, read_prompt


@dataclass(frozen=True, slots=True)
class Profile:
    """How one simulated model behaves."""

    refuse_on_topic: float  # refusal probability when the prompt is on a recognised risk topic
    refuse_off_topic: float  # ... when it is not
    susceptibility: float  # 0: jailbreak wrappers never get through; 1: as often as they can
    cautious_share: float  # share of its non-refusals that are cautious answers, not compliance
    block_rate: float = 0.0  # share of clearly risky prompts its vendor's filter blocks (0: never)
    by_dimension: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def refusal_probability(self, reading: Reading) -> float:
        """How likely the model is to refuse a prompt read as ``reading`` (before any jailbreak)."""
        dimension = reading.dimension
        if dimension is None:
            return self.refuse_off_topic
        return self.by_dimension.get(dimension, self.refuse_on_topic)

    def jailbreak_probability(self, reading: Reading) -> float:
        """How likely the prompt's wrapper is to get through (shapes stack: each is another chance)."""
        if not reading.shapes or self.susceptibility <= 0:
            return 0.0
        missed = 1.0
        for shape in reading.shapes:
            missed *= 1.0 - self.susceptibility * BYPASS[shape]
        return 1.0 - missed


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "sim-cautious": Profile(
            refuse_on_topic=0.88,
            refuse_off_topic=0.70,
            susceptibility=0.12,
            cautious_share=0.4,
            block_rate=0.08,
        ),
        "sim-compliant": Profile(
            refuse_on_topic=0.06, refuse_off_topic=0.03, susceptibility=0.95, cautious_share=0.0
        ),
        # Refuses by dimension: cybersecurity, crime and extremism far more than ethics or advice.
        "sim-mixed": Profile(
            refuse_on_topic=0.5,
            refuse_off_topic=0.30,
            susceptibility=0.6,
            cautious_share=0.25,
            block_rate=0.03,
            by_dimension=MappingProxyType(
                {
                    "CI": 0.90,
                    "CS": 0.85,
                    "EX": 0.90,
                    "PM": 0.80,
                    "DP": 0.50,
                    "HS": 0.55,
                    "EM": 0.20,
                    "IS": 0.10,
                }
            ),
        ),
    }
)
MODEL_NAMES: tuple[str, ...] = tuple(PROFILES)
_DEFAULT = PROFILES["sim-compliant"]  # any other model name behaves like sim-compliant
_MAX_BLOCKED_PIECES = 4


# Letters of the Chinese, Japanese and Korean ranges a simulated model answers in Chinese for, and
# every character a token estimate counts as one token. Counted by regex: a Python loop over a long
# prompt's characters would cost more than the rest of a request.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x3040, 0x30FF))
_CJK_LETTER = re.compile(
    "[" + "".join(chr(c) for low, high in _CJK_RANGES for c in range(low, high + 1) if chr(c).isalpha()) + "]"
)
_WIDE = re.compile("[\u2e80-\U0010ffff]")


def is_cjk_text(text: str) -> bool:
    """True when at least a third of the text's letters are Chinese/Japanese/Korean (answer in the
    prompt's language)."""
    cjk = len(_CJK_LETTER.findall(text))
    if cjk == 0:
        return False
    return cjk * 3 >= len(text) or cjk * 3 >= sum(map(str.isalpha, text))


def estimate_tokens(text: str) -> int:
    """A rough token count: one per CJK character, one per four other characters."""
    wide = len(_WIDE.findall(text))
    return max(1, wide + (len(text) - wide + 3) // 4)


@dataclass(frozen=True, slots=True)
class Reply:
    """A simulated answer, already split into the pieces a stream would carry."""

    pieces: tuple[str, ...]
    refused: bool
    finish_reason: str  # "stop", "length" or "content_filter" (the vendor's filter blocked it)
    prompt_tokens: int
    lang: str

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        """One token per piece, as the stream carries them."""
        return len(self.pieces)

    @property
    def blocked(self) -> bool:
        """Whether the vendor's safety filter stopped this answer."""
        return self.finish_reason == "content_filter"


def digest(*parts: object, size: int = 16) -> bytes:
    """A ``size``-byte hash of ``parts`` (stable across processes, unlike ``hash``)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=size).digest()


def unit(raw: bytes, offset: int) -> float:
    """A uniform number in [0, 1) from four bytes of ``raw``."""
    return int.from_bytes(raw[offset : offset + 4], "big") / 2**32


def decide(
    *,
    model: str,
    prompt: str,
    vendor_seed: int,
    request_seed: int | None,
    max_tokens: int | None,
    words: tuple[int, int],
) -> Reply:
    """The deterministic reply of ``model`` to ``prompt`` (``sim-judge``: a JSON critique verdict)."""
    if model == JUDGE_MODEL:
        return _judge_reply(prompt, max_tokens)
    spec = generation.parse_spec(prompt)
    if spec is not None:
        return _generator_reply(spec, prompt, vendor_seed, request_seed)
    profile = PROFILES.get(model, _DEFAULT)
    reading = read_prompt(prompt)
    key = digest(vendor_seed, model, request_seed, prompt, size=32)
    lang = "zh" if is_cjk_text(prompt) else "en"
    pick = int.from_bytes(key[4:8], "big")
    low, high = words
    filler = low + int.from_bytes(key[8:12], "big") % (high - low + 1)
    seq = int.from_bytes(key[12:16], "big")

    jailbroken = unit(key, 16) < profile.jailbreak_probability(reading)
    refused = not jailbroken and unit(key, 0) < profile.refusal_probability(reading)
    if refused:
        pieces = phrasing.refusal(lang, pick)
    elif not jailbroken and unit(key, 20) < profile.cautious_share:
        pieces = phrasing.cautious(lang, pick, filler, seq)
    else:
        pieces = phrasing.compliant(reading, lang, pick, filler, seq, jailbroken=jailbroken)

    finish = "stop"
    if profile.block_rate > 0 and reading.clearly_risky and unit(key, 24) < profile.block_rate:
        # The filter stops an answer after a few pieces (or none); a refusal had nothing to stop, so
        # there the filter is the prompt's and nothing comes out.
        pieces = [] if refused else pieces[: key[28] % (_MAX_BLOCKED_PIECES + 1)]
        finish = "content_filter"
    elif max_tokens is not None and max_tokens < len(pieces):
        pieces = pieces[: max(max_tokens, 0)]
        finish = "length"
    return Reply(
        pieces=tuple(pieces),
        refused=refused,
        finish_reason=finish,
        prompt_tokens=estimate_tokens(prompt),
        lang=lang,
    )


def _generator_reply(
    spec: generation.GenerationSpec, prompt: str, vendor_seed: int, request_seed: int | None
) -> Reply:
    """Any model asked to write test prompts answers as a generator model (see ``generation``)."""
    batch = generation.plan_batch(spec, vendor_seed=vendor_seed, request_seed=request_seed)
    lang = spec.lang if spec.lang in phrasing.REFUSALS else "en"
    text = batch.text(lang, int.from_bytes(digest(vendor_seed, prompt, size=4), "big"))
    # Pieces of about four tokens, so usage and streaming look like a real model's.
    pieces = tuple(text[i : i + 16] for i in range(0, len(text), 16))
    return Reply(
        pieces=pieces,
        refused=batch.batch_refused,
        finish_reason="stop",
        prompt_tokens=estimate_tokens(prompt),
        lang=lang,
    )


def _judge_reply(request: str, max_tokens: int | None) -> Reply:
    """``sim-judge``'s verdict, streamed in pieces of a few characters (one token each)."""
    text = verdict(request)
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    finish = "stop"
    if max_tokens is not None and max_tokens < len(pieces):
        pieces, finish = pieces[: max(max_tokens, 0)], "length"
    return Reply(
        pieces=tuple(pieces),
        refused=False,
        finish_reason=finish,
        prompt_tokens=estimate_tokens(request),
        lang="zh" if is_cjk_text(request) else "en",
    )
