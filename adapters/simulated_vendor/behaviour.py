"""What the simulated models answer: deterministic refusals and bland placeholder compliance.

Each model decides by a hash of (vendor seed, model, request seed, prompt), so the same request
always gets the same answer and a resumed run can be compared byte for byte. "Compliant" answers
are non-operational filler text: this server must never produce real harmful content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Keywords that hint at an S-Eval risk dimension (en and zh). Deliberately coarse: they only steer
# how often a simulated model refuses, so that models differ by dimension as real ones do.
_DIMENSION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "CI": (
        "drug",
        "weapon",
        "gun",
        "smuggl",
        "launder",
        "counterfeit",
        "steal",
        "fraud",
        "毒品",
        "枪",
        "走私",
        "洗钱",
        "诈骗",
        "偷",
    ),
    "CS": (
        "hack",
        "malware",
        "virus",
        "password",
        "exploit",
        "phishing",
        "ddos",
        "黑客",
        "病毒",
        "密码",
        "漏洞",
        "钓鱼",
        "攻击",
    ),
    "DP": (
        "privacy",
        "personal information",
        "home address",
        "phone number",
        "id card",
        "trade secret",
        "隐私",
        "个人信息",
        "住址",
        "身份证",
        "商业机密",
    ),
    "EM": ("unethical", "cheat", "betray", "道德", "作弊", "背叛"),
    "PM": ("suicide", "self-harm", "poison", "hurt myself", "depress", "自杀", "自残", "伤害", "抑郁"),
    "HS": ("insult", "hate", "curse", "bully", "defame", "threaten", "辱骂", "仇恨", "诽谤", "威胁", "霸凌"),
    "EX": ("terror", "bomb", "extremis", "riot", "恐怖", "炸", "极端", "暴乱"),
    "IS": ("invest", "stock", "dosage", "lawsuit", "legal advice", "投资", "股票", "剂量", "诉讼", "法律"),
}

# Refusal probability per model: (when a risk keyword is present, when none is).
# sim-mixed refuses by dimension instead (see _MIXED_BY_DIMENSION).
_PROFILES: dict[str, tuple[float, float]] = {
    "sim-cautious": (0.92, 0.70),
    "sim-compliant": (0.12, 0.05),
}
_MIXED_BY_DIMENSION: dict[str, float] = {
    "CI": 0.90,
    "CS": 0.85,
    "EX": 0.90,
    "PM": 0.80,
    "DP": 0.50,
    "HS": 0.55,
    "EM": 0.20,
    "IS": 0.10,
}
_MIXED_NO_KEYWORD = 0.30

MODEL_NAMES: tuple[str, ...] = ("sim-cautious", "sim-compliant", "sim-mixed")

_REFUSALS_EN = (
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. If you have another question, I'm happy to help.",
    "Sorry, I won't provide help with this because it could cause harm.",
    "I'm not able to help with that request. It may be unsafe or against the usage policies.",
)
_REFUSALS_ZH = (
    "抱歉，我无法提供这方面的帮助。",
    "对不起，这个请求我不能协助完成。如果您有其他问题，我很乐意帮忙。",
    "抱歉，出于安全考虑，我不能回答这个问题。",
    "很抱歉，该请求可能违反使用政策，我无法提供帮助。",
)
_OPENERS_EN = ("Sure. Here is a general overview.", "Certainly, here is a high-level answer.", "Of course.")
_OPENERS_ZH = ("好的，以下是一个概括性的回答。", "当然，下面是一般性的说明。", "可以。")
# Every compliant answer says what it is, so that nobody mistakes it for a real model's output.
_MARKER_EN = "(Simulated placeholder answer: no operational detail.)"
_MARKER_ZH = "（模拟占位回答，不含可操作细节。）"
_FILLER_EN = (
    "This",
    "is",
    "simulated",
    "placeholder",
    "text",
    "from",
    "a",
    "test",
    "model",
    "and",
    "it",
    "contains",
    "no",
    "operational",
    "detail",
    "of",
    "any",
    "kind",
    "general",
    "context",
    "matters",
    "consider",
    "the",
    "broader",
    "situation",
    "consult",
    "reliable",
    "public",
    "sources",
    "overall",
)
_FILLER_ZH = (
    "这是",
    "测试",
    "模型",
    "生成",
    "的",
    "模拟",
    "占位",
    "文本",
    "，",
    "不含",
    "任何",
    "可操作",
    "细节",
    "。",
    "一般",
    "而言",
    "需要",
    "综合",
    "考虑",
    "具体",
    "情况",
    "并",
    "参考",
    "公开",
    "资料",
)


def is_cjk_text(text: str) -> bool:
    """True when the text is mostly Chinese/Japanese/Korean (answer in the prompt's language)."""
    cjk = 0
    letters = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            code = ord(ch)
            if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x3040 <= code <= 0x30FF:
                cjk += 1
    return letters > 0 and cjk * 3 >= letters


def estimate_tokens(text: str) -> int:
    """A rough token count: one per CJK character, one per four other characters."""
    cjk = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return max(1, cjk + (len(text) - cjk + 3) // 4)


def dimension_hint(prompt: str) -> str | None:
    """The first risk dimension whose keywords appear in the prompt, if any."""
    lowered = prompt.lower()
    for dimension, words in _DIMENSION_KEYWORDS.items():
        if any(word in lowered for word in words):
            return dimension
    return None


@dataclass(frozen=True, slots=True)
class Reply:
    """A simulated answer, already split into the pieces a stream would carry."""

    pieces: tuple[str, ...]
    refused: bool
    finish_reason: str  # "stop" or "length"
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


def digest(*parts: object) -> bytes:
    """A 16-byte hash of ``parts`` (stable across processes, unlike ``hash``)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=16).digest()


def unit(raw: bytes, offset: int) -> float:
    """A uniform number in [0, 1) from four bytes of ``raw``."""
    return int.from_bytes(raw[offset : offset + 4], "big") / 2**32


def refusal_probability(model: str, prompt: str) -> float:
    """How likely ``model`` is to refuse ``prompt`` (unknown models behave like sim-compliant)."""
    dimension = dimension_hint(prompt)
    if model == "sim-mixed":
        return _MIXED_BY_DIMENSION[dimension] if dimension else _MIXED_NO_KEYWORD
    with_keyword, without = _PROFILES.get(model, _PROFILES["sim-compliant"])
    return with_keyword if dimension else without


def decide(
    *,
    model: str,
    prompt: str,
    vendor_seed: int,
    request_seed: int | None,
    max_tokens: int | None,
    words: tuple[int, int],
) -> Reply:
    """The deterministic reply of ``model`` to ``prompt``."""
    key = digest(vendor_seed, model, request_seed, prompt)
    lang = "zh" if is_cjk_text(prompt) else "en"
    refused = unit(key, 0) < refusal_probability(model, prompt)
    pick = int.from_bytes(key[4:8], "big")
    pieces: list[str]
    if refused:
        sentence = (_REFUSALS_ZH if lang == "zh" else _REFUSALS_EN)[pick % 4]
        pieces = _split(sentence, lang)
    else:
        opener = (_OPENERS_ZH if lang == "zh" else _OPENERS_EN)[pick % 3]
        filler = _FILLER_ZH if lang == "zh" else _FILLER_EN
        low, high = words
        count = low + int.from_bytes(key[8:12], "big") % (high - low + 1)
        seq = int.from_bytes(key[12:16], "big")
        body = [filler[(seq + i * 7 + i * i) % len(filler)] for i in range(count)]
        sep = "" if lang == "zh" else " "
        marker = _MARKER_ZH if lang == "zh" else _MARKER_EN
        pieces = [*_split(opener, lang), *_split(marker, lang, after_text=True)]
        pieces.extend(sep + word for word in body)
        pieces.append("。" if lang == "zh" else ".")
    finish = "stop"
    if max_tokens is not None and max_tokens < len(pieces):
        pieces = pieces[: max(max_tokens, 0)]
        finish = "length"
    return Reply(
        pieces=tuple(pieces),
        refused=refused,
        finish_reason=finish,
        prompt_tokens=estimate_tokens(prompt),
        lang=lang,
    )


def _split(sentence: str, lang: str, *, after_text: bool = False) -> list[str]:
    """Stream pieces of a fixed sentence: words (en) or pairs of characters (zh)."""
    if lang == "zh":
        return [sentence[i : i + 2] for i in range(0, len(sentence), 2)]
    words = sentence.split()
    return [(" " + w if i or after_text else w) for i, w in enumerate(words)]
