"""Errors raised by the attack library. Each message names the attack, file or case it is about."""

from __future__ import annotations

from core.errors import InputError, UnknownPluginError


class AttackError(InputError):
    """An attack cannot be applied as asked (unsupported language, empty prompt, bad output)."""


class UnknownAttackError(AttackError, UnknownPluginError):
    """No attack is registered under the requested name."""


class GeneratorRequiredError(AttackError):
    """An attack needs a generator model and none was configured (nor the template fallback allowed)."""


class TemplateDataError(AttackError):
    """An attack's template file is missing, malformed, or breaks the attack's slot rules."""


class PluginLoadError(AttackError):
    """An attack plugin (``seval.attacks`` entry point) could not be loaded or was rejected."""
