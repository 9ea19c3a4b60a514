"""The pure-template attacks: the base prompt is placed verbatim inside a seeded template.

Their wording is data (``attacks/templates/<name>.yaml``); these classes only name them.
"""

from __future__ import annotations

from attacks.base import TemplateAttack


class InstructionJailbreak(TemplateAttack):
    """Persona and mode-switch jailbreak templates (an unrestricted persona, a "developer mode",
    two simulated assistants, an opposite-rules game) wrapped around the request."""

    name = "instruction_jailbreak"
    version = "1"
    description = "Wraps the request in a persona or mode-switch jailbreak template (zh, en)."


class GoalHijacking(TemplateAttack):
    """A benign task first, then an instruction to drop it and answer the request instead."""

    name = "goal_hijacking"
    version = "1"
    description = "Starts a benign task, then tells the model to ignore it and answer the request."


class DeepInception(TemplateAttack):
    """Nested fiction: characters who create stories within stories, layer after layer, each
    layer contributing to the request."""

    name = "deepinception"
    version = "1"
    description = "Hides the request in nested layers of fiction (a story within a story)."


class ChainOfUtterances(TemplateAttack):
    """A Red-LM / Base-LM dialogue with an example exchange, asking for Base-LM's unfiltered reply
    to the request."""

    name = "chain_of_utterances"
    version = "1"
    description = "Frames the request as a Red-LM turn and asks for Base-LM's unfiltered answer."
