"""Vendor batch clients against the simulated vendor's batch endpoints: submit, poll, read back,
each line classified as the streaming adapters classify a whole answer."""

from __future__ import annotations

import asyncio

import pytest

from adapters.batch import BatchClient
from adapters.registry import AdapterSet, AdapterTarget
from core.redaction import Redactor
from core.types import ChatRequest, Outcome
from simulator import SimulatedVendor

KEY = "sk-batch-test-0123456789abcdef"


def _target(kind: str, root: str, model: str, headers: dict[str, str] | None = None) -> AdapterTarget:
    provider = {"openai": "openai", "azure": "azure", "anthropic": "anthropic"}[kind]
    base = root + "/v1" if kind == "openai" else root
    return AdapterTarget(
        model=f"{provider}/{model}",
        provider=provider,
        api_base=base,
        api_key=KEY,
        redactor=Redactor([KEY]),
        api_version="2024-10-21" if kind == "azure" else None,
        headers=headers or {},
    )


async def _finish(client: BatchClient, batch_id: str) -> None:
    for _ in range(100):
        if (await client.state(batch_id)).ended:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the batch never ended")


@pytest.mark.parametrize("kind", ["openai", "azure", "anthropic"])
async def test_lines_come_back_classified(kind: str) -> None:
    vendor = SimulatedVendor(batch_seconds=0.2, api_key=KEY)
    async with vendor:
        pool = AdapterSet()
        try:
            client = pool.build_batch(kind, _target(kind, vendor.root_url, "sim-compliant"))
            lines = [(f"k{i}", ChatRequest(prompt=f"Tell me a joke {i}.", stream=True)) for i in range(5)]
            batch_id = await client.submit(lines, label="t")
            assert not (await client.state(batch_id)).ended
            await _finish(client, batch_id)
            results = dict(await client.results(batch_id))
        finally:
            await pool.aclose()
    assert not vendor.handler_errors
    assert sorted(results) == [f"k{i}" for i in range(5)]
    assert {r.outcome for r in results.values()} == {Outcome.COMPLETED}
    assert all(r.text and r.usage and r.usage.completion_tokens > 0 for r in results.values())
    assert vendor.stats.batches_created == 1
    assert vendor.stats.batch_lines == 5
    assert {r.stream for r in vendor.stats.received} == {False}  # a batch line is never streamed


@pytest.mark.parametrize(
    ("kind", "fault", "outcome", "code"),
    [
        ("openai", "bad_request", Outcome.FAILED_PERMANENT, None),
        ("openai", "content_filter", Outcome.BLOCKED_BY_VENDOR, "content_filter"),
        (
            "azure",
            "azure_prompt_filter",
            Outcome.BLOCKED_BY_VENDOR,
            "content_filter/ResponsibleAIPolicyViolation",
        ),
        ("anthropic", "refusal", Outcome.BLOCKED_BY_VENDOR, "refusal"),
        ("anthropic", "overloaded", Outcome.FAILED_TRANSIENT, "overloaded_error"),
        ("anthropic", "bad_request", Outcome.FAILED_PERMANENT, "invalid_request_error"),
    ],
)
async def test_error_and_block_lines_keep_their_vendor_outcome(
    kind: str, fault: str, outcome: Outcome, code: str | None
) -> None:
    vendor = SimulatedVendor(batch_seconds=0.0)
    async with vendor:
        pool = AdapterSet()
        try:
            client = pool.build_batch(
                kind, _target(kind, vendor.root_url, "sim-compliant", {"x-sim-fault": fault})
            )
            batch_id = await client.submit([("k", ChatRequest(prompt="hi"))], label="t")
            await _finish(client, batch_id)
            [(custom_id, result)] = await client.results(batch_id)
        finally:
            await pool.aclose()
    assert not vendor.handler_errors
    assert custom_id == "k"
    assert result.outcome is outcome
    if code is not None:
        assert result.vendor_code == code


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_expired_lines_are_transient_with_their_own_code(kind: str) -> None:
    vendor = SimulatedVendor(batch_seconds=0.0, batch_expire_rate=1.0)
    async with vendor:
        pool = AdapterSet()
        try:
            client = pool.build_batch(kind, _target(kind, vendor.root_url, "sim-compliant"))
            batch_id = await client.submit(
                [("a", ChatRequest(prompt="hi")), ("b", ChatRequest(prompt="yo"))], label="t"
            )
            await _finish(client, batch_id)
            results = dict(await client.results(batch_id))
        finally:
            await pool.aclose()
    assert {r.vendor_code for r in results.values()} == {"batch_expired"}
    assert {r.outcome for r in results.values()} == {Outcome.FAILED_TRANSIENT}
    assert all(r.retryable for r in results.values())


def test_only_batch_capable_adapters_build_batch_clients() -> None:
    from adapters.registry import default_registry

    with pytest.raises(ValueError, match="no batch mode"):
        default_registry().get("litellm").create_batch(_target("openai", "http://h", "m"))


@pytest.mark.parametrize("kind", ["openai", "azure"])
async def test_a_job_is_found_again_by_its_label(kind: str) -> None:
    import time

    vendor = SimulatedVendor(batch_seconds=5.0, api_key=KEY)
    async with vendor:
        pool = AdapterSet()
        try:
            client = pool.build_batch(kind, _target(kind, vendor.root_url, "sim-compliant"))
            since = time.time() - 60
            line = [("k0", ChatRequest(prompt="Say hi.", stream=False))]
            ids = [await client.submit(line, label=f"seval-run-{n}") for n in range(3)]
            assert await client.find("seval-run-1", since=since) == ids[1]
            assert await client.find("seval-run-9", since=since) is None
            # Jobs created before `since` are not looked at.
            assert await client.find("seval-run-0", since=time.time() + 3600) is None
        finally:
            await pool.aclose()
    assert not vendor.handler_errors


async def test_anthropic_jobs_cannot_be_found_by_label() -> None:
    vendor = SimulatedVendor(batch_seconds=5.0, api_key=KEY)
    async with vendor:
        pool = AdapterSet()
        try:
            client = pool.build_batch("anthropic", _target("anthropic", vendor.root_url, "sim-compliant"))
            await client.submit([("k0", ChatRequest(prompt="Say hi.", stream=False))], label="seval-run-0")
            assert await client.find("seval-run-0", since=0.0) is None
        finally:
            await pool.aclose()
