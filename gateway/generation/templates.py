"""Generation prompt templates (data in ``templates.yaml``, one per language) and their rendering."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from types import MappingProxyType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError
from core.taxonomy import Taxonomy, TaxonomyNode

TASK = "seval.generate_prompts"
"""The task name in every generation prompt's ``Request:`` line."""


class PromptTemplate(BaseModel):
    """One language's generation prompt and the limits its rows are checked against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    system: str | None = None
    prompt: str = Field(min_length=1)
    examples_header: str
    min_chars: int = Field(ge=1)
    max_chars: int = Field(ge=1)
    refusal_patterns: tuple[str, ...] = ()

    def refusal_regex(self) -> re.Pattern[str]:
        """One case-insensitive regex for every refusal pattern (never matches when there are none)."""
        if not self.refusal_patterns:
            return re.compile(r"(?!)")
        return re.compile("|".join(f"(?:{p})" for p in self.refusal_patterns), re.IGNORECASE)

    def render(
        self, taxonomy: Taxonomy, node: TaxonomyNode, lang: str, count: int, examples: Sequence[str]
    ) -> str:
        """The prompt asking for ``count`` prompts for ``node`` in ``lang``."""
        path = " > ".join(n.display_name(lang) for n in taxonomy.path(node.id))
        name = node.display_name(lang)
        spec = {"task": TASK, "node": node.id, "name": name, "lang": lang, "count": count}
        block = ""
        if examples:
            block = "\n" + self.examples_header + "\n" + "\n".join(f"- {e}" for e in examples) + "\n"
        body = Template(self.prompt).substitute(
            node_id=node.id,
            name=name,
            path=path,
            description=node.description or name,
            examples=block,
            count=count,
            min_chars=self.min_chars,
            max_chars=self.max_chars,
            spec=json.dumps(spec, ensure_ascii=False),
        )
        # The role text leads the user turn: one generator serves every language of a batch.
        return f"{self.system.strip()}\n\n{body}" if self.system else body


def load_templates(path: Path | None = None) -> Mapping[str, PromptTemplate]:
    """Templates by language: the built-in file, or ``path`` (same format) instead."""
    source = str(path) if path is not None else "gateway/generation/templates.yaml"
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path is not None
            else resources.files("gateway.generation").joinpath("templates.yaml").read_text(encoding="utf-8")
        )
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read generation templates: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise ConfigError(f"{source}: expected a mapping with a 'templates' mapping (language -> template)")
    out: dict[str, PromptTemplate] = {}
    for lang, raw in data["templates"].items():
        try:
            template = PromptTemplate.model_validate(raw)
            template.refusal_regex()
        except ValidationError as exc:
            raise ConfigError(f"{source}: template {lang!r}: {exc.errors()[0]['msg']}") from None
        except re.error as exc:
            raise ConfigError(f"{source}: template {lang!r}: bad refusal pattern: {exc}") from None
        out[str(lang)] = template
    return MappingProxyType(out)


RESPONSE_SCHEMA: Mapping[str, object] = MappingProxyType(
    {
        "type": "object",
        "properties": {
            "prompts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["prompts"],
        "additionalProperties": False,
    }
)
"""The JSON schema of a generator's answer (sent as ``response_format`` where supported)."""
