"""Composition: a chain of attacks registered as one named attack.

Each step is applied to the previous step's output (the first to the base case); the result is
one case per final variant, whose parent is the base case and whose provenance lists every step
(``steps``) and each step's own provenance under ``step1.``, ``step2.``, ... keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from attacks.base import (
    GENERATOR_NONE,
    RecoverableAttack,
    RecoveryKind,
    attacked_case,
    check_applicable,
)
from attacks.errors import AttackError
from core.protocols import Attack, TextGenerator
from core.types import Case, CaseKind

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Per-step keys that the composed case states once for the whole chain.
_SHARED_KEYS = frozenset({"parent_id", "lang", "seed"})
# When steps differ in how the base can be recovered, the chain is only as recoverable as its
# weakest step: NONE beats DECODE beats FRAGMENTS beats VERBATIM.
_WEAKEST_FIRST = (RecoveryKind.NONE, RecoveryKind.DECODE, RecoveryKind.FRAGMENTS, RecoveryKind.VERBATIM)


class ComposedAttack:
    """Applies ``steps`` in order (innermost first) and registers the chain under ``name``."""

    def __init__(
        self, name: str, steps: Sequence[Attack], *, description: str = "", version: str = "1"
    ) -> None:
        if not NAME_RE.match(name):
            raise AttackError(f"composed attack name {name!r} must match {NAME_RE.pattern}")
        if len(steps) < 2:
            raise AttackError(f"composed attack {name!r} needs at least two steps")
        languages = tuple(lang for lang in steps[0].languages if all(lang in s.languages for s in steps[1:]))
        if not languages:
            raise AttackError(f"composed attack {name!r}: its steps share no language")
        self.name = name
        self.steps = tuple(steps)
        self.version = f"{version}[{'+'.join(s.version for s in self.steps)}]"
        self.languages = languages
        self.needs_generator = any(s.needs_generator for s in self.steps)
        self.description = description or "Chain: " + " then ".join(s.name for s in self.steps) + "."

    async def apply(self, case: Case, *, seed: int, generator: TextGenerator | None = None) -> list[Case]:
        """Every step applied to every output of the previous step; one case per final variant."""
        check_applicable(self, case)
        chains: list[tuple[Case, ...]] = [()]
        for step in self.steps:
            grown: list[tuple[Case, ...]] = []
            for chain in chains:
                source = chain[-1] if chain else case
                grown.extend(
                    (*chain, out) for out in await step.apply(source, seed=seed, generator=generator)
                )
            chains = grown
        return [self._finish(case, chain, seed) for chain in chains]

    def _finish(self, base: Case, chain: tuple[Case, ...], seed: int) -> Case:
        provs = [c.provenance_dict() for c in chain]
        generators = [p.get("generator", GENERATOR_NONE) for p in provs]
        used = [g for g in dict.fromkeys(generators) if g != GENERATOR_NONE]
        extra: list[tuple[str, str]] = [
            ("steps", " > ".join(f"{s.name}@{s.version}" for s in self.steps)),
        ]
        for index, prov in enumerate(provs, start=1):
            extra.extend((f"step{index}.{k}", v) for k, v in prov.items() if k not in _SHARED_KEYS)
        return attacked_case(
            base,
            attack=self.name,
            version=self.version,
            text=chain[-1].text,
            template_id=" > ".join(p.get("template_id", "") for p in provs),
            seed=seed,
            generator=", ".join(used) or GENERATOR_NONE,
            extra=extra,
        )

    def _step_case(self, attacked: Case, index: int, text: str) -> Case:
        """What step ``index`` (1-based) produced, rebuilt from the composed case's provenance."""
        prefix = f"step{index}."
        provenance = tuple((k[len(prefix) :], v) for k, v in attacked.provenance if k.startswith(prefix))
        return Case(
            id=f"{attacked.id}#step{index}",
            lang=attacked.lang,
            text=text,
            dimension=attacked.dimension,
            risk_id=attacked.risk_id,
            kind=CaseKind.ATTACK,
            attack=self.steps[index - 1].name,
            provenance=provenance,
        )

    def recovery(self, attacked: Case) -> RecoveryKind:
        """The weakest recoverability among the steps; NONE if a step cannot say."""
        kinds = set()
        for index, step in enumerate(self.steps, start=1):
            if not isinstance(step, RecoverableAttack):
                return RecoveryKind.NONE
            kinds.add(step.recovery(self._step_case(attacked, index, attacked.text)))
        return next(kind for kind in _WEAKEST_FIRST if kind in kinds)

    def recover(self, attacked: Case) -> str | None:
        """Undo the steps from the outermost in: each step recovers the previous step's text."""
        text: str | None = attacked.text
        for index in range(len(self.steps), 0, -1):
            step = self.steps[index - 1]
            if text is None or not isinstance(step, RecoverableAttack):
                return None
            text = step.recover(self._step_case(attacked, index, text))
        return text
