"""The simulated generator model (Mt): answers the gateway's prompt-generation requests.

A generation prompt carries one machine-readable line, ``Request: {"task": "seval.generate_prompts",
"node": ..., "name": ..., "lang": ..., "count": N}`` (the templates in ``gateway/generation``
put it there). Any simulated model that sees it answers like a test-writing model would: a JSON
object ``{"prompts": [{"text": ...}, ...]}`` with ``count`` rows. The rows are placeholders (a
neutral word salad tagged as simulated; never real risk content) and some are planted faults,
decided by a hash of (vendor seed, node, language, request seed, row index), so tests and the
benchmark know exactly what a correct filter must drop (``plan_batch`` is that ground truth):

- ``refusal``: the row is a refusal sentence instead of a prompt;
- ``wrong_lang``: the row is in the other language;
- ``dup_exact``: the row repeats an earlier row of the batch;
- ``dup_near``: an earlier row with a short phrase added.

A small share of whole answers are a refusal instead of JSON (``batch_refused``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from simulator.phrasing import REFUSALS

TASK = "seval.generate_prompts"
_SPEC_LINE = re.compile(r"^Request: (\{.*\})\s*$", re.MULTILINE)

REFUSE_ROW = 0.05
WRONG_LANG = 0.05
DUP_EXACT = 0.06
DUP_NEAR = 0.04
BATCH_REFUSED = 0.03

# Neutral words for placeholder rows, split at runtime so the lists stay readable.
_EN_WORDS = (
    "river lantern meadow copper window harbor pencil orchard candle violet marble ladder "
    "compass garden thunder velvet saddle quartz willow beacon pebble timber falcon anchor "
    "biscuit cobalt dune ember fjord glacier hazel igloo jasmine kettle lilac mosaic nutmeg "
    "oyster parcel quiver ribbon spindle tulip umbra vessel walnut yonder zephyr acorn bramble "
    "cinder drizzle easel fern gravel hollow inkwell juniper kelp lagoon"
)
_ZH_WORDS = (
    "河流 灯笼 草地 铜器 窗户 港口 铅笔 果园 蜡烛 紫罗兰 大理石 梯子 指南针 花园 雷声 丝绒 "
    "马鞍 石英 柳树 灯塔 卵石 木材 猎鹰 船锚 饼干 钴蓝 沙丘 余烬 峡湾 冰川 榛子 雪屋 茉莉 水壶 "
    "丁香 马赛克 豆蔻 牡蛎 包裹 箭袋 丝带 纺锤 郁金香 阴影 容器 核桃 远方 微风 橡子 荆棘 煤渣 "
    "细雨 画架 蕨类 砾石 山谷 墨水 杜松 海带 泻湖"
)
_WORDS = {"en": tuple(_EN_WORDS.split(" ")), "zh": tuple(_ZH_WORDS.split(" "))}
_TAG = {"en": "[simulated placeholder prompt]", "zh": "【模拟占位提示】"}
_NEAR_SUFFIX = {"en": " Please keep it brief.", "zh": "请简要说明。"}
_OTHER = {"en": "zh", "zh": "en"}


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """What a generation prompt asks for."""

    node: str
    name: str
    lang: str
    count: int


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One row of a simulated batch and what it is (``ok`` or a planted fault)."""

    kind: str  # ok | refusal | wrong_lang | dup_exact | dup_near
    text: str


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """A simulated generator's whole answer: its rows, or a refusal of the whole request."""

    rows: tuple[PlannedRow, ...]
    batch_refused: bool

    def text(self, lang: str, pick: int) -> str:
        """The answer as the model writes it."""
        if self.batch_refused:
            refusals = REFUSALS[lang if lang in REFUSALS else "en"]
            return refusals[pick % len(refusals)]
        return json.dumps({"prompts": [{"text": r.text} for r in self.rows]}, ensure_ascii=False)


def parse_spec(prompt: str) -> GenerationSpec | None:
    """The spec of a generation prompt, or None when ``prompt`` is not one."""
    match = _SPEC_LINE.search(prompt)
    if match is None:
        return None
    try:
        raw = json.loads(match[1])
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or raw.get("task") != TASK:
        return None
    node, name, lang, count = raw.get("node"), raw.get("name"), raw.get("lang"), raw.get("count")
    if not (isinstance(node, str) and isinstance(name, str) and isinstance(lang, str)):
        return None
    if not isinstance(count, int) or not 0 < count <= 500:
        return None
    return GenerationSpec(node, name, lang, count)


def plan_batch(spec: GenerationSpec, *, vendor_seed: int, request_seed: int | None) -> PlannedBatch:
    """The deterministic answer to ``spec`` (the ground truth tests and benchmarks check against)."""
    # Imported here: ``behaviour`` imports this module to recognise generation prompts.
    from simulator.behaviour import digest, unit

    lang = spec.lang if spec.lang in _WORDS else "en"
    head = digest("gen", vendor_seed, spec.node, lang, request_seed, size=8)
    if unit(head, 0) < BATCH_REFUSED:
        return PlannedBatch((), True)
    rows: list[PlannedRow] = []
    for i in range(spec.count):
        key = digest("gen-row", vendor_seed, spec.node, lang, request_seed, i, size=16)
        u = unit(key, 0)
        pick = int.from_bytes(key[4:8], "big")
        earlier = [r for r in rows if r.kind == "ok"]
        if u < REFUSE_ROW:
            refusals = REFUSALS[lang]
            rows.append(PlannedRow("refusal", refusals[pick % len(refusals)]))
        elif u < REFUSE_ROW + WRONG_LANG:
            rows.append(PlannedRow("wrong_lang", _placeholder(spec, _OTHER[lang], key)))
        elif u < REFUSE_ROW + WRONG_LANG + DUP_EXACT and earlier:
            rows.append(PlannedRow("dup_exact", earlier[pick % len(earlier)].text))
        elif u < REFUSE_ROW + WRONG_LANG + DUP_EXACT + DUP_NEAR and earlier:
            rows.append(PlannedRow("dup_near", earlier[pick % len(earlier)].text + _NEAR_SUFFIX[lang]))
        else:
            rows.append(PlannedRow("ok", _placeholder(spec, lang, key)))
    return PlannedBatch(tuple(rows), False)


def _placeholder(spec: GenerationSpec, lang: str, key: bytes) -> str:
    words = _WORDS[lang]
    picked = [words[b % len(words)] for b in key[8:16]] + [words[(b >> 3) % len(words)] for b in key[8:14]]
    serial = int.from_bytes(key[:4], "big") % 100_000
    if lang == "zh":
        return f"{_TAG['zh']}关于“{spec.name}”的测试问题{serial}：{''.join(picked)}？"
    return f"{_TAG['en']} About {spec.name}, test question {serial}: {' '.join(picked)}?"
