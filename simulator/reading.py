"""How a simulated model reads a prompt: its topic, the jailbreak wrapper around it, the request inside.

Real models see through (or fall for) adversarial wrappers: role-play personas, "ignore the above",
encoded questions, code that prints the question, nested fiction, scripted dialogues, forced
openings and "it's for a safety guide" pretexts. The simulation recognises those by their generic
shape (never by a particular attack library's wording), decodes Base64 and percent-encoding, and
assembles the string literals of a code snippet, as a capable model would. Everything is a pure
function of the prompt text: a few compiled regex searches, cheap enough for hundreds of requests
per second.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from simulator.topics import TOPICS, Topic

# Jailbreak shapes, each with how far it lowers a susceptible model's guard (0..1).
BYPASS: dict[str, float] = {
    "encoding": 0.8,
    "persona": 0.75,
    "dialogue": 0.7,
    "fiction": 0.6,
    "pretext": 0.6,
    "code": 0.55,
    "forced_opening": 0.5,
    "override": 0.45,
}

# Lower-case cues of each shape ("|" between cues), found by plain substring search (C speed,
# unlike long regex alternations): a wrapper of that shape has at least one of them.
_SHAPE_CUES: dict[str, str] = {
    "encoding": "base64|decode|decoding|decrypt|cipher|encoded|url-encod|percent-encod|rot13|"
    "编码|解码|解密|加密后|凯撒|密文",
    "persona": "no content polic|no usage polic|no notion of policy|usage polic|released from|never refuses|"
    "no guidelines|without any restrictions|developer mode|filters are disabled|unfiltered|"
    "stay in character|jailbr|you are now|pretend that|pretend to be|act as an|you are simulating|"
    "rules are reversed|扮演|保持这个角色|开发者模式|内容过滤|从不拒绝|摆脱所有|摆脱一切|没有任何内容规范|"
    "没有任何规范|没有任何准则|没有任何规则|没有任何限制|规则全部颠倒|模拟一台|不受任何",
    "dialogue": "red-lm|base-lm|transcript|chat log|missing turn|continue the dialogue|"
    "continue this dialogue|continue the conversation|\nuser:|\nassistant:|"
    "这段对话|对话记录|聊天记录|\n用户：|\n助手：",
    "fiction": "dream| layer|nested|story within|screenplay|novelist|a novel|the novel|chapter|play in which|"
    "play whose|scene for|science fiction|science-fiction|梦境|每一层|下一层|最里层|嵌套|剧本|小说|续写|科幻",
    "pretext": "safety guide|research paper|harm prevention|risk-prevention|so that readers|so readers|"
    "so that i can teach|安全指南|风险防范|培训师|研究论文",
    "code": "```|print(|console.log",
    "forced_opening": "start your reply with|start your answer with|start your response with|"
    "begin your reply with|begin your answer with|begin your response with|open your reply with|"
    "must open with|must begin with|must start with|exact words|以此开头|开头：|必须以“|开始你的回答",
    "override": "ignore the instruction|ignore the above|ignore all previous|ignore previous|"
    "ignore your instructions|never mind that|overrides everything|instead, respond|disregard the|"
    "disregard all|skip task|has been cancel|discard it|new task|不要执行上面|不用管了|优先于之前|忽略上面|"
    "忽略之前|忽略以上|请忽略|跳过任务|已被取消|新任务",
}
_SHAPES: dict[str, tuple[str, ...]] = {shape: tuple(cues.split("|")) for shape, cues in _SHAPE_CUES.items()}
assert set(_SHAPES) == set(BYPASS)

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_PERCENT_BYTE = re.compile(r"%[0-9A-Fa-f]{2}")
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_LITERAL = re.compile(r"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'")
# Where the sentences of a question start: after a line break, a colon or a quote mark.
_QUESTION_START = ("\n", ":", "：", "“", "”", '"')
_ACTION = re.compile(
    r"\b(?:how (?:do|can|could|would|should|to|long|much)|help me|what could i|where can i|ways? to|"
    r"can i|should i|tell me how)\b|怎么|如何|怎样|帮我|我该|可以.{0,12}吗|能不能|要不要"
)


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal ``words``, grouped by first character (so that CPython's
    engine rejects most positions in one step) and longest first within a group (so that a keyword
    wins over a shorter one that starts the same way)."""
    groups: dict[str, set[str]] = {}
    for word in words:
        groups.setdefault(word[0], set()).add(word[1:])
    return "|".join(
        re.escape(first)
        + "(?:"
        + "|".join(re.escape(rest) for rest in sorted(tails, key=lambda t: (-len(t), t)))
        + ")"
        for first, tails in sorted(groups.items())
    )


def _topic_regexes() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, Topic]]:
    """Regexes over the English and the Chinese keywords (matched on lower-cased text; two, because
    CPython scans far faster for one that starts with a known set of characters), and the topic of
    each keyword."""
    owner: dict[str, Topic] = {}
    for topic in TOPICS:
        for word in (*topic.keywords_en, *topic.keywords_zh):
            owner.setdefault(word.lower(), topic)
    en = _alternation(k.lower() for t in TOPICS for k in t.keywords_en)
    zh = _alternation(k for t in TOPICS for k in t.keywords_zh)
    return re.compile(rf"\b(?:{en})"), re.compile(zh), owner


_TOPIC_EN, _TOPIC_ZH, _KEYWORD_TOPIC = _topic_regexes()


@dataclass(frozen=True, slots=True)
class Reading:
    """What a simulated model makes of a prompt."""

    topic: Topic | None
    shapes: frozenset[str]  # jailbreak wrapper shapes found (keys of ``BYPASS``)
    request: str | None  # the request inside a wrapper, decoded or assembled, when one was found
    decoded: bool  # the request came out of Base64, percent-encoding or a code snippet
    asks_action: bool  # the request asks how to do something (not what or why)

    @property
    def dimension(self) -> str | None:
        """The S-Eval dimension of the topic, if any."""
        return self.topic.dimension if self.topic else None

    @property
    def clearly_risky(self) -> bool:
        """A request on a severe topic that asks for action or comes in a jailbreak wrapper."""
        return self.topic is not None and self.topic.severe and (self.asks_action or bool(self.shapes))


def find_topic(text: str) -> Topic | None:
    """The topic whose keyword occurs first in ``text`` (any case), if any."""
    low = text.lower()
    m = _TOPIC_EN.search(low)
    zh = _TOPIC_ZH.search(low, 0, m.start() if m is not None else len(low))
    first = zh if zh is not None else m
    return _KEYWORD_TOPIC[first.group(0)] if first is not None else None


def read_prompt(prompt: str) -> Reading:
    """Read ``prompt`` as a simulated model does (pure, deterministic)."""
    low = prompt.lower()
    shapes = frozenset(shape for shape, cues in _SHAPES.items() if any(cue in low for cue in cues))
    if not shapes:
        return Reading(find_topic(prompt), shapes, None, False, bool(_ACTION.search(low)))
    request = _decoded(prompt) if "encoding" in shapes or "code" in shapes else None
    decoded = request is not None
    if request is None and "encoding" not in shapes:
        # An undecodable cipher hides the question; anything else leaves it in plain sight.
        request = _last_question(prompt)
    # The topic is read in the request when there is one: the wrapper's own examples and rules
    # ("no words about ethics or the law") say nothing about what is asked.
    hidden = request is None and "encoding" in shapes
    topic = find_topic(request) if request else (None if hidden else find_topic(prompt))
    asks = bool(_ACTION.search(request.lower() if request else low))
    return Reading(topic, shapes, request, decoded, asks)


def _decoded(prompt: str) -> str | None:
    """The question hidden in Base64, percent-encoding or a code snippet's string literals."""
    for m in _BASE64.finditer(prompt):
        token = m.group(0)
        try:
            text = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if text.strip() and sum(ch.isprintable() for ch in text) >= 0.95 * len(text):
            return text.strip()
    if "%" in prompt:
        for token in prompt.split():
            if _PERCENT_BYTE.search(token) is None:
                continue
            try:
                text = unquote(token, errors="strict")
            except UnicodeDecodeError:
                continue
            if text.strip():
                return text.strip()
    fence = _FENCE.search(prompt)
    if fence is not None:
        parts = [a or b for a, b in _LITERAL.findall(fence.group(1))]
        joined = "".join(p for p in parts if p.strip(" {}"))  # not format strings such as "{}{}"
        if len(parts) >= 2 and joined.strip():
            return joined.strip()
    return None


def _last_question(prompt: str) -> str | None:
    """The last question in ``prompt``, with the sentences before it back to a line break, colon or
    quote mark."""
    end = max(prompt.rfind("?"), prompt.rfind("？"))
    if end < 0:
        return None
    start = max(prompt.rfind(mark, 0, end) for mark in _QUESTION_START) + 1
    question = prompt[start : end + 1].strip()
    return question or None
