"""The one seam through which generation calls its generator model (Mt).

``open_generator`` calls Mt the way the engine calls the attack generator: the target's adapter,
built by the adapter registry, behind a ``PolicyAdapter`` over a ``CallPolicy`` (its own
``LimiterRegistry``, the run's retry policy) wrapped by ``AdapterGenerator``. The adapter sends a
JSON ``response_format`` where the endpoint takes one (``AdapterTarget.extra_body``), and the
policy adapter spends the run's ``Budget`` at the target's ``Price``. Nothing else in
``gateway.generation`` touches adapters, limits, retries or spending.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.errors import InputError
from core.protocols import TextGenerator
from core.redaction import Redactor
from gateway.budget import Budget, price_for
from gateway.config import DecodingSetting, RunConfig, TargetConfig
from gateway.policy import CallPolicy, LimiterRegistry, PolicyAdapter

ResponseFormat = Literal["auto", "json_schema", "json_object", "none"]

GENERATOR_DECODING = DecodingSetting(temperature=0.9, max_tokens=4096)
"""Sampling for Mt (under the target's own decoding): varied prompts, room for a few dozen rows."""

# OpenAI-compatible vendors that take JSON mode but not a JSON schema.
_JSON_OBJECT_ONLY = frozenset({"deepseek", "dashscope", "moonshot"})


def response_format_for(
    target: TargetConfig, choice: ResponseFormat, schema: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The ``response_format`` body field for ``target`` (None: send none, rely on the prompt)."""
    if choice == "auto":
        choice = _auto_format(target)
    if choice == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "risk_prompts", "schema": dict(schema), "strict": True},
        }
    if choice == "json_object":
        return {"type": "json_object"}
    return None


def _auto_format(target: TargetConfig) -> ResponseFormat:
    provider = target.provider
    if provider in _JSON_OBJECT_ONLY:
        return "json_object"
    if target.adapter == "openai":
        return "json_schema"  # OpenAI itself, vLLM and other OpenAI-compatible servers
    from adapters.litellm_import import quiet_litellm

    litellm = quiet_litellm()
    try:
        supported = bool(litellm.supports_response_schema(model=target.litellm_model))
    except Exception:  # litellm raises a bare Exception for models its map lacks
        supported = False
    return "json_schema" if supported else "none"


@dataclass(frozen=True, slots=True)
class Generator:
    """Mt, ready to call: the text generator, its provenance label and the budget it spends."""

    text: TextGenerator
    label: str
    budget: Budget


@contextlib.asynccontextmanager
async def open_generator(
    target: TargetConfig,
    run: RunConfig,
    *,
    redactor: Redactor,
    schema: Mapping[str, Any],
    response_format: ResponseFormat = "auto",
) -> AsyncIterator[Generator]:
    """Mt behind ``target``, under ``run``'s limits, retry policy and budget; closed on exit.

    Raises ``InputError`` when ``run`` caps spending in USD but no price is known for ``target``.
    """
    from adapters.registry import default_registry
    from attacks.generator import AdapterGenerator
    from gateway.sdk import api_key

    price = price_for(target)
    if run.budget.max_usd is not None and not price.known:
        raise InputError(
            f"budget.max_usd is set but no price is known for generator {target.name}: "
            "add `prices: {input_per_1m: ..., output_per_1m: ...}` to it"
        )
    settings = target.adapter_target(api_key(target), redactor)
    fmt = response_format_for(target, response_format, schema)
    if fmt is not None:
        settings = replace(settings, extra_body={**settings.extra_body, "response_format": fmt})
    inner = default_registry().get(target.adapter).create(settings)
    policy = CallPolicy(run.retry, LimiterRegistry([(inner.limit_key, target.limits)]))
    budget = Budget(max_usd=run.budget.max_usd, max_calls=run.budget.max_calls)
    generator = AdapterGenerator(
        PolicyAdapter(inner, policy, budget=budget, price=price),
        label=target.model,
        decoding=target.decoding.over(GENERATOR_DECODING),
        timeout_s=run.request.timeout_s,
    )
    try:
        yield Generator(generator, generator.name, budget)
    finally:
        await generator.aclose()
