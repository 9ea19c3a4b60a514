"""in_context_attack: several example exchanges in which an assistant complies, then the request
as the next user turn.

A generator writes example exchanges on topics near the request; the template fallback uses our
own mild examples with placeholder answers (the attack's structure is what is tested). Both are
rendered through the language's ``pair`` template, whose wording also tells the parser which
labels mark a user turn and an assistant turn.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from attacks.base import GeneratorAttack, Rendered
from attacks.template_data import LanguageTemplates, SlotRule, Template
from core.errors import GenerationError
from core.protocols import TextGenerator
from core.types import Case

DEFAULT_EXAMPLES = 3
# English labels are always accepted too: generators often keep them whatever the language.
_FALLBACK_LABELS = ("User", "Assistant")
# "Label: text", also in bold ("**User:** text") and with a full-width colon.
_LABEL_RE = re.compile(r"^\s*\**([^:：*]{1,20})\**\s*[:：]\**\s*(.*)$")


def _pair_labels(pair: Template) -> tuple[str, str]:
    """The user and assistant labels of a pair template (``User: {{question}}\\nAssistant: {{answer}}``)."""
    head, _, rest = pair.text.partition("{{question}}")
    middle = rest.partition("{{answer}}")[0]
    return head.strip().rstrip(":：").strip(), middle.strip().rstrip(":：").strip()


def parse_pairs(text: str, labels: tuple[str, str]) -> list[tuple[str, str]]:
    """(question, answer) pairs from ``User: ...`` / ``Assistant: ...`` lines; answers may span lines."""
    users = {labels[0].lower(), _FALLBACK_LABELS[0].lower()}
    assistants = {labels[1].lower(), _FALLBACK_LABELS[1].lower()}
    pairs: list[tuple[str, str]] = []
    question: list[str] | None = None
    answer: list[str] | None = None

    def close() -> None:
        if question is not None and answer is not None:
            q, a = "\n".join(question).strip(), "\n".join(answer).strip()
            if q and a:
                pairs.append((q, a))

    for line in text.splitlines():
        found = _LABEL_RE.match(line)
        label = found.group(1).strip().lower() if found else ""
        if found and label in users:
            close()
            question, answer = [found.group(2)], None
        elif found and label in assistants and question is not None and answer is None:
            answer = [found.group(2)]
        elif answer is not None:
            answer.append(line)
        elif question is not None:
            question.append(line)
    close()
    return pairs


class InContextAttack(GeneratorAttack):
    """Prefixes the request with example exchanges in which the assistant always complies."""

    name = "in_context_attack"
    version = "1"
    description = "Puts example exchanges of a complying assistant before the request (generator)."
    slot_rules = (
        SlotRule("main", frozenset({"prompt", "examples"})),
        SlotRule("pair", frozenset({"question", "answer"})),
        SlotRule("meta", frozenset({"prompt"}), frozenset({"count"})),
    )

    def __init__(self, *, examples: int = DEFAULT_EXAMPLES) -> None:
        super().__init__()
        self.examples = examples

    def _pair(self, lang: LanguageTemplates) -> Template:
        return lang.group("pair")[0]

    def render_fallback(self, case: Case, rng: random.Random) -> Rendered:
        """Our own mild example exchanges, a seeded sample from the ``fallback_example`` pool."""
        pool = self.templates.lang(case.lang).pools["fallback_example"]
        picked = rng.sample(range(len(pool)), min(self.examples, len(pool)))
        examples = "\n\n".join(pool[i] for i in picked)
        rendered = self.fill(case, rng, "main", {"prompt": case.text, "examples": examples})
        return replace(rendered, extra=(("examples", ",".join(map(str, picked))),))

    async def render_generated(self, case: Case, rng: random.Random, generator: TextGenerator) -> Rendered:
        """Example exchanges written by the generator, re-rendered in the pair format."""
        lang = self.templates.lang(case.lang)
        pair = self._pair(lang)
        answer, meta = await self.ask(case, rng, generator, {"count": str(self.examples)})
        pairs = parse_pairs(answer, _pair_labels(pair))[: self.examples]
        if not pairs:
            raise GenerationError(
                f"attack {self.name!r} on case {case.id!r}: the generator's answer has no "
                "user/assistant example exchanges"
            )
        examples = "\n\n".join(pair.render({"question": q, "answer": a}) for q, a in pairs)
        rendered = self.fill(case, rng, "main", {"prompt": case.text, "examples": examples})
        return replace(rendered, extra=(("examples", "generated"), ("meta", meta.id)))

    def recover(self, attacked: Case) -> str | None:
        """The prompt slot; exact for fallback examples, best-effort for generated ones."""
        lang = self.templates.lang(attacked.lang)
        picked = attacked.provenance_dict().get("examples", "generated")
        known: dict[str, str] = {}
        if picked != "generated":
            pool = lang.pools["fallback_example"]
            known["examples"] = "\n\n".join(pool[int(i)] for i in picked.split(","))
        return self.extract_slot(attacked, "prompt", known)
