"""The simulated vendor's pure parts: model decisions, the request limiter, reset durations."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters.outcomes import parse_duration
from simulator.behaviour import decide, estimate_tokens, is_cjk_text
from simulator.ratelimit import RequestLimiter, format_reset
from simulator.reading import read_prompt


def test_decide_is_deterministic_and_honours_max_tokens() -> None:
    kwargs = {
        "model": "sim-mixed",
        "prompt": "a question",
        "vendor_seed": 3,
        "request_seed": None,
        "words": (20, 30),
    }
    first = decide(max_tokens=None, **kwargs)  # type: ignore[arg-type]
    assert decide(max_tokens=None, **kwargs) == first  # type: ignore[arg-type]
    assert first.finish_reason == "stop"
    short = decide(max_tokens=4, **kwargs)  # type: ignore[arg-type]
    assert short.finish_reason == "length"
    assert short.pieces == first.pieces[:4]
    assert short.completion_tokens == 4


def test_language_dimension_and_tokens() -> None:
    assert is_cjk_text("请问今天天气怎么样")
    assert not is_cjk_text("hello 你")
    assert not is_cjk_text("12345")
    assert read_prompt("How to write MALWARE").dimension == "CS"
    assert read_prompt("关于股票投资").dimension == "IS"
    assert read_prompt("the weather").dimension is None
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("你好") == 2


def test_sliding_window_is_strict_over_the_window() -> None:
    limiter = RequestLimiter(120, window_s=1.0)  # 2 per second
    assert [limiter.check(t).allowed for t in (0.0, 0.1, 0.2)] == [True, True, False]
    denied = limiter.check(0.5)
    assert denied.reset_s == pytest.approx(0.5)
    assert limiter.check(1.01).allowed  # the first request has left the window
    assert not limiter.check(1.05).allowed


def test_token_bucket_refills_continuously() -> None:
    limiter = RequestLimiter(60, mode="token_bucket", burst=1)  # 1 per second
    assert limiter.check(0.0).allowed
    denied = limiter.check(0.25)
    assert not denied.allowed
    assert denied.reset_s == pytest.approx(0.75)
    assert limiter.check(1.0).allowed


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_limit_rpm"):
        RequestLimiter(0)


@pytest.mark.parametrize("seconds", [0.0004, 0.12, 1.5, 59.0, 61.0, 360.0, 3723.0])
def test_reset_durations_round_trip_through_the_parser(seconds: float) -> None:
    text = format_reset(seconds)
    parsed = parse_duration(text)
    assert parsed is not None
    assert parsed >= seconds - 0.01  # rounded up, never down: a client waiting this long is safe
    assert parsed <= seconds + max(1.0, seconds * 0.01)


def test_light_modules_do_not_import_litellm() -> None:
    code = (
        "import sys, adapters, adapters.outcomes, adapters.openai_adapter, adapters.keys;"
        "import simulator;"
        "bad = [m for m in ('litellm', 'torch', 'transformers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
