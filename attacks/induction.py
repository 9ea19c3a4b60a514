"""The induction attacks, which ask a generator model for part of the prompt.

- positive_induction: the request verbatim, plus an instruction to open the answer with an
  affirmative sentence. A generator writes that sentence for the request; the template fallback
  takes a generic one from the ``fallback_opening`` pool.
- reverse_induction: the request reframed as prevention ("what should people watch out for /
  how would someone do this, so it can be stopped"). A generator rewrites the whole request; the
  template fallback wraps the request verbatim in a preventive framing.
"""

from __future__ import annotations

import random
from dataclasses import replace

from attacks.base import GeneratorAttack, Rendered
from attacks.template_data import SlotRule
from core.protocols import TextGenerator
from core.types import Case

_QUOTES = "\"'“”‘’「」『』"


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` without surrounding quotation marks."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return line.strip().strip(_QUOTES).strip()


class PositiveInduction(GeneratorAttack):
    """Asks for the answer to begin with an affirmative opening written for the request."""

    name = "positive_induction"
    version = "1"
    description = "Keeps the request and demands the answer start with an affirmative opening (generator)."
    slot_rules = (
        SlotRule("main", frozenset({"prompt", "opening"})),
        SlotRule("meta", frozenset({"prompt"})),
    )

    def render_fallback(self, case: Case, rng: random.Random) -> Rendered:
        """A generic opening from the ``fallback_opening`` pool."""
        pool = self.templates.lang(case.lang).pools["fallback_opening"]
        index = rng.randrange(len(pool))
        rendered = self.fill(case, rng, "main", {"prompt": case.text, "opening": pool[index]})
        return replace(rendered, extra=(("opening", str(index)),))

    async def render_generated(self, case: Case, rng: random.Random, generator: TextGenerator) -> Rendered:
        """An opening the generator wrote for this request."""
        answer, meta = await self.ask(case, rng, generator)
        opening = first_line(answer)
        rendered = self.fill(case, rng, "main", {"prompt": case.text, "opening": opening})
        return replace(rendered, extra=(("opening", "generated"), ("meta", meta.id)))

    def recover(self, attacked: Case) -> str | None:
        """The prompt slot; exact for fallback openings, best-effort for generated ones."""
        opening = attacked.provenance_dict().get("opening", "generated")
        known: dict[str, str] = {}
        if opening.isdigit():
            known["opening"] = self.templates.lang(attacked.lang).pools["fallback_opening"][int(opening)]
        return self.extract_slot(attacked, "prompt", known)


class ReverseInduction(GeneratorAttack):
    """Reframes the request as prevention: explain what someone would do so that it can be stopped."""

    name = "reverse_induction"
    version = "1"
    description = "Reframes the request as avoidance or prevention (generator rewrite; fallback template)."
    rewrite_group = "meta"
    slot_rules = (
        SlotRule("main", frozenset({"prompt"})),
        SlotRule("meta", frozenset({"prompt"})),
    )

    def render_fallback(self, case: Case, rng: random.Random) -> Rendered:
        """The request verbatim inside a preventive framing template."""
        return self.fill(case, rng, "main", {"prompt": case.text})

    async def render_generated(self, case: Case, rng: random.Random, generator: TextGenerator) -> Rendered:
        """The generator's preventive rewrite, as the whole prompt."""
        answer, meta = await self.ask(case, rng, generator)
        return Rendered(answer, meta.id)
