"""Counters the simulated vendor keeps for tests and benchmarks to read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the vendor received it."""

    wire: str  # openai | anthropic | gemini | bedrock
    model: str
    prompt: str
    stream: bool


@dataclass(slots=True)
class VendorStats:
    """Per-instance counters (mutated only by the vendor's own request handler).

    ``received`` holds every request in arrival order, including those answered with a 429 or a
    fault, so a test can prove that a resumed run sent exactly the prompts it still owed. ``blocks``
    counts, per model, the answers its own safety filter blocked (not injected faults).
    """

    requests: int = 0
    responses_429: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    blocks: Counter[str] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    received: list[Received] = field(default_factory=list)
    batches_created: int = 0
    batch_lines: int = 0
    batch_lines_repeated: int = 0
    """Batch lines whose custom_id an earlier batch already carried (a resubmission)."""

    def prompts(self, model: str | None = None) -> list[str]:
        """Received prompts in arrival order (only those for ``model`` when given)."""
        return [r.prompt for r in self.received if model is None or r.model == model]

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = 0
        self.responses_429 = 0
        self.faults.clear()
        self.blocks.clear()
        self.by_model.clear()
        self.by_status.clear()
        self.received.clear()
        self.batches_created = self.batch_lines = self.batch_lines_repeated = 0

    def snapshot(self, *, with_prompts: bool = False) -> dict[str, Any]:
        """A JSON-ready copy (served at ``GET /sim/stats``; ``?prompts=1`` adds the prompts)."""
        data: dict[str, Any] = {
            "requests": self.requests,
            "responses_429": self.responses_429,
            "faults": dict(self.faults),
            "blocks": dict(self.blocks),
            "by_model": dict(self.by_model),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "batches_created": self.batches_created,
            "batch_lines": self.batch_lines,
            "batch_lines_repeated": self.batch_lines_repeated,
        }
        if with_prompts:
            data["received"] = [
                {"wire": r.wire, "model": r.model, "prompt": r.prompt, "stream": r.stream}
                for r in self.received
            ]
        return data
