"""The attack registry: the built-in attacks plus those other installed packages publish in the
``seval.attacks`` entry-point group.

A plugin's entry point names an ``Attack`` instance, an ``Attack`` class (instantiated with no
arguments) or a no-argument factory returning one; the entry point's name must equal the attack's
``name``. A plugin that fails to load, is not an ``Attack``, or reuses a taken name is left out
and recorded as a problem naming it; the other attacks load regardless.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from types import MappingProxyType

from attacks.code_injection import CodeInjection
from attacks.composition import NAME_RE, ComposedAttack
from attacks.compositional import CompositionalInstructions
from attacks.encryption import InstructionEncryption
from attacks.errors import PluginLoadError, UnknownAttackError
from attacks.in_context import InContextAttack
from attacks.induction import PositiveInduction, ReverseInduction
from attacks.templated import ChainOfUtterances, DeepInception, GoalHijacking, InstructionJailbreak
from core.plugins import PluginProblem, load_plugins, missing_message
from core.protocols import Attack

ENTRY_POINT_GROUP = "seval.attacks"
# The ten S-Eval attacks, in the order of the released attack files.
SEVAL_ATTACKS: tuple[str, ...] = (
    "positive_induction",
    "reverse_induction",
    "code_injection",
    "instruction_jailbreak",
    "goal_hijacking",
    "instruction_encryption",
    "deepinception",
    "in_context_attack",
    "chain_of_utterances",
    "compositional_instructions",
)


def builtin_attacks() -> tuple[Attack, ...]:
    """Fresh instances of the ten S-Eval attacks and the built-in compositions."""
    return (
        PositiveInduction(),
        ReverseInduction(),
        CodeInjection(),
        InstructionJailbreak(),
        GoalHijacking(),
        InstructionEncryption(),
        DeepInception(),
        InContextAttack(),
        ChainOfUtterances(),
        CompositionalInstructions(),
        ComposedAttack(
            "encrypted_jailbreak",
            [InstructionEncryption(schemes=("base64",)), InstructionJailbreak()],
            description="Base64-encodes the request, then wraps that in a persona jailbreak template.",
        ),
    )


@dataclass(frozen=True, slots=True)
class AttackRegistry:
    """Attacks by name, and the plugins that were left out."""

    attacks: Mapping[str, Attack]
    problems: tuple[PluginProblem, ...] = ()

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self.attacks)

    def by_name(self) -> list[Attack]:
        """Registered attacks, sorted by name."""
        return [self.attacks[name] for name in self.names()]

    def get(self, name: str) -> Attack:
        """The attack called ``name``; a clear error when it is unknown or its plugin failed."""
        attack = self.attacks.get(name)
        if attack is not None:
            return attack
        message = missing_message("attack", name, self.attacks, self.problems)
        if any(p.name == name for p in self.problems):
            raise PluginLoadError(message)
        raise UnknownAttackError(message)


def _check(obj: object, ep_name: str) -> Attack:
    """``obj`` as a valid Attack named ``ep_name``, or ``ValueError`` saying what is wrong."""
    if not isinstance(obj, Attack):
        raise ValueError(
            f"{type(obj).__name__} is not an Attack (needs name, version, languages, "
            "description, needs_generator and async apply)"
        )
    if not isinstance(obj.name, str) or not NAME_RE.match(obj.name):
        raise ValueError(f"attack name {obj.name!r} must match {NAME_RE.pattern}")
    if obj.name != ep_name:
        raise ValueError(f"entry point is named {ep_name!r} but the attack is named {obj.name!r}")
    if not isinstance(obj.version, str) or not obj.version:
        raise ValueError("version must be a non-empty string")
    languages = obj.languages
    if not isinstance(languages, tuple) or not languages or not all(isinstance(x, str) for x in languages):
        raise ValueError("languages must be a non-empty tuple of language codes")
    if not isinstance(obj.needs_generator, bool):
        raise ValueError("needs_generator must be a bool")
    if not inspect.iscoroutinefunction(obj.apply):
        raise ValueError("apply must be an async method")
    return obj


def _load(ep: EntryPoint) -> Attack:
    loaded = ep.load()
    is_factory = inspect.isclass(loaded) or (callable(loaded) and not isinstance(loaded, Attack))
    obj = loaded() if is_factory else loaded
    return _check(obj, ep.name)


def load_registry(*, plugins: Iterable[EntryPoint] | None = None) -> AttackRegistry:
    """Built-ins plus plugins (default: the installed ``seval.attacks`` entry points).

    A plugin whose name is a built-in's, or that two plugins share, is rejected with a problem
    naming each; loading errors become problems too. Nothing a plugin does stops the rest loading.
    """
    attacks: dict[str, Attack] = {a.name: a for a in builtin_attacks()}
    loaded, problems = load_plugins(
        ENTRY_POINT_GROUP, kind="attack", taken=attacks, load=_load, plugins=plugins
    )
    attacks.update(loaded)
    return AttackRegistry(MappingProxyType(attacks), problems)


@functools.cache
def default_registry() -> AttackRegistry:
    """The registry of this process, loaded once (built-ins and installed plugins)."""
    return load_registry()


def list_attacks() -> list[Attack]:
    """Every registered attack, sorted by name."""
    return default_registry().by_name()


def get_attack(name: str) -> Attack:
    """The registered attack called ``name`` (``UnknownAttackError`` / ``PluginLoadError`` otherwise)."""
    return default_registry().get(name)
