"""The contract every registered target adapter keeps (built-ins and installed plugins alike):
it satisfies ``TargetAdapter``, its name and limit key are stable and free of the API key, ``send``
never raises for vendor behaviour (errors, refusals, unreachable hosts come back classified), and
``aclose`` may be called twice. Network adapters are pointed at the simulated vendor on loopback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from adapters.registry import AdapterSet, default_registry, load_registry
from core.errors import UnknownPluginError
from core.protocols import TargetAdapter
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest, Outcome
from gateway.config import TargetConfig
from simulator import SimulatedVendor

# litellm 1.110's streaming path reads a pydantic attribute that pydantic 2.11+ deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Accessing the '.*' attribute on the instance is deprecated:DeprecationWarning"
)

SECRET = "sk-contract-test-0123456789abcdef"
ADAPTERS = default_registry().names()
# What each fault model does to a real vendor; the scripted adapter plays its script instead.
VENDOR_MODELS = ("sim-compliant", "sim-fault/http_503", "sim-fault/bad_request", "sim-fault/content_filter")


@pytest.fixture
async def vendor_url() -> AsyncIterator[str]:
    async with SimulatedVendor() as url:
        yield url


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# Native adapters speak their vendor's own wire: its model prefix, its base URL on the simulated
# vendor (which serves every wire on one port), and fault scenarios by header.
NATIVE = {"anthropic": "", "gemini": "/v1beta", "azure": ""}
# The same vendor behaviour under each wire's scenario names (Azure speaks the OpenAI wire).
NATIVE_FAULTS = {
    "anthropic": {"http_503": "overloaded", "content_filter": "content_filtering_policy"},
    "gemini": {"content_filter": "safety"},
    "azure": {"content_filter": "azure_output_filter"},
}


def target(adapter: str, model: str, url: str) -> TargetConfig:
    if adapter not in NATIVE:
        return TargetConfig(name="t", model=model, api_base=url, adapter=adapter)
    fault = model.removeprefix("sim-fault/") if model.startswith("sim-fault/") else None
    return TargetConfig(
        name="t",
        model=f"{adapter}/{'sim-compliant' if fault else model}",
        api_base=url.removesuffix("/v1") + NATIVE[adapter],
        adapter=adapter,
        headers={"x-sim-fault": NATIVE_FAULTS[adapter].get(fault, fault)} if fault else None,
    )


def build(pool: AdapterSet, adapter: str, model: str, url: str) -> TargetAdapter:
    return pool.build(adapter, target(adapter, model, url).adapter_target(SECRET, Redactor([SECRET])))


def test_every_builtin_is_registered() -> None:
    assert {"openai", "litellm", "scripted", "anthropic", "gemini", "azure"} <= set(ADAPTERS)


@pytest.mark.parametrize("name", ADAPTERS)
async def test_satisfies_protocol_with_stable_secret_free_identity(name: str, vendor_url: str) -> None:
    pool = AdapterSet()
    try:
        one = build(pool, name, "sim-compliant", vendor_url)
        two = build(pool, name, "sim-compliant", vendor_url)
        assert isinstance(one, TargetAdapter)
        assert one.name == two.name == name
        assert one.limit_key == two.limit_key
        assert SECRET not in one.limit_key
        assert SECRET[3:12] not in one.limit_key
        other_model = build(pool, name, "sim-cautious", vendor_url)
        assert other_model.limit_key != one.limit_key
    finally:
        await pool.aclose()


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("model", VENDOR_MODELS)
@pytest.mark.parametrize("stream", [True, False])
async def test_send_classifies_vendor_behaviour_instead_of_raising(
    name: str, model: str, stream: bool, vendor_url: str
) -> None:
    pool = AdapterSet()
    try:
        adapter = build(pool, name, model, vendor_url)
        result = await adapter.send(ChatRequest(prompt="Tell me a joke.", stream=stream, timeout_s=20))
    finally:
        await pool.aclose()
    assert isinstance(result, AttemptResult)
    assert isinstance(result.outcome, Outcome)
    assert SECRET not in (result.error or "")
    if name != "scripted" and model == "sim-compliant":
        assert result.outcome is Outcome.COMPLETED
        assert result.text
    if name != "scripted" and model == "sim-fault/http_503":
        assert result.outcome is Outcome.FAILED_TRANSIENT
        assert result.retryable


@pytest.mark.parametrize("name", ADAPTERS)
async def test_unreachable_endpoint_is_a_transient_failure(name: str) -> None:
    pool = AdapterSet()
    try:
        adapter = build(pool, name, "sim-compliant", closed_port_url())
        result = await adapter.send(ChatRequest(prompt="hi", timeout_s=10))
    finally:
        await pool.aclose()
    assert isinstance(result, AttemptResult)
    if name != "scripted":
        assert result.outcome is Outcome.FAILED_TRANSIENT
        assert result.retryable
        assert SECRET not in (result.error or "")


@pytest.mark.parametrize("name", ADAPTERS)
async def test_aclose_is_idempotent_with_and_without_a_shared_pool(name: str, vendor_url: str) -> None:
    own = (
        default_registry()
        .get(name)
        .create(target(name, "sim-compliant", vendor_url).adapter_target(None, Redactor()))
    )
    await own.send(ChatRequest(prompt="hi", timeout_s=20))
    await own.aclose()
    await own.aclose()
    pool = AdapterSet()
    shared = build(pool, name, "sim-compliant", vendor_url)
    await shared.send(ChatRequest(prompt="hi", timeout_s=20))
    await shared.aclose()
    await pool.aclose()  # closes the adapter again, then the pool
    await pool.aclose()


def test_unknown_adapter_names_the_registered_ones() -> None:
    with pytest.raises(UnknownPluginError, match=r"unknown adapter 'nope'; registered: .*litellm.*openai"):
        default_registry().get("nope")
    with pytest.raises(ValueError, match="unknown adapter 'nope'"):
        TargetConfig(name="t", model="openai/gpt-4o", adapter="nope")


def test_routing_questions_are_answered_by_the_registry() -> None:
    registry = load_registry(plugins=[])
    assert registry.default_for("deepseek/deepseek-chat", None) == "openai"
    assert registry.default_for("anthropic/claude", None) == "anthropic"
    assert registry.default_for("gemini/gemini-2.0-flash", None) == "gemini"
    assert registry.default_for("azure/my-deploy", "https://r.openai.azure.com") == "azure"
    assert registry.default_for("azure/my-deploy", None) == "litellm"  # no resource URL: litellm's env
    assert registry.default_for("bedrock/anthropic.claude-3", None) == "litellm"
    assert registry.default_for("vertex_ai/gemini-pro", None) == "litellm"
    only = registry.get("anthropic").problem("gemini", None)
    assert only == "adapter `anthropic` speaks only `anthropic/...` models"
    assert "needs `api_base`" in (registry.get("azure").problem("azure", None) or "")
    assert registry.default_for("scripted/m", None) == "litellm"  # scripted is chosen by name only
    assert registry.get("openai").default_base("groq") == "https://api.groq.com/openai/v1"
    assert registry.get("litellm").problem("gemini", None) is None
    assert registry.provider_of("meta-llama/Llama-3", "http://h/v1") is None
    assert registry.provider_of("cohere/command-r", None) == "cohere"


def test_validating_a_config_imports_no_adapter_module() -> None:
    code = (
        "import sys; from gateway.config import TargetConfig; "
        "TargetConfig(name='a', model='openai/gpt-4o'); TargetConfig(name='b', model='gemini/g'); "
        "print(sorted(m for m in sys.modules if m in ('aiohttp', 'litellm') or "
        "m.startswith('adapters.') and m.endswith(('_adapter', 'scripted', 'fast_transport'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
