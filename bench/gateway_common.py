"""Helpers shared by the gateway benchmarks (overhead, throughput, ratelimit, resume, fast_adapter_choice).

Not a benchmark itself. Suites are written as S-Eval-format JSONL with short, distinct prompts, so
every work item is unique (no cache hits) and the store holds the cases like any real run. The bare
client loops are the floors the gateway's client CPU is compared against.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from core.protocols import TargetAdapter

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

IN_FLIGHT = 64

DIMENSIONS = (
    "Crimes_and_Illegal_Activities",
    "Cybersecurity",
    "Data_Privacy",
    "Ethics_and_Morality",
    "Physical_and_Mental_Health",
    "Hate_Speech",
    "Extremism",
    "Inappropriate_Suggestions",
)


def write_suite(path: Path, items: int, *, tag: str = "bench") -> Path:
    """An S-Eval-format JSONL suite of ``items`` distinct short English prompts."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(items):
            row = {
                "traceid": f"{tag}-{i}",
                "risk_type": DIMENSIONS[i % len(DIMENSIONS)],
                "prompt": f"Benchmark prompt number {i} ({tag}): describe the weather in one line.",
                "ext": json.dumps({"model": "base_risk"}),
            }
            out.write(json.dumps(row) + "\n")
    return path


def cpu_s() -> float:
    """User plus system CPU seconds of this process so far (child processes excluded)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_config(
    *,
    name: str,
    suite: Path,
    db: Path,
    base_url: str,
    adapter: str,
    model: str = "sim-compliant",
    in_flight: int = 64,
    critic: bool = False,
    rpm: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run config (as a dict) for one simulated target."""
    limits: dict[str, Any] = {"max_in_flight": in_flight}
    if rpm is not None:
        limits["rpm"] = rpm
    return {
        "name": name,
        "suites": [str(suite)],
        "languages": ["en"],
        "db_url": f"sqlite+aiosqlite:///{db}",
        "cache": False,
        "critic": {"enabled": critic, "backend": "rules", "batch_size": 64},
        "targets": [
            {
                "name": model,
                "model": model,
                "api_base": base_url,
                "api_key_env": None,
                "adapter": adapter,
                "limits": limits,
                "prices": {"input_per_1m": 0.5, "output_per_1m": 1.5},
            }
        ],
        **extra,
    }


async def bare_loop(items: int, one: Callable[[int], Awaitable[bool]]) -> tuple[float, int]:
    """CPU ms per item of ``one`` over ``items`` calls, IN_FLIGHT at a time; and how many succeeded."""
    queue = list(range(items))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while queue:
            if await one(queue.pop()):
                ok += 1

    start = cpu_s()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return (cpu_s() - start) * 1000.0 / items, ok


async def httpx_chat(
    client: httpx.AsyncClient, base_url: str, prompt: str, *, api_key: str | None = None
) -> bool:
    """One streamed chat completion over bare httpx (lean SSE parsing, text kept): text and 'stop'?"""
    import orjson

    body = {
        "model": "sim-compliant",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"content-type": "application/json"}
    if api_key is not None:
        headers["authorization"] = f"Bearer {api_key}"
    finish = None
    parts: list[str] = []
    pending = b""
    async with client.stream(
        "POST", f"{base_url}/chat/completions", content=orjson.dumps(body), headers=headers
    ) as response:
        async for data in response.aiter_bytes():
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                    continue
                event = orjson.loads(line[5:])
                choices = event.get("choices")
                if choices:
                    content = choices[0].get("delta", {}).get("content")
                    if content:
                        parts.append(content)
                    finish = choices[0].get("finish_reason") or finish
    return finish == "stop" and bool(parts)


async def litellm_chat(base_url: str, prompt: str, *, api_key: str) -> bool:
    """One bare streamed ``litellm.acompletion`` (no retries, text kept): text and 'stop'?"""
    import litellm

    stream = await litellm.acompletion(
        model="openai/sim-compliant",
        api_base=base_url,
        api_key=api_key,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
        num_retries=0,
        max_retries=0,
    )
    finish = None
    parts: list[str] = []
    async for chunk in stream:
        if chunk.choices:
            if chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            finish = chunk.choices[0].finish_reason or finish
    return finish == "stop" and bool(parts)


async def gateway_run(
    name: str, adapter: str, suite: Path, tmp: Path, base_url: str, items: int, *, critic: bool = False
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one full ``gateway.run`` over the suite; exits unless every item
    completed (and, with the critic on, was scored)."""
    from gateway.config import RunConfig
    from gateway.sdk import run

    cfg = RunConfig.model_validate(
        run_config(
            name=name, suite=suite, db=tmp / f"{name}.db", base_url=base_url, adapter=adapter, critic=critic
        )
    )
    wall, cpu = time.perf_counter(), cpu_s()
    result = await run(cfg)
    wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
    done = result.targets[0].outcomes.get("COMPLETED", 0)
    scored = result.verdicts.get("SCORED", 0)
    if result.status != "completed" or done != items or (critic and scored != items):
        raise SystemExit(f"{name}: {result.status}, {done} completed, {scored} scored of {items}: {result}")
    return wall, cpu


NATIVE_WIRES = ("anthropic", "gemini", "azure")
"""Vendors with a native lean adapter, measured against litellm on the same simulated wire."""


def wire_target(wire: str, root_url: str) -> tuple[str, str, dict[str, object]]:
    """(litellm model string, api_base, extra litellm params) reaching ``wire`` on the simulated vendor."""
    if wire == "anthropic":
        return "anthropic/sim-compliant", root_url, {}
    if wire == "gemini":
        return "gemini/sim-compliant", root_url + "/v1beta", {}
    return "azure/sim-deploy", root_url, {"api_version": "2024-10-21"}


def native_adapter_for(wire: str, root_url: str, api_key: str) -> TargetAdapter:
    """The native lean adapter for ``wire`` pointed at the simulated vendor (its own session)."""
    from adapters.registry import AdapterTarget, default_registry

    model, base, extra = wire_target(wire, root_url)
    version = extra.get("api_version")
    target = AdapterTarget(
        model=model,
        provider=wire,
        api_base=base,
        api_key=api_key,
        api_version=version if isinstance(version, str) else None,
    )
    return default_registry().get(wire).create(target)


async def litellm_wire_chat(wire: str, root_url: str, prompt: str, *, api_key: str) -> bool:
    """One bare streamed ``litellm.acompletion`` on ``wire`` (no retries, text kept): text and a stop?"""
    import litellm

    model, base, extra = wire_target(wire, root_url)
    stream = await litellm.acompletion(
        model=model,
        api_base=base,
        api_key=api_key,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        num_retries=0,
        **extra,
    )
    parts: list[str] = []
    finish = None
    async for chunk in stream:
        if chunk.choices:
            if chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            finish = chunk.choices[0].finish_reason or finish
    return finish == "stop" and bool(parts)


async def start_seval_run(config: Path, *args: str) -> asyncio.subprocess.Process:
    """``seval run CONFIG [ARGS]`` in a subprocess, logging warnings (JSON lines) to a stderr pipe."""
    env = {**os.environ, "SEVAL_LOG_LEVEL": "WARNING", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from gateway.cli import main; main()",
        "run",
        str(config),
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
