"""Generator attacks through ``AdapterGenerator`` + ``LiteLLMAdapter`` against the simulated vendor
on loopback HTTP, in-process and through ``seval attacks apply`` in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from attack_helpers import BASE_TEXT, base_case

from adapters.litellm_adapter import LiteLLMAdapter
from attacks.expand import expand
from attacks.generator import AdapterGenerator
from core.errors import GenerationError
from simulator import FAULT_PREFIX, SimulatedVendor

API_KEY = "sk-test-attacks-generator-0123456789"
# litellm's lazily imported modules trip a pydantic UserWarning (ReadOnly TypedDict items) on the
# first call; with warnings as errors the adapter would report that as a failed request.
pytestmark = pytest.mark.filterwarnings("ignore:Item.*ReadOnly. qualifier:UserWarning")


def _generator(base_url: str, model: str) -> AdapterGenerator:
    adapter = LiteLLMAdapter(model=f"openai/{model}", api_key=API_KEY, api_base=base_url)
    return AdapterGenerator(adapter, label=f"openai/{model}")


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_positive_induction_through_the_simulated_vendor(lang: str) -> None:
    case = base_case(lang)
    async with SimulatedVendor() as base_url:
        model = "sim-compliant"
        runs = [
            await expand(case, ["positive_induction"], seed=5, generator=_generator(base_url, model))
            for _ in range(2)
        ]
    first, again = runs
    (out,) = first
    assert again == first  # the simulated model is deterministic in (prompt, seed)
    prov = out.provenance_dict()
    assert prov["generator"] == "litellm:openai/sim-compliant"
    assert prov["opening"] == "generated"
    assert case.text in out.text
    assert out.text != case.text


async def test_vendor_failures_become_generation_errors_without_the_key() -> None:
    async with SimulatedVendor() as base_url:
        for scenario in ("content_filter", "auth_401"):
            generator = _generator(base_url, f"{FAULT_PREFIX}{scenario}")
            with pytest.raises(GenerationError, match="'reverse_induction' on case 'base-en-1'") as info:
                await expand(base_case("en"), ["reverse_induction"], seed=0, generator=generator)
            assert API_KEY not in str(info.value)


async def test_cli_apply_with_a_generator_model() -> None:
    line = json.dumps({"id": "p1", "prompt": BASE_TEXT["en"]}) + "\n"
    env = {**os.environ, "SEVAL_TEST_GEN_KEY": API_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    async with SimulatedVendor() as base_url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from gateway.cli import main; main()",
            "attacks",
            "apply",
            "--attack",
            "compositional_instructions",
            "--lang",
            "en",
            "--generator-model",
            "openai/sim-compliant",
            "--generator-base-url",
            base_url,
            "--generator-key-env",
            "SEVAL_TEST_GEN_KEY",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(line.encode()), timeout=120)
    assert proc.returncode == 0, stderr.decode()
    row = json.loads(stdout)
    assert row["parent_id"] == "p1"
    assert row["provenance"]["generator"] == "litellm:openai/sim-compliant"
    assert row["provenance"]["template_id"].startswith("frame.")
    assert API_KEY not in stdout.decode() + stderr.decode()
