"""The one seam through which generation calls its generator model (Mt).

``open_generator`` builds Mt the way the engine builds the attack generator (the target's adapter
under the run's limiter and retry policy, ``PacedAdapter`` + ``AdapterGenerator``), adds a JSON
``response_format`` where the endpoint takes one, and meters every attempt against the run's
budget with the engine's ``Budget`` and ``price_for``. Nothing else in ``gateway.generation``
touches adapters, limits or retries: pointing this function at another policy layer is enough.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.protocols import TargetAdapter, TextGenerator
from core.redaction import Redactor
from core.tokens import text_tokens
from core.types import AttemptResult, ChatRequest, Outcome
from gateway.config import DecodingSetting, RunConfig, TargetConfig
from gateway.dispatch import Budget, Price, price_for

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
    import litellm

    try:
        supported = bool(litellm.supports_response_schema(model=target.litellm_model))
    except Exception:  # litellm raises a bare Exception for models its map lacks
        supported = False
    return "json_schema" if supported else "none"


class MeteredAdapter:
    """An adapter that charges each attempt to the budget and refuses to send once it is spent."""

    def __init__(self, inner: TargetAdapter, budget: Budget, price: Price) -> None:
        self._inner = inner
        self._budget = budget
        self._price = price

    @property
    def limit_key(self) -> str:
        """The wrapped adapter's limit key."""
        return self._inner.limit_key

    @property
    def name(self) -> str:
        """The wrapped adapter's name."""
        return self._inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Send once, unless the budget is spent (then a final, unsent failure)."""
        budget = self._budget
        if not budget.check():
            return AttemptResult(Outcome.FAILED_PERMANENT, error=budget.reason, vendor_code="budget")
        budget.calls += 1
        result = await self._inner.send(request)
        if result.usage is not None:
            prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
        elif result.outcome in (Outcome.COMPLETED, Outcome.INCOMPLETE, Outcome.BLOCKED_BY_VENDOR):
            prompt, completion = text_tokens(request.prompt), text_tokens(result.text)
        else:
            prompt = completion = 0
        budget.spent_usd += self._price.cost(prompt, completion)
        return result

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self._inner.aclose()


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
    """Mt behind ``target``, under ``run``'s retry policy and budget; closed on exit."""
    from attacks.generator import AdapterGenerator
    from gateway.sdk import PacedAdapter, api_key, build_adapter

    fmt = response_format_for(target, response_format, schema)
    inner = build_adapter(
        target, api_key(target), redactor, extra_params={"response_format": fmt} if fmt else None
    )
    budget = Budget(max_usd=run.budget.max_usd, max_calls=run.budget.max_calls)
    paced = PacedAdapter(MeteredAdapter(inner, budget, price_for(target)), run, target)
    generator = AdapterGenerator(
        paced,
        label=target.model,
        decoding=target.decoding.over(GENERATOR_DECODING),
        timeout_s=run.request.timeout_s,
    )
    try:
        yield Generator(generator, generator.name, budget)
    finally:
        await generator.aclose()
