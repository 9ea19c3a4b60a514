"""The Gemini API wire format (``models/{m}:generateContent`` and ``:streamGenerateContent``)."""

from __future__ import annotations

from typing import Any

from simulator.httpserver import Responder
from simulator.wire import (
    Call,
    Fields,
    Scenario,
    cut_body,
    dumps,
    groups,
    optional_int,
    send_json,
    send_stream,
    stall,
)

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}
_RATINGS_BLOCKED: list[dict[str, Any]] = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


def parse(body: dict[str, Any], url_model: str | None, url_stream: bool, query: dict[str, str]) -> Fields:
    """The fields of a generateContent request (the last user turn is the prompt)."""
    contents = body["contents"]
    if not isinstance(contents, list) or not contents:
        raise ValueError("contents must be a non-empty list")
    users = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
    parts = users[-1].get("parts", []) if users else []
    prompt = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
    config = body.get("generationConfig") or {}
    if url_stream and query.get("alt") != "sse":
        raise ValueError("the simulated vendor streams Gemini responses only as SSE (add ?alt=sse)")
    return Fields(
        model=url_model or "",
        prompt=prompt,
        stream=url_stream,
        include_usage=True,
        # the API takes proto JSON names in either case (litellm sends snake_case)
        max_tokens=optional_int(
            config.get("maxOutputTokens", config.get("max_output_tokens")), "maxOutputTokens"
        ),
        seed=optional_int(config.get("seed"), "seed"),
    )


def _usage(call: Call, completion: int) -> dict[str, int]:
    prompt = call.reply.prompt_tokens
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }


def _candidate(
    text: str | None, finish: str | None, ratings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if text is not None:
        candidate["content"] = {"parts": [{"text": text}], "role": "model"}
    if finish is not None:
        candidate["finishReason"] = finish
    if ratings is not None:
        candidate["safetyRatings"] = ratings
    return candidate


def _response(call: Call, candidates: list[dict[str, Any]], completion: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": candidates,
        "usageMetadata": _usage(call, completion),
        "modelVersion": call.model,
        "responseId": call.request_id[-22:],
    }
    body.update(extra)
    return body


def _sse(chunks: list[dict[str, Any]]) -> list[bytes]:
    return [b"data: " + dumps(chunk) + b"\r\n\r\n" for chunk in chunks]


def _stream_chunks(
    call: Call, pieces: list[str], finish: str | None, ratings: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    chunks = [_response(call, [_candidate(p, None)], i + 1) for i, p in enumerate(pieces)]
    if finish is not None:
        final = _candidate(None if finish != "STOP" else "", finish, ratings)
        chunks.append(_response(call, [final], len(pieces)))
    return chunks


async def _send(
    call: Call,
    responder: Responder,
    pieces: list[str],
    finish: str | None,
    ratings: list[dict[str, Any]] | None = None,
    cut_after: int | None = None,
) -> int:
    if call.stream:
        events = _sse(_stream_chunks(call, pieces, finish, ratings))
        return await send_stream(responder, call, events, [], cut_after=cut_after)
    text = "".join(pieces)
    body = _response(call, [_candidate(text if text else None, finish, ratings)], len(pieces))
    if cut_after is not None:
        return cut_body(responder, body)
    return send_json(responder, 200, body)


async def answer(call: Call, responder: Responder) -> int:
    """The normal answer of a simulated model (a blocked one ends with ``finishReason: SAFETY``)."""
    if call.reply.blocked:
        return await _output_blocked("SAFETY")(call, responder)
    return await _send(call, responder, groups(call), _FINISH[call.reply.finish_reason])


def _error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """A generic Gemini-format error (bad JSON, unknown scenario, wrong key)."""
    return status, _error(status, "UNAUTHENTICATED" if status == 401 else "INVALID_ARGUMENT", message)


def _quota(per: str, metric: str, retry_s: int) -> dict[str, Any]:
    return _error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                        "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"},
                        "quotaValue": "200" if per == "Day" else "15",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {"description": "Learn more", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_s}s"},
        ],
    )


async def rate_limit_response(call: Call, responder: Responder, reset_s: float) -> int:
    """The 429 the vendor's own limiter sends (per-minute quota, RetryInfo in the body)."""
    body = _quota("Minute", "generate_content_free_tier_requests", max(1, round(reset_s)))
    return send_json(responder, 429, body)


def _status(status: int, body: dict[str, Any]) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        return send_json(responder, status, body)

    return run


def _prompt_blocked(reason: str) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        body = {
            "promptFeedback": {"blockReason": reason, "safetyRatings": _RATINGS_BLOCKED},
            "usageMetadata": {
                "promptTokenCount": call.reply.prompt_tokens,
                "totalTokenCount": call.reply.prompt_tokens,
            },
            "modelVersion": call.model,
        }
        if call.stream:
            return await send_stream(responder, call, _sse([body]), [])
        return send_json(responder, 200, body)

    return run


def _output_blocked(reason: str) -> Scenario:
    async def run(call: Call, responder: Responder) -> int:
        ratings = _RATINGS_BLOCKED if reason == "SAFETY" else None
        pieces = list(call.reply.pieces[:2]) if call.stream else []
        return await _send(call, responder, pieces, reason, ratings)

    return run


async def _cut_no_finish(call: Call, responder: Responder) -> int:
    """Some content, then a clean end of the stream with no ``finishReason`` anywhere."""
    return await _send(call, responder, list(call.reply.pieces[:3]), None)


async def _cut_before_first_chunk(call: Call, responder: Responder) -> int:
    return await _send(call, responder, groups(call), "STOP", cut_after=0)


async def _cut_after_first_chunk(call: Call, responder: Responder) -> int:
    return await _send(call, responder, groups(call), "STOP", cut_after=2)


async def _no_parts(call: Call, responder: Responder) -> int:
    """A candidate whose content has no parts (seen with finishReason STOP on empty answers)."""
    body = _response(call, [{"index": 0, "content": {"role": "model"}, "finishReason": "STOP"}], 0)
    if call.stream:
        return await send_stream(responder, call, _sse([body]), [])
    return send_json(responder, 200, body)


async def _stall(call: Call, responder: Responder) -> int:
    return await stall(responder, 200, [("content-type", "text/event-stream")], b"")


SCENARIOS: dict[str, Scenario] = {
    "prompt_blocked": _prompt_blocked("SAFETY"),
    "prompt_blocked_other": _prompt_blocked("OTHER"),
    "prompt_blocked_prohibited": _prompt_blocked("PROHIBITED_CONTENT"),
    "safety": _output_blocked("SAFETY"),
    "prohibited_content": _output_blocked("PROHIBITED_CONTENT"),
    "recitation": _output_blocked("RECITATION"),
    "other": _output_blocked("OTHER"),
    "blocklist": _output_blocked("BLOCKLIST"),
    "spii": _output_blocked("SPII"),
    "rate_limit": _status(429, _quota("Minute", "generate_content_free_tier_requests", 17)),
    "daily_quota": _status(429, _quota("Day", "generate_content_free_tier_requests", 43)),
    "http_500": _status(
        500,
        _error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        ),
    ),
    "http_503": _status(503, _error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")),
    "cut_no_finish": _cut_no_finish,
    "cut_before_first_chunk": _cut_before_first_chunk,
    "cut_after_first_chunk": _cut_after_first_chunk,
    "no_parts": _no_parts,
    "stall": _stall,
    "auth_400": _status(
        400,
        _error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        ),
    ),
    "auth_403": _status(
        403, _error(403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended.")
    ),
    "bad_request": _status(
        400,
        _error(
            400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""
        ),
    ),
}
