"""The adapter registry: built-in target adapters plus those other installed packages publish in the
``seval.adapters`` entry-point group.

Each adapter is an ``AdapterSpec``: its name, its provider routing (``adapters.routing``: which
targets it speaks exactly, default endpoints, which targets it refuses) and a ``"module:factory"``
path imported only when a target uses it, so validating a config never imports aiohttp or litellm.
A plugin's entry point names an ``AdapterSpec`` (or a no-argument callable returning one) whose
``name`` equals the entry point's.

Plugins are never chosen by default (``auto=False`` is enforced): installing a package must not
change which adapter an existing config uses, since the adapter is part of the run id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from adapters.routing import (
    EveryProviderRouting,
    NativeRouting,
    OfflineRouting,
    OpenAICompatibleRouting,
    Routing,
)
from core.plugins import PluginProblem, Registry, import_object
from core.protocols import TargetAdapter
from core.redaction import Redactor

if TYPE_CHECKING:
    from adapters.batch import BatchClient

ENTRY_POINT_GROUP = "seval.adapters"
FALLBACK = "litellm"
"""The adapter chosen where no leaner built-in one is exact."""


@dataclass(frozen=True, slots=True)
class AdapterTarget:
    """What an adapter factory is given for one target.

    ``model`` is litellm-style (a bare model on an ``api_base`` already carries ``openai/``);
    ``options`` are the target's adapter-specific settings from the config (the scripted adapter's
    script), already checked against the spec's ``options_model``; ``extra_body`` are fields an
    adapter that builds a request body sends with every request (test generation's
    ``response_format``), under the same rules as its ``extra_params``.
    """

    model: str
    provider: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    redactor: Redactor = field(default_factory=Redactor)
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    api_version: str | None = None
    """The vendor API version where the wire names one (Azure OpenAI's ``api-version``)."""
    extra_body: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Fields merged into every request body (never logged)."""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """HTTP headers sent with every request (never logged)."""

    def extra_params(self) -> dict[str, Any]:
        """``extra_body`` plus ``headers`` as ``extra_headers``: the chat-completions adapters' form."""
        params: dict[str, Any] = dict(self.extra_body)
        if self.headers:
            params["extra_headers"] = dict(self.headers)
        return params


class AdapterFactory(Protocol):
    """Builds one adapter; ``shared`` is the spec's per-run shared resource (or None)."""

    def __call__(self, target: AdapterTarget, shared: Any, /) -> TargetAdapter:
        """The adapter for ``target``."""
        ...


class SharedResource(Protocol):
    """A resource every adapter of one kind shares during a run (a connection pool)."""

    async def aclose(self) -> None:
        """Release it."""
        ...


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """One registered adapter: cheap to import, its implementation imported on first use."""

    name: str
    factory: str
    """``"module:callable"``: an ``AdapterFactory``."""
    routing: Routing
    description: str = ""
    auto: bool = False
    """May be chosen by default for a target it ``speaks`` exactly (built-ins only)."""
    shared: str | None = None
    """``"module:callable"`` making a ``SharedResource`` inside the running loop, or None."""
    options_model: str | None = None
    """``"module:Model"``: a pydantic model the target's ``options`` must satisfy (None: no options)."""
    batch: str | None = None
    """``"module:callable"`` building an ``adapters.batch.BatchClient`` (None: no batch mode)."""

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """True when this adapter sends exactly what the vendor expects for this target."""
        return self.routing.speaks(provider, api_base)

    def default_base(self, provider: str | None) -> str | None:
        """The provider's endpoint this adapter uses when the target gives no ``api_base``."""
        return self.routing.default_base(provider)

    def problem(self, provider: str | None, api_base: str | None) -> str | None:
        """Why this adapter cannot serve the target, or None."""
        return self.routing.problem(self.name, provider, api_base)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` validated by the spec's model (imported now), as plain JSON-ready data.

        Raises ``ValueError`` saying what is wrong, or that this adapter takes no options.
        """
        if self.options_model is None:
            if options:
                raise ValueError(f"adapter `{self.name}` takes no options")
            return {}
        model: Any = import_object(self.options_model)
        checked: dict[str, Any] = model.model_validate(dict(options)).model_dump(
            mode="json", exclude_defaults=True
        )
        return checked

    def create(self, target: AdapterTarget, shared: Any = None) -> TargetAdapter:
        """Import the factory and build the adapter; ``TypeError`` when it is not a ``TargetAdapter``."""
        factory: AdapterFactory = import_object(self.factory)  # type: ignore[assignment]
        adapter = factory(target, shared)
        if not isinstance(adapter, TargetAdapter):
            raise TypeError(
                f"adapter factory {self.factory} returned {type(adapter).__name__}, not a TargetAdapter"
            )
        return adapter

    def create_batch(self, target: AdapterTarget, shared: Any = None) -> BatchClient:
        """The vendor batch client for ``target``; ``ValueError`` when this adapter has none."""
        if self.batch is None:
            raise ValueError(f"adapter `{self.name}` has no batch mode")
        factory: Any = import_object(self.batch)
        client: BatchClient = factory(target, shared)
        return client

    def open_shared(self) -> SharedResource | None:
        """A fresh shared resource for a run (call inside the running loop), or None."""
        if self.shared is None:
            return None
        make: Any = import_object(self.shared)
        resource: SharedResource = make()
        return resource


BUILTIN_ADAPTERS: tuple[AdapterSpec, ...] = (
    # Order matters: the default for a target is the first ``auto`` adapter that speaks it exactly.
    AdapterSpec(
        name="openai",
        factory="adapters.openai_adapter:create",
        routing=OpenAICompatibleRouting(),
        description="Lean aiohttp client for OpenAI-compatible chat-completions endpoints (the fast path).",
        auto=True,
        shared="adapters.openai_adapter:ClientPool",
        batch="adapters.batch:openai_batch",
    ),
    AdapterSpec(
        name="anthropic",
        factory="adapters.anthropic_adapter:create",
        routing=NativeRouting("anthropic"),
        description="Lean aiohttp client for the Anthropic Messages API (SSE events, refusals, 529s).",
        auto=True,
        shared="adapters.fast_transport:ClientPool",
        batch="adapters.batch:anthropic_batch",
    ),
    AdapterSpec(
        name="gemini",
        factory="adapters.gemini_adapter:create",
        routing=NativeRouting("gemini"),
        description="Lean aiohttp client for Gemini generateContent / streamGenerateContent.",
        auto=True,
        shared="adapters.fast_transport:ClientPool",
    ),
    AdapterSpec(
        name="azure",
        factory="adapters.azure_adapter:create",
        routing=NativeRouting("azure", needs_base=True),
        description="Lean aiohttp client for Azure OpenAI deployments (api-version, content filters).",
        auto=True,
        shared="adapters.fast_transport:ClientPool",
        batch="adapters.batch:azure_batch",
    ),
    AdapterSpec(
        name="litellm",
        factory="adapters.litellm_adapter:create",
        routing=EveryProviderRouting(),
        description="litellm.acompletion: every vendor litellm speaks (Anthropic, Gemini, Azure, Bedrock).",
        auto=True,
    ),
    AdapterSpec(
        name="scripted",
        factory="adapters.scripted:create",
        routing=OfflineRouting(),
        description="In-memory answers from a script, no network (tests, demos, dry runs).",
        options_model="adapters.scripted:Script",
    ),
)


def _load(ep: EntryPoint) -> AdapterSpec:
    loaded = ep.load()
    spec = loaded() if callable(loaded) and not isinstance(loaded, AdapterSpec) else loaded
    if not isinstance(spec, AdapterSpec):
        raise ValueError(f"{type(spec).__name__} is not an AdapterSpec")
    if spec.name != ep.name:
        raise ValueError(f"entry point is named {ep.name!r} but the adapter is named {spec.name!r}")
    if spec.auto:
        raise ValueError("plugin adapters may not set auto=True (they are chosen by name only)")
    return spec


@dataclass(frozen=True, slots=True)
class AdapterRegistry:
    """Adapters by name and the routing questions a config asks of them."""

    registry: Registry[AdapterSpec]

    def names(self) -> list[str]:
        """Registered adapter names, sorted."""
        return self.registry.names()

    @property
    def problems(self) -> tuple[PluginProblem, ...]:
        """Plugins that were left out, and why."""
        return self.registry.problems

    def get(self, name: str) -> AdapterSpec:
        """The spec called ``name``; ``UnknownPluginError`` listing the registered ones otherwise."""
        return self.registry.get(name)

    def known_providers(self) -> frozenset[str]:
        """Provider prefixes some adapter names: with an ``api_base``, other prefixes are model names."""
        return frozenset().union(*(s.routing.providers for s in self.registry.entries.values()))

    def provider_of(self, model: str, api_base: str | None = None) -> str | None:
        """The litellm provider prefix of a model string, or None for a bare model name.

        With ``api_base``, an unknown prefix is part of the model's own name (``meta-llama/Llama-3``
        on a vLLM server); without one it is taken as a provider only litellm knows.
        """
        head, sep, _ = model.partition("/")
        if not sep:
            return None
        if head in self.known_providers():
            return head
        return None if api_base is not None else head

    def default_for(self, model: str, api_base: str | None) -> str:
        """The adapter a target gets when it names none: the first exact ``auto`` one, else litellm."""
        provider = self.provider_of(model, api_base)
        for spec in self.registry.entries.values():
            if spec.auto and spec.speaks(provider, api_base):
                return spec.name
        return FALLBACK


def load_registry(*, plugins: Iterable[EntryPoint] | None = None) -> AdapterRegistry:
    """Built-ins plus plugins (default: the installed ``seval.adapters`` entry points)."""
    builtins = [(spec.name, spec) for spec in BUILTIN_ADAPTERS]
    return AdapterRegistry(Registry.build("adapter", builtins, ENTRY_POINT_GROUP, _load, plugins))


@functools.cache
def default_registry() -> AdapterRegistry:
    """The adapter registry of this process, loaded once."""
    return load_registry()


class AdapterSet:
    """Builds the adapters of one run, sharing each kind's resource (one connection pool per
    endpoint for ``openai``), and closes them all. Create it inside the running event loop."""

    def __init__(self, registry: AdapterRegistry | None = None) -> None:
        self._registry = registry or default_registry()
        self._shared: dict[str, SharedResource | None] = {}
        self._adapters: list[TargetAdapter] = []
        self._batch: list[BatchClient] = []

    def build(self, adapter: str, target: AdapterTarget) -> TargetAdapter:
        """A new adapter of kind ``adapter`` for ``target``, closed with this set."""
        spec = self._registry.get(adapter)
        if adapter not in self._shared:
            self._shared[adapter] = spec.open_shared()
        built = spec.create(target, self._shared[adapter])
        self._adapters.append(built)
        return built

    def build_batch(self, adapter: str, target: AdapterTarget) -> BatchClient:
        """The batch client of kind ``adapter`` for ``target`` (on the same shared resource), closed
        with this set."""
        spec = self._registry.get(adapter)
        if adapter not in self._shared:
            self._shared[adapter] = spec.open_shared()
        client = spec.create_batch(target, self._shared[adapter])
        self._batch.append(client)
        return client

    async def aclose(self) -> None:
        """Close every adapter, then the shared resources (idempotent)."""
        batch, self._batch = self._batch, []
        for client in batch:
            await client.aclose()
        adapters, self._adapters = self._adapters, []
        shared, self._shared = self._shared, {}
        for adapter in adapters:
            await adapter.aclose()
        for resource in shared.values():
            if resource is not None:
                await resource.aclose()
