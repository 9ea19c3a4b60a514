"""One outcome suite for both adapters, over real loopback HTTP against the simulated vendor.

Every vendor block shape, fault and quota case in ../shared/VENDOR_FAILURES.md, in each vendor's
wire format. OpenAI-compatible shapes (OpenAI, Azure, DeepSeek, DashScope) run through both the
litellm adapter and the fast adapter and must classify identically, except where a row names a
litellm limitation (``only_fast``/``litellm`` overrides, each with its reason). Anthropic, Gemini
and Bedrock shapes run through the litellm adapter (``anthropic/``, ``gemini/``, ``bedrock/``
providers pointed at the simulated vendor).
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field

import pytest

from core.protocols import TargetAdapter
from core.types import AttemptResult, ChatRequest, Decoding, Outcome
from simulator import SimulatedVendor, scenarios

API_KEY = "sk-simtest-0123456789abcdefghij"
PROMPT = "Explain how rate limits work for an API."

DONE, BLOCKED, CUT, TRANSIENT, PERMANENT = (
    Outcome.COMPLETED,
    Outcome.BLOCKED_BY_VENDOR,
    Outcome.INCOMPLETE,
    Outcome.FAILED_TRANSIENT,
    Outcome.FAILED_PERMANENT,
)


@dataclass(frozen=True)
class Expect:
    """What one attempt must come back as."""

    outcome: Outcome
    code: str | None
    status: int | None = None
    retry_after: float | None = None
    pause: bool = False
    categories: tuple[str, ...] = ()
    text: bool = False  # partial or full text kept
    usage: bool = False
    finish: str | None = None
    truncated: bool = False

    @property
    def retryable(self) -> bool:
        """Transient failures and broken streams may be retried; nothing else may."""
        return self.outcome in (Outcome.FAILED_TRANSIENT, Outcome.INCOMPLETE)


@dataclass(frozen=True)
class Row:
    """A scenario in one wire format, its expectation (non-streamed, streamed) and adapter deltas."""

    wire: str
    scenario: str
    plain: Expect
    streamed: Expect
    # litellm-specific expectation where litellm hides something the fast adapter sees (with reason)
    litellm_streamed: Expect | None = None
    litellm_reason: str = ""
    # native-adapter expectation where it sees more than litellm does (usage, the raw stream error)
    native_plain: Expect | None = None
    native_streamed: Expect | None = None
    decoding: Decoding = field(default_factory=lambda: Decoding(max_tokens=200))


def both(expect: Expect) -> tuple[Expect, Expect]:
    return expect, expect


OPENAI_ROWS = [
    Row(
        "openai",
        "answer",
        Expect(DONE, "stop", text=True, usage=True, finish="stop"),
        Expect(DONE, "stop", text=True, usage=True, finish="stop"),
    ),
    Row(
        "openai",
        "answer_length",
        Expect(DONE, "length", text=True, usage=True, finish="length", truncated=True),
        Expect(DONE, "length", text=True, usage=True, finish="length", truncated=True),
        decoding=Decoding(max_tokens=3),
    ),
    # safety blocks
    Row(
        "openai",
        "content_filter",
        Expect(BLOCKED, "content_filter", text=True, usage=True, finish="content_filter"),
        Expect(BLOCKED, "content_filter", text=True, usage=True, finish="content_filter"),
    ),
    Row(
        "openai",
        "azure_output_filter",
        Expect(BLOCKED, "content_filter", categories=("violence",), usage=True, finish="content_filter"),
        Expect(BLOCKED, "content_filter", categories=("violence",), usage=True, finish="content_filter"),
        litellm_streamed=Expect(BLOCKED, "content_filter", usage=True, finish="content_filter"),
        litellm_reason="litellm's stream chunks drop Azure content_filter_results",
    ),
    *(
        Row("openai", s, *both(e))
        for s, e in [
            (
                "azure_prompt_filter",
                Expect(BLOCKED, "content_filter/ResponsibleAIPolicyViolation", 400, categories=("violence",)),
            ),
            ("openai_policy_violation", Expect(BLOCKED, "content_policy_violation", 400)),
            ("openai_invalid_prompt", Expect(BLOCKED, "invalid_prompt", 400)),
            ("deepseek_content_risk", Expect(BLOCKED, "Content Exists Risk", 400)),
            ("dashscope_input_inspection", Expect(BLOCKED, "data_inspection_failed", 400)),
            ("dashscope_native_inspection", Expect(BLOCKED, "DataInspectionFailed", 400)),
        ]
    ),
    Row(
        "openai",
        "dashscope_output_inspection",
        Expect(BLOCKED, "data_inspection_failed", 400),
        Expect(BLOCKED, "data_inspection_failed", None, text=True),
    ),
    # quota, money, size: permanent, the first three pause the target
    *(
        Row("openai", s, *both(e))
        for s, e in [
            ("insufficient_quota", Expect(PERMANENT, "insufficient_quota", 429, pause=True)),
            ("deepseek_insufficient_balance", Expect(PERMANENT, "Insufficient Balance", 402, pause=True)),
            ("dashscope_arrearage", Expect(PERMANENT, "Arrearage", 400, pause=True)),
            ("request_too_large", Expect(PERMANENT, "request_too_large", 429)),
            ("auth_401", Expect(PERMANENT, "invalid_api_key", 401, pause=True)),
            ("auth_403", Expect(PERMANENT, "unsupported_country_region_territory", 403, pause=True)),
            ("bad_request", Expect(PERMANENT, "invalid_value", 400)),
            ("not_found", Expect(PERMANENT, "model_not_found", 404)),
            ("unknown_4xx", Expect(PERMANENT, "teapot", 418)),
            # litellm turns this 400 into a RateLimitError (its body mentions "rate limit"): still permanent
            ("echo_rate_limit_400", Expect(PERMANENT, "invalid_request_error", 400)),
            # transient, with the vendor's back-off
            ("rate_limit", Expect(TRANSIENT, "rate_limit_exceeded", 429, retry_after=2.0)),
            ("rate_limit_reset_only", Expect(TRANSIENT, "rate_limit_exceeded", 429, retry_after=360.0)),
            ("azure_rate_limit", Expect(TRANSIENT, "429", 429, retry_after=2.0)),
            ("http_500", Expect(TRANSIENT, "server_error", 500)),
            ("http_502", Expect(TRANSIENT, "http_502", 502)),
            # a 200 that is not the protocol is never an (empty) answer
            ("html_200", Expect(TRANSIENT, "not_protocol")),
            ("http_503", Expect(TRANSIENT, "server_error", 503, retry_after=2.0)),
            ("http_504", Expect(TRANSIENT, "http_504", 504)),
            ("http_408", Expect(TRANSIENT, "timeout", 408)),
            ("conn_reset", Expect(TRANSIENT, "connection_error")),
        ]
    ),
    # broken streams and bodies
    Row(  # a 10 MB page: dropped at the byte cap unparsed (plain), no protocol event (stream)
        "openai",
        "huge_html_200",
        Expect(TRANSIENT, "response_too_large"),
        Expect(TRANSIENT, "not_protocol"),
    ),
    Row(
        "openai",
        "cut_before_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error"),
    ),
    Row(
        "openai",
        "cut_after_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error", text=True),
    ),
    Row(
        "openai",
        "stream_error_event",
        Expect(TRANSIENT, "server_error", 500),
        Expect(CUT, "server_error", text=True),
    ),
    Row(
        "openai",
        "no_finish_reason",
        Expect(CUT, "no_finish_reason", text=True, usage=True),
        Expect(CUT, "no_finish_reason", text=True, usage=True),
        litellm_streamed=Expect(CUT, "no_finish_reason", text=True),
        litellm_reason="litellm raises MidStreamFallbackError before the usage chunk",
    ),
    Row(
        "openai",
        "finish_error",
        Expect(CUT, "error", text=True, usage=True, finish="error"),
        Expect(CUT, "error", text=True, usage=True, finish="error"),
        litellm_streamed=Expect(CUT, "error", text=True),
        litellm_reason="MidStreamFallbackError on finish_reason=error loses usage and the reason",
    ),
]

ANTHROPIC_ROWS = [
    Row("anthropic", "answer", *both(Expect(DONE, "end_turn", text=True, usage=True, finish="end_turn"))),
    Row(
        "anthropic",
        "answer_length",
        *both(Expect(DONE, "max_tokens", text=True, usage=True, finish="max_tokens", truncated=True)),
        decoding=Decoding(max_tokens=3),
    ),
    Row(
        "anthropic",
        "refusal",
        *both(Expect(BLOCKED, "refusal", categories=("cyber",), text=True, usage=True, finish="refusal")),
    ),
    Row("anthropic", "content_filtering_policy", *both(Expect(BLOCKED, "content_filtering_policy", 400))),
    Row("anthropic", "rate_limit", *both(Expect(TRANSIENT, "rate_limit_error", 429, retry_after=3.0))),
    Row(
        "anthropic", "spend_limit", *both(Expect(PERMANENT, "enforced_spend_limit_reached", 429, pause=True))
    ),
    Row("anthropic", "overloaded", *both(Expect(TRANSIENT, "overloaded_error", 529))),
    Row("anthropic", "http_500", *both(Expect(TRANSIENT, "api_error", 500))),
    Row(
        "anthropic",
        "stream_error_event",
        Expect(TRANSIENT, "overloaded_error", 529),
        Expect(CUT, "stream_error", text=True),
        native_streamed=Expect(CUT, "overloaded_error", text=True, usage=True),
    ),
    Row(
        "anthropic",
        "cut_before_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error"),
    ),
    Row(
        "anthropic",
        "cut_after_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error", text=True),
        native_streamed=Expect(CUT, "connection_error", text=True, usage=True),
    ),
    Row(
        "anthropic",
        "no_finish_reason",
        Expect(CUT, "no_finish_reason", text=True, usage=True),
        Expect(CUT, "no_finish_reason", text=True),
        native_streamed=Expect(CUT, "no_finish_reason", text=True, usage=True),
    ),
    Row("anthropic", "auth_401", *both(Expect(PERMANENT, "authentication_error", 401, pause=True))),
    Row("anthropic", "auth_403", *both(Expect(PERMANENT, "permission_error", 403, pause=True))),
    Row("anthropic", "bad_request", *both(Expect(PERMANENT, "invalid_request_error", 400))),
    Row("anthropic", "not_found", *both(Expect(PERMANENT, "not_found_error", 404))),
]

_RATING = ("HARM_CATEGORY_DANGEROUS_CONTENT",)
GEMINI_ROWS = [
    Row("gemini", "answer", *both(Expect(DONE, "STOP", text=True, usage=True, finish="STOP"))),
    Row(
        "gemini",
        "answer_length",
        *both(Expect(DONE, "MAX_TOKENS", text=True, usage=True, finish="MAX_TOKENS", truncated=True)),
        decoding=Decoding(max_tokens=3),
    ),
    *(
        Row(
            "gemini",
            s,
            *both(
                Expect(BLOCKED, f"blockReason:{r}", categories=_RATING, usage=True, finish=f"blockReason:{r}")
            ),
        )
        for s, r in [
            ("prompt_blocked", "SAFETY"),
            ("prompt_blocked_other", "OTHER"),
            ("prompt_blocked_prohibited", "PROHIBITED_CONTENT"),
        ]
    ),
    Row(
        "gemini",
        "safety",
        Expect(BLOCKED, "SAFETY", categories=_RATING, usage=True, finish="SAFETY"),
        Expect(BLOCKED, "SAFETY", categories=_RATING, text=True, usage=True, finish="SAFETY"),
    ),
    *(
        Row(
            "gemini",
            s.lower(),
            Expect(BLOCKED, s, usage=True, finish=s),
            Expect(BLOCKED, s, text=True, usage=True, finish=s),
        )
        for s in ("PROHIBITED_CONTENT", "RECITATION", "OTHER", "BLOCKLIST", "SPII")
    ),
    Row("gemini", "rate_limit", *both(Expect(TRANSIENT, "RESOURCE_EXHAUSTED", 429, retry_after=17.0))),
    Row(
        "gemini",
        "daily_quota",
        *both(
            Expect(
                PERMANENT,
                "RESOURCE_EXHAUSTED:GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                429,
                pause=True,
            )
        ),
    ),
    Row("gemini", "http_500", *both(Expect(TRANSIENT, "INTERNAL", 500))),
    Row("gemini", "http_503", *both(Expect(TRANSIENT, "UNAVAILABLE", 503))),
    Row("gemini", "cut_no_finish", *both(Expect(CUT, "no_finish_reason", text=True, usage=True))),
    Row(
        "gemini",
        "cut_before_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error"),
    ),
    Row(
        "gemini",
        "cut_after_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error", text=True),
        native_streamed=Expect(CUT, "connection_error", text=True, usage=True),
    ),
    Row("gemini", "no_parts", *both(Expect(DONE, "STOP", usage=True, finish="STOP"))),
    Row("gemini", "auth_400", *both(Expect(PERMANENT, "API_KEY_INVALID", 400, pause=True))),
    Row("gemini", "auth_403", *both(Expect(PERMANENT, "PERMISSION_DENIED", 403, pause=True))),
    Row("gemini", "bad_request", *both(Expect(PERMANENT, "INVALID_ARGUMENT", 400))),
]

BEDROCK_ROWS = [
    Row("bedrock", "answer", *both(Expect(DONE, "end_turn", text=True, usage=True, finish="end_turn"))),
    *(
        Row("bedrock", s, *both(Expect(BLOCKED, s, text=True, usage=True, finish=s)))
        for s in ("guardrail_intervened", "content_filtered")
    ),
    Row("bedrock", "throttling", *both(Expect(TRANSIENT, "ThrottlingException", 429))),
    Row("bedrock", "http_500", *both(Expect(TRANSIENT, "InternalServerException", 500))),
    Row("bedrock", "http_503", *both(Expect(TRANSIENT, "ServiceUnavailableException", 503))),
    Row("bedrock", "bad_request", *both(Expect(PERMANENT, "ValidationException", 400))),
    Row("bedrock", "auth_403", *both(Expect(PERMANENT, "UnrecognizedClientException", 403, pause=True))),
    Row(
        "bedrock",
        "cut_after_first_chunk",
        Expect(TRANSIENT, "connection_error"),
        Expect(CUT, "connection_error", text=True),
    ),
    Row(
        "bedrock",
        "no_finish_reason",
        Expect(CUT, "no_finish_reason", text=True, usage=True),
        Expect(CUT, "no_finish_reason", text=True),
    ),
    Row("bedrock", "null_stop_reason", *both(Expect(CUT, "no_finish_reason", text=True, usage=True))),
]

# Azure OpenAI through litellm's own ``azure/`` provider (deployment URLs, api-version), faults by header.
AZURE_ROWS = [
    Row("azure", "answer", *both(Expect(DONE, "stop", text=True, usage=True, finish="stop"))),
    Row(
        "azure",
        "azure_output_filter",
        Expect(BLOCKED, "content_filter", categories=("violence",), usage=True, finish="content_filter"),
        Expect(BLOCKED, "content_filter", usage=True, finish="content_filter"),
        native_streamed=Expect(
            BLOCKED, "content_filter", categories=("violence",), usage=True, finish="content_filter"
        ),
    ),
    Row(
        "azure",
        "azure_prompt_filter",
        *both(Expect(BLOCKED, "content_filter/ResponsibleAIPolicyViolation", 400, categories=("violence",))),
    ),
    Row("azure", "azure_rate_limit", *both(Expect(TRANSIENT, "429", 429, retry_after=2.0))),
    Row("azure", "http_503", *both(Expect(TRANSIENT, "server_error", 503, retry_after=2.0))),
]

ROWS = OPENAI_ROWS + AZURE_ROWS + ANTHROPIC_ROWS + GEMINI_ROWS + BEDROCK_ROWS
AWS = {
    "aws_access_key_id": "AKIAFAKEFAKEFAKEFAKE",
    "aws_secret_access_key": "fake-secret",
    "aws_region_name": "us-east-1",
}


def _model(row: Row) -> str:
    if row.scenario.startswith("answer"):
        return "sim-compliant"
    return f"sim-fault/{row.scenario}"


# Which adapters run each wire's rows: ``fast`` is the lean OpenAI adapter, ``azure`` the native Azure
# adapter on every OpenAI-wire shape (Azure speaks that wire), ``native`` the wire's own lean adapter.
_KINDS = {
    "openai": ("litellm", "fast", "azure"),
    "azure": ("litellm", "native"),
    "anthropic": ("litellm", "native"),
    "gemini": ("litellm", "native"),
    "bedrock": ("litellm",),
}


def _cases() -> list[object]:
    cases: list[object] = []
    for row in ROWS:
        adapters = _KINDS[row.wire]
        for adapter in adapters:
            for stream in (False, True):
                cases.append(
                    pytest.param(
                        row,
                        adapter,
                        stream,
                        id=f"{row.wire}-{row.scenario}-{adapter}-{'s' if stream else 'n'}",
                    )
                )
    return cases


def build_adapter(vendor: SimulatedVendor, row: Row, kind: str) -> TargetAdapter:
    """The adapter under test, pointed at the simulated vendor in the row's wire format."""
    model = _model(row)
    if kind == "azure" or (kind == "native" and row.wire == "azure"):
        from adapters.azure_adapter import AzureOpenAIAdapter

        headers = {} if row.scenario.startswith("answer") else {"x-sim-fault": row.scenario}
        return AzureOpenAIAdapter(
            model="azure/sim-deploy",
            api_key=API_KEY,
            api_base=vendor.root_url,
            api_version="2024-10-21",
            extra_params={"extra_headers": headers},
        )
    if kind == "native" and row.wire == "anthropic":
        from adapters.anthropic_adapter import AnthropicAdapter

        return AnthropicAdapter(model=f"anthropic/{model}", api_key=API_KEY, api_base=vendor.root_url)
    if kind == "native" and row.wire == "gemini":
        from adapters.gemini_adapter import GeminiAdapter

        return GeminiAdapter(model=f"gemini/{model}", api_key=API_KEY, api_base=vendor.root_url + "/v1beta")
    if kind == "fast":
        from adapters.openai_adapter import OpenAIAdapter

        return OpenAIAdapter(model=f"openai/{model}", api_key=API_KEY, api_base=vendor.base_url)
    from adapters.litellm_adapter import LiteLLMAdapter

    if row.wire == "openai":
        return LiteLLMAdapter(model=f"openai/{model}", api_key=API_KEY, api_base=vendor.base_url)
    if row.wire == "anthropic":
        return LiteLLMAdapter(model=f"anthropic/{model}", api_key=API_KEY, api_base=vendor.root_url)
    if row.wire == "azure":
        params: dict[str, object] = {"api_version": "2024-10-21"}
        if not row.scenario.startswith("answer"):
            params["extra_headers"] = {"x-sim-fault": row.scenario}
        return LiteLLMAdapter(
            model="azure/sim-deploy", api_key=API_KEY, api_base=vendor.root_url, extra_params=params
        )
    if row.wire == "gemini":
        return LiteLLMAdapter(model=f"gemini/{model}", api_key=API_KEY, api_base=vendor.root_url + "/v1beta")
    return LiteLLMAdapter(model=f"bedrock/converse/{model}", api_base=vendor.root_url, extra_params=AWS)


def test_every_scenario_of_every_wire_is_covered() -> None:
    covered = {(row.wire, row.scenario) for row in ROWS}
    missing = [
        (wire, name)
        for wire, names in scenarios().items()
        for name in names
        if (wire, name) not in covered and not name.startswith("stall") and name != "custom_error"
    ]
    assert missing == []  # stall: test_adapter_timeouts.py; custom_error: test_unknown_4xx_over_http


@pytest.mark.parametrize(("row", "adapter_kind", "stream"), _cases())
async def test_outcome(vendor: SimulatedVendor, row: Row, adapter_kind: str, stream: bool) -> None:
    expect = row.streamed if stream else row.plain
    if adapter_kind == "litellm" and stream and row.litellm_streamed is not None:
        expect = row.litellm_streamed
    native = row.native_streamed if stream else row.native_plain
    if adapter_kind == "native" and native is not None:
        expect = native
    adapter = build_adapter(vendor, row, adapter_kind)
    try:
        result = await adapter.send(
            ChatRequest(prompt=PROMPT, stream=stream, decoding=row.decoding, timeout_s=20)
        )
    finally:
        await adapter.aclose()
    check(result, expect, stream=stream)
    assert vendor.stats.prompts() == [PROMPT], "exactly one request, with the prompt as sent"


def check(result: AttemptResult, expect: Expect, *, stream: bool) -> None:
    """Assert every classified field of ``result`` against ``expect``."""
    got = {
        "outcome": result.outcome,
        "code": result.vendor_code,
        "status": result.status_code,
        "retryable": result.retryable,
        "retry_after": result.retry_after_s,
        "pause": result.pause_target,
        "categories": result.categories,
        "text": bool(result.text),
        "usage": result.usage is not None,
        "finish": result.finish_reason,
        "truncated": result.truncated,
    }
    want = {**dataclasses.asdict(expect), "retryable": expect.retryable}
    assert got == want
    if result.usage is not None:
        assert result.usage.prompt_tokens > 0
    if expect.outcome is Outcome.COMPLETED and expect.text:
        assert result.usage is not None
        assert result.usage.completion_tokens > 0
    # time to first token: present exactly when a stream delivered text
    assert (result.ttft_s is not None) == (stream and bool(result.text))
    if result.ttft_s is not None:
        assert result.ttft_s >= 0
        assert result.ttft_s <= result.latency_s
    assert result.latency_s > 0
    if result.outcome is Outcome.COMPLETED:
        assert result.error is None
    if result.outcome in (Outcome.FAILED_PERMANENT, Outcome.FAILED_TRANSIENT):
        assert result.error
        assert len(result.error) <= 300
    assert API_KEY not in (result.error or "")


UNKNOWN_4XX = [
    (409, b'{"error":{"message":"conflict","type":"conflict_error"}}', "application/json"),
    (410, b"gone", "text/plain"),
    (413, b'{"error":"payload too large"}', "application/json"),
    (415, b"", "application/json"),
    (422, b'{"detail":[{"loc":["body","messages"],"msg":"field required"}]}', "application/json"),
    (451, b"<html><body>unavailable for legal reasons</body></html>", "text/html"),
    (499, b'{"code":"ClientClosedRequest","message":"closed"}', "application/json"),
]


@pytest.mark.parametrize("adapter_kind", ["litellm", "fast"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("status", "body", "content_type"), UNKNOWN_4XX)
async def test_unknown_4xx_over_http(
    vendor: SimulatedVendor, adapter_kind: str, stream: bool, status: int, body: bytes, content_type: str
) -> None:
    """Unknown 4xx answers are FAILED_PERMANENT through both adapters, never blocked or retried."""
    headers = {
        "x-sim-fault": "custom_error",
        "x-sim-status": str(status),
        "x-sim-body": base64.b64encode(body).decode(),
        "x-sim-content-type": content_type,
    }
    adapter: TargetAdapter
    if adapter_kind == "fast":
        from adapters.openai_adapter import OpenAIAdapter

        adapter = OpenAIAdapter(
            model="openai/sim-compliant",
            api_key=API_KEY,
            api_base=vendor.base_url,
            extra_params={"extra_headers": headers},
        )
    else:
        from adapters.litellm_adapter import LiteLLMAdapter

        adapter = LiteLLMAdapter(
            model="openai/sim-compliant",
            api_key=API_KEY,
            api_base=vendor.base_url,
            extra_params={"extra_headers": headers},
        )
    try:
        result = await adapter.send(ChatRequest(prompt=PROMPT, stream=stream, timeout_s=20))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.status_code, result.retryable, result.pause_target) == (
        Outcome.FAILED_PERMANENT,
        status,
        False,
        False,
    )
    assert vendor.stats.faults["custom_error"] == 1
