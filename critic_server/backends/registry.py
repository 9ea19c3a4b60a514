"""The critic-backend registry: the built-in backends plus those other installed packages publish in
the ``seval.critics`` entry-point group.

Each backend is a ``BackendSpec``: a name and a ``"module:callable"`` path imported only when the
backend is loaded (``hf`` imports torch, so choosing ``rules`` never pays for it). The callable
takes the backend's settings section of the server config (``settings``: ``rules``, ``hf``,
``openai``) or, for plugins, which have no section there, the whole ``ServerConfig``; it returns a
``Backend`` or an awaitable of one (model backends load their weights in a worker thread).
A plugin's entry point names a ``BackendSpec`` (or a no-argument callable returning one) whose
``name`` equals the entry point's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any

from core.plugins import Registry, import_object
from critic_server.backends.base import Backend

if TYPE_CHECKING:
    from critic_server.config import ServerConfig

ENTRY_POINT_GROUP = "seval.critics"


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """One registered critic backend; its implementation is imported when it is loaded."""

    name: str
    factory: str
    """``"module:callable"`` taking the settings and returning a ``Backend`` (or an awaitable of one)."""
    settings: str | None = None
    """The ``ServerConfig`` field holding this backend's settings (None: the whole config is given)."""
    needs: str = ""
    """What the settings must at least give, for the error when they are missing."""
    description: str = ""

    async def load(self, config: ServerConfig) -> Backend:
        """Import the factory and build the backend from ``config``."""
        if self.settings is None:
            arg: Any = config
        else:
            arg = getattr(config, self.settings)
            if arg is None:
                raise ValueError(f"backend {self.name!r} needs {self.settings} settings ({self.needs})")
        factory: Any = import_object(self.factory)
        built = factory(arg)
        if inspect.isawaitable(built):
            built = await built
        backend: Backend = built
        return backend


BUILTIN_BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec(
        name="rules",
        factory="critic_server.backends.rules:RulesBackend",
        settings="rules",
        description="Built-in offline rules: refusal and harm lexicons, no model.",
    ),
    BackendSpec(
        name="hf",
        factory="critic_server.backends.hf:HFBackend.load",
        settings="hf",
        needs="at least a model directory",
        description="A local transformers judge model (torch).",
    ),
    BackendSpec(
        name="openai",
        factory="critic_server.backends.openai_judge:OpenAIJudgeBackend",
        settings="openai",
        needs="base_url and model",
        description="A judge model behind an OpenAI-compatible endpoint.",
    ),
)


def _load(ep: EntryPoint) -> BackendSpec:
    loaded = ep.load()
    spec = loaded() if callable(loaded) and not isinstance(loaded, BackendSpec) else loaded
    if not isinstance(spec, BackendSpec):
        raise ValueError(f"{type(spec).__name__} is not a BackendSpec")
    if spec.name != ep.name:
        raise ValueError(f"entry point is named {ep.name!r} but the backend is named {spec.name!r}")
    if spec.settings is not None:
        raise ValueError("plugin backends take the whole server config (settings=None)")
    return spec


def load_registry(*, plugins: Iterable[EntryPoint] | None = None) -> Registry[BackendSpec]:
    """Built-ins plus plugins (default: the installed ``seval.critics`` entry points)."""
    builtins = [(spec.name, spec) for spec in BUILTIN_BACKENDS]
    return Registry.build("critic backend", builtins, ENTRY_POINT_GROUP, _load, plugins)


@functools.cache
def default_registry() -> Registry[BackendSpec]:
    """The critic-backend registry of this process, loaded once."""
    return load_registry()
