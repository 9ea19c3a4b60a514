"""The project's one error hierarchy: every error it raises on purpose is a ``SevalError``.

Front doors (CLI, SDK callers) catch ``SevalError`` to tell bad input and unavailable services
apart from bugs. Each class also keeps the builtin base it always had (``ValueError`` for bad
input, ``RuntimeError`` for a service or state that failed), so callers that caught those still do.
Package-specific errors subclass one of the classes here in their own package.
"""

from __future__ import annotations


class SevalError(Exception):
    """Base of every error the gateway raises deliberately; the message is safe to show a user."""


class InputError(SevalError, ValueError):
    """Bad input from a user's file, flag or dataset; the message names the file, field or line."""


class ConfigError(InputError):
    """A run config could not be loaded or is inconsistent; the message names the file, field and line."""


class TaxonomyError(InputError):
    """A taxonomy file is unreadable or has invalid entries; ``problems`` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid taxonomy:\n  " + "\n  ".join(problems))


class ServiceError(SevalError, RuntimeError):
    """A service the gateway depends on (store, critic, generator model) failed or is unreachable."""


class GenerationError(ServiceError):
    """A generator model could not produce a usable rewrite."""


class UnknownPluginError(InputError):
    """No adapter, critic backend or attack is registered under the requested name."""
