"""Builds the native lean adapter for ``anthropic``, ``gemini`` or ``azure`` targets.

Each adapter module is imported only when a target uses it. Sessions come from the caller's
``ClientPool`` (one per endpoint), so every target on one endpoint shares its connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.fast_transport import ClientPool
from core.protocols import TargetAdapter
from core.redaction import Redactor


def native_adapter(
    kind: str,
    *,
    model: str,
    api_key: str | None,
    api_base: str | None,
    api_version: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
    pool: ClientPool | None = None,
) -> TargetAdapter:
    """The lean adapter ``kind`` for ``model`` (a litellm-style ``provider/name`` string)."""
    if kind == "azure":
        from adapters.azure_adapter import AzureOpenAIAdapter

        params: dict[str, Any] = dict(extra_body or {})
        if headers:
            params["extra_headers"] = dict(headers)
        return AzureOpenAIAdapter(
            model=model,
            api_key=api_key,
            api_base=api_base,
            api_version=api_version,
            redactor=redactor,
            extra_params=params,
            session=pool.session_for(api_base) if pool is not None and api_base else None,
        )
    if kind == "anthropic":
        from adapters.anthropic_adapter import DEFAULT_BASE as ANTHROPIC_BASE
        from adapters.anthropic_adapter import AnthropicAdapter

        return AnthropicAdapter(
            model=model,
            api_key=api_key,
            api_base=api_base,
            redactor=redactor,
            extra_body=extra_body,
            headers=headers,
            session=pool.session_for(api_base or ANTHROPIC_BASE) if pool is not None else None,
        )
    if kind == "gemini":
        from adapters.gemini_adapter import DEFAULT_BASE as GEMINI_BASE
        from adapters.gemini_adapter import GeminiAdapter

        return GeminiAdapter(
            model=model,
            api_key=api_key,
            api_base=api_base,
            redactor=redactor,
            extra_body=extra_body,
            headers=headers,
            session=pool.session_for(api_base or GEMINI_BASE) if pool is not None else None,
        )
    raise ValueError(f"no native adapter {kind!r} (known: anthropic, gemini, azure)")
