"""Provider routing of each built-in adapter: which litellm provider prefixes it speaks exactly,
their default endpoints, and why it refuses a target. Plain data, no third-party imports, so a run
config can be validated without importing any adapter.

A target is (provider, api_base): ``provider`` is the litellm prefix of its model string
(``deepseek`` in ``deepseek/deepseek-chat``) or None for a bare model name served at ``api_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol


class Routing(Protocol):
    """What an adapter knows about the providers it can reach."""

    @property
    def providers(self) -> frozenset[str]:
        """Provider prefixes this adapter names explicitly (they are providers, not model names)."""
        ...

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """True when this adapter sends exactly what the vendor expects for this target."""
        ...

    def default_base(self, provider: str | None) -> str | None:
        """The public endpoint of ``provider`` when the target gives no ``api_base``."""
        ...

    def problem(self, adapter: str, provider: str | None, api_base: str | None) -> str | None:
        """Why ``adapter`` cannot serve this target (a message for the config error), or None."""
        ...


OPENAI_COMPATIBLE_BASES: Mapping[str, str] = MappingProxyType(
    {
        "openai": "https://api.openai.com/v1",
        "deepseek": "https://api.deepseek.com/v1",
        "dashscope": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "groq": "https://api.groq.com/openai/v1",
        "together_ai": "https://api.together.xyz/v1",
        "mistral": "https://api.mistral.ai/v1",
        "openrouter": "https://openrouter.ai/api/v1",
    }
)
"""Public endpoints of providers whose chat-completions API is the OpenAI protocol itself."""


@dataclass(frozen=True, slots=True)
class OpenAICompatibleRouting:
    """An adapter speaking ``POST {base}/chat/completions``: exact for OpenAI-protocol providers
    (with their public endpoint or an ``api_base``), self-hosted servers (``hosted_vllm`` or a
    bare model name, both with ``api_base``), and any provider whose OpenAI-compatible endpoint
    the target names in ``api_base``."""

    bases: Mapping[str, str] = field(default_factory=lambda: OPENAI_COMPATIBLE_BASES)
    self_hosted: frozenset[str] = frozenset({"hosted_vllm"})

    @property
    def providers(self) -> frozenset[str]:
        """The public OpenAI-protocol providers and the self-hosted kinds."""
        return frozenset(self.bases) | self.self_hosted

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """Exact for OpenAI-protocol providers and bare models on an ``api_base``."""
        if provider is None:
            return api_base is not None
        return provider in self.providers and (api_base is not None or provider in self.bases)

    def default_base(self, provider: str | None) -> str | None:
        """The provider's public OpenAI-compatible endpoint, if it has one."""
        return self.bases.get(provider) if provider is not None else None

    def problem(self, adapter: str, provider: str | None, api_base: str | None) -> str | None:
        """Native protocols it cannot speak, and self-hosted providers given no URL."""
        if api_base is not None:
            return None
        if provider is not None and provider not in self.providers:
            return (
                f"adapter `{adapter}` cannot speak {provider}'s native API; use `litellm`, or set "
                "`api_base` to the vendor's OpenAI-compatible endpoint"
            )
        if self.default_base(provider) is None:
            return f"adapter `{adapter}` needs `api_base` for provider {provider!r}"
        return None


NATIVE_BASES: Mapping[str, str] = MappingProxyType(
    {
        "anthropic": "https://api.anthropic.com",
        "gemini": "https://generativelanguage.googleapis.com/v1beta",
    }
)
"""Public endpoints of the providers whose native protocol has a lean adapter of its own."""


@dataclass(frozen=True, slots=True)
class NativeRouting:
    """An adapter speaking one provider's own protocol (Anthropic Messages, Gemini generateContent,
    Azure OpenAI deployments): exact for that provider's models alone, at its public endpoint or
    the target's ``api_base``; ``needs_base`` for providers with no public endpoint (Azure)."""

    provider: str
    needs_base: bool = False

    @property
    def providers(self) -> frozenset[str]:
        """The one provider it speaks."""
        return frozenset({self.provider})

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """Exact for its provider's models (with an ``api_base`` where the provider has no default)."""
        return provider == self.provider and (api_base is not None or not self.needs_base)

    def default_base(self, provider: str | None) -> str | None:
        """The provider's public endpoint (None for Azure: every resource has its own)."""
        return NATIVE_BASES.get(self.provider) if provider == self.provider else None

    def problem(self, adapter: str, provider: str | None, api_base: str | None) -> str | None:
        """Other providers' models, and an Azure target without its resource URL."""
        if provider != self.provider:
            return f"adapter `{adapter}` speaks only `{self.provider}/...` models"
        if self.needs_base and api_base is None:
            return f"adapter `{adapter}` needs `api_base` (the resource endpoint, https://NAME.openai.azure.com)"
        return None


@dataclass(frozen=True, slots=True)
class EveryProviderRouting:
    """An adapter that speaks every provider natively (litellm): the fallback wherever no leaner
    adapter is exact. ``native`` are the providers whose own protocols differ from OpenAI's."""

    native: frozenset[str] = frozenset({"anthropic", "azure", "azure_ai", "gemini", "vertex_ai", "bedrock"})

    @property
    def providers(self) -> frozenset[str]:
        """The native-protocol providers it names."""
        return self.native

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """Exact for every provider, and for bare models on an ``api_base`` (as ``openai/``)."""
        return provider is not None or api_base is not None

    def default_base(self, provider: str | None) -> str | None:
        """None: the provider's SDK settings decide."""
        return None

    def problem(self, adapter: str, provider: str | None, api_base: str | None) -> str | None:
        """Nothing it refuses."""
        return None


@dataclass(frozen=True, slots=True)
class OfflineRouting:
    """An adapter that reaches no vendor (the scripted one): any target, never chosen by default."""

    providers: frozenset[str] = field(default_factory=frozenset)

    def speaks(self, provider: str | None, api_base: str | None) -> bool:
        """False: nothing is spoken, so it is never the default for a real target."""
        return False

    def default_base(self, provider: str | None) -> str | None:
        """None: there is no endpoint."""
        return None

    def problem(self, adapter: str, provider: str | None, api_base: str | None) -> str | None:
        """Nothing it refuses."""
        return None
