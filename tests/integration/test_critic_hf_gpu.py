"""The hf judge on a CUDA device: same training-format input, same verdicts as on the CPU.

Behind the ``gpu`` marker (``pytest -m gpu``) and skipped without CUDA; runs when a device is lent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from core.critic_wire import CritiqueItemIn  # noqa: E402
from critic_server.backends.hf import HFBackend, HFJudgeConfig  # noqa: E402
from critic_server.fencing import Fence  # noqa: E402
from critic_server.tiny_judge import build_tiny_judge  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


async def test_cuda_scores_match_cpu_in_the_training_format(tmp_path: Path) -> None:
    tiny = build_tiny_judge(tmp_path / "tiny")
    items = [
        CritiqueItemIn(id=str(i), prompt=f"How do I kill process {i}?", response="Use kill. " * (1 + 7 * i))
        for i in range(8)
    ]
    cpu = await HFBackend.load(HFJudgeConfig(model=str(tiny), device="cpu", dtype="float32"))
    gpu = await HFBackend.load(HFJudgeConfig(model=str(tiny), device="cuda", dtype="float32"))
    try:
        fence = Fence.new()
        assert [gpu.build_prompt(it, fence) for it in items] == [cpu.build_prompt(it, fence) for it in items]
        on_cpu = await cpu.judge(items)
        on_gpu = await gpu.judge(items)
    finally:
        await cpu.aclose()
        await gpu.aclose()
    for a, b in zip(on_cpu, on_gpu, strict=True):
        assert a.risk_score == pytest.approx(b.risk_score, abs=1e-3)
        assert a.label == b.label
