"""A huge non-protocol body from one vendor call must not stall every other call on the loop.

Before the byte cap, litellm spent ~40 s of CPU on the event loop redacting a 10 MB HTML page
(non-streamed), so a concurrent call's ``timeout_s`` could not fire until it was done.
"""

from __future__ import annotations

import asyncio

import pytest

from core.protocols import TargetAdapter
from core.types import ChatRequest, Outcome
from simulator import SimulatedVendor

API_KEY = "sk-simtest-0123456789abcdefghij"
TIMEOUT_S = 2.0
# the other item's own deadline plus the adapter's backstop grace and scheduling slack; the broken
# build answered after ~40 s
SLACK_S = 8.0


@pytest.mark.parametrize("kind", ["litellm", "fast"])
async def test_huge_html_200_is_dropped_and_other_timeouts_hold(vendor: SimulatedVendor, kind: str) -> None:
    huge: TargetAdapter
    stalled: TargetAdapter
    if kind == "litellm":
        from adapters.litellm_adapter import LiteLLMAdapter

        huge = LiteLLMAdapter(
            model="openai/sim-fault/huge_html_200", api_key=API_KEY, api_base=vendor.base_url
        )
        stalled = LiteLLMAdapter(model="openai/sim-fault/stall", api_key=API_KEY, api_base=vendor.base_url)
    else:
        from adapters.openai_adapter import OpenAIAdapter

        huge = OpenAIAdapter(
            model="openai/sim-fault/huge_html_200", api_key=API_KEY, api_base=vendor.base_url
        )
        stalled = OpenAIAdapter(model="openai/sim-fault/stall", api_key=API_KEY, api_base=vendor.base_url)
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        stall_task = asyncio.create_task(
            stalled.send(
                ChatRequest(prompt="wait", stream=True, timeout_s=TIMEOUT_S, idle_timeout_s=TIMEOUT_S)
            )
        )
        big = [
            asyncio.create_task(huge.send(ChatRequest(prompt=f"page {i}", stream=False, timeout_s=60)))
            for i in range(3)
        ]
        timed_out = await stall_task
        stall_done = loop.time() - start
        results = await asyncio.gather(*big)
    finally:
        await huge.aclose()
        await stalled.aclose()
    assert timed_out.outcome is Outcome.FAILED_TRANSIENT
    assert timed_out.vendor_code in ("timeout", "idle_timeout")
    assert stall_done < TIMEOUT_S + SLACK_S
    for result in results:
        assert result.outcome is Outcome.FAILED_TRANSIENT
        assert result.vendor_code == "response_too_large"
        assert result.text == ""
