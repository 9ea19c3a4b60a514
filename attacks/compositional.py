"""compositional_instructions: the request hidden inside a composite task, such as continuing a
story in which a character has to do what the request asks.

A generator turns the request into such a writing task, which is put in a ``frame`` template; the
template fallback embeds the request verbatim in one of our own composite tasks.
"""

from __future__ import annotations

import random
from dataclasses import replace

from attacks.base import GeneratorAttack, Rendered
from attacks.template_data import SlotRule
from core.protocols import TextGenerator
from core.types import Case


class CompositionalInstructions(GeneratorAttack):
    """Hides the request inside a creative or multi-part task."""

    name = "compositional_instructions"
    version = "1"
    description = "Hides the request inside a composite task such as continuing a story (generator)."
    rewrite_group = "frame"
    slot_rules = (
        SlotRule("main", frozenset({"prompt"})),
        SlotRule("frame", frozenset({"task"})),
        SlotRule("meta", frozenset({"prompt"})),
    )

    def render_fallback(self, case: Case, rng: random.Random) -> Rendered:
        """The request verbatim inside one of our composite tasks."""
        return self.fill(case, rng, "main", {"prompt": case.text})

    async def render_generated(self, case: Case, rng: random.Random, generator: TextGenerator) -> Rendered:
        """The generator's writing task built around the request, inside a seeded frame."""
        task, meta = await self.ask(case, rng, generator)
        rendered = self.fill(case, rng, "frame", {"task": task})
        return replace(rendered, extra=(("meta", meta.id),))
