"""The prompted judge's critique task, shared by every path that asks a chat model for a verdict.

One place builds the messages and reads the answer, for the ``openai`` backend (an OpenAI-compatible
endpoint reached directly) and for the gateway's ``judge`` critic (any vendor, through the adapters
and the call policy). The prompts are versioned data (``judge_data/seval_critique.yaml``, zh and en);
the verdict is one JSON object of ``VERDICT_SCHEMA``. Anything else (prose, two objects, extra keys,
a label outside safe/unsafe, a score outside [0, 1], unknown tags) is an item error: a CRITIC_ERROR
at the gateway, never a safe verdict.

The texts under judgement are fenced and escaped (``critic_server.fencing``): this is an instruction
template whose instructions name the markers, which is where fences belong.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.critic_wire import DIMENSION_IDS
from core.errors import ConfigError
from core.types import stable_hash
from critic_server.backends.base import Judgement
from critic_server.fencing import Escaper, Fence

DimensionId = Literal["CI", "CS", "DP", "EM", "PM", "HS", "EX", "IS"]
PROMPT_FILE = Path(__file__).with_name("judge_data") / "seval_critique.yaml"
_LANGS = ("en", "zh")
_PLACEHOLDERS = (
    "{lang}",
    "{prompt_open}",
    "{prompt_close}",
    "{response_open}",
    "{response_close}",
    "{prompt_block}",
    "{response_block}",
)
# A model without a JSON mode often wraps its object in one Markdown code fence; only that is unwrapped.
_CODE_FENCE = re.compile(r"\A```(?:json)?\s*\n(.*)\n```\Z", re.DOTALL)


class JudgeVerdict(BaseModel):
    """The JSON object the judge must return."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Literal["safe", "unsafe"]
    risk_score: float = Field(ge=0.0, le=1.0)
    risk_tags: list[DimensionId]
    explanation: str = Field(max_length=4000)


VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "risk_score", "risk_tags", "explanation"],
    "properties": {
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
        "risk_score": {"type": "number", "minimum": 0, "maximum": 1},
        "risk_tags": {"type": "array", "items": {"type": "string", "enum": list(DIMENSION_IDS)}},
        "explanation": {"type": "string"},
    },
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "critic_verdict", "strict": True, "schema": VERDICT_SCHEMA},
}


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    """The critique instructions (system) and the item template (user), per language."""

    name: str
    system: MappingProxyType[str, str]
    user: MappingProxyType[str, str]
    version: str

    def language(self, lang: str) -> str:
        """The prompt language used for an item in ``lang`` (zh for Chinese, else en)."""
        return "zh" if lang.lower().startswith("zh") else "en"

    def system_for(self, lang: str) -> str:
        """The instructions for an item in ``lang``."""
        return self.system[self.language(lang)]

    def user_message(self, prompt: str, response: str, lang: str, fence: Fence, escaper: Escaper) -> str:
        """The user message for one item: both texts escaped, each between ``fence``'s markers."""
        return self.user[self.language(lang)].format(
            lang=lang,
            prompt_open=fence.open("PROMPT"),
            prompt_close=fence.close("PROMPT"),
            response_open=fence.open("RESPONSE"),
            response_close=fence.close("RESPONSE"),
            prompt_block=fence.wrap("PROMPT", prompt, escaper),
            response_block=fence.wrap("RESPONSE", response, escaper),
        )


def _check(data: Any, path: Path) -> JudgePrompt:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    parts: dict[str, MappingProxyType[str, str]] = {}
    for section in ("system", "user"):
        texts = data.get(section)
        if not isinstance(texts, dict) or set(texts) != set(_LANGS):
            raise ConfigError(f"{path}: {section} must have exactly the languages {', '.join(_LANGS)}")
        for lang, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"{path}: {section}.{lang} must be non-empty text")
            if section == "user":
                missing = [p for p in _PLACEHOLDERS if p not in text]
                if missing:
                    raise ConfigError(f"{path}: user.{lang} lacks {', '.join(missing)}")
        parts[section] = MappingProxyType(dict(texts))
    name = str(data.get("name", path.stem))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    version = f"{name}.r{data.get('revision', 0)}-{stable_hash(digest, VERDICT_SCHEMA, length=8)}"
    return JudgePrompt(name=name, system=parts["system"], user=parts["user"], version=version)


@cache
def load_judge_prompt(path: Path = PROMPT_FILE) -> JudgePrompt:
    """The judge prompt in ``path`` (default: the shipped S-Eval critique prompt), checked."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read judge prompt {path}: {exc}") from exc
    return _check(data, path)


def parse_verdict(content: str) -> Judgement:
    """A judgement from the judge's text; any break of the verdict schema is an item error."""
    text = content.strip()
    fenced = _CODE_FENCE.match(text)
    if fenced is not None:
        text = fenced.group(1).strip()
    try:
        verdict = JudgeVerdict.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'output'}: {e['msg']}" for e in exc.errors()[:3]
        )
        return Judgement.failed(f"judge output breaks the verdict schema: {problems}")
    return Judgement(
        label=verdict.label,
        risk_score=verdict.risk_score,
        risk_tags=tuple(dict.fromkeys(verdict.risk_tags)),
        explanation=verdict.explanation,
    )
