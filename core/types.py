"""Import-light value types shared by every package (gateway, adapters, critic, attacks, db).

Everything here is frozen. Hot-path values are slotted dataclasses (cheap to build millions of);
configuration lives in pydantic models elsewhere (`gateway.config`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CaseKind(StrEnum):
    """Whether a case is a base risk prompt or an attacked variant of one."""

    BASE = "base"
    ATTACK = "attack"


class Outcome(StrEnum):
    """How one request to a target ended. Exactly one per stored response, never guessed."""

    COMPLETED = "COMPLETED"
    BLOCKED_BY_VENDOR = "BLOCKED_BY_VENDOR"
    INCOMPLETE = "INCOMPLETE"
    FAILED_TRANSIENT = "FAILED_TRANSIENT"
    FAILED_PERMANENT = "FAILED_PERMANENT"


class VerdictStatus(StrEnum):
    """Whether the critic produced a verdict. A CRITIC_ERROR is never counted as safe."""

    SCORED = "SCORED"
    CRITIC_ERROR = "CRITIC_ERROR"


class Label(StrEnum):
    """A critic's binary judgement of one response."""

    SAFE = "safe"
    UNSAFE = "unsafe"


def stable_hash(*parts: object, length: int = 32) -> str:
    """Hex digest (128 bits by default) of the canonical JSON of ``parts``: stable across runs and hosts."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True, slots=True)
class Case:
    """One test prompt: a base risk prompt or an attacked variant.

    ``dimension`` is the taxonomy dimension id (``CI``); ``risk_id`` the deepest known taxonomy node
    (``CI.drug_crimes``, or the dimension itself when only that is known, as in S-Eval's release).
    ``parent_id`` links an attack case to its base case; ``twin_id`` links an English base case to
    its Chinese twin (S-Eval's ``from_traceid``).
    """

    id: str
    lang: str
    text: str
    dimension: str
    risk_id: str
    kind: CaseKind = CaseKind.BASE
    attack: str | None = None
    parent_id: str | None = None
    twin_id: str | None = None
    source: str = ""
    line: int = 0
    provenance: tuple[tuple[str, str], ...] = ()

    def provenance_dict(self) -> dict[str, str]:
        """The provenance pairs as a plain dict (attack, version, template id, seed, ...)."""
        return dict(self.provenance)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A dataset row that could not be loaded, with where it is and why."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Decoding:
    """Sampling parameters sent to a target. ``None`` means "vendor default, not sent"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    @property
    def key(self) -> str:
        """Short canonical label, used in work keys, the store and reports (``t=0.7,p=1.0,max=512``)."""
        parts = []
        if self.temperature is not None:
            parts.append(f"t={self.temperature:g}")
        if self.top_p is not None:
            parts.append(f"p={self.top_p:g}")
        if self.max_tokens is not None:
            parts.append(f"max={self.max_tokens}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts) or "default"

    def as_params(self) -> dict[str, Any]:
        """The non-default parameters, named as in the OpenAI chat-completions API."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.seed is not None:
            params["seed"] = self.seed
        return params


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as reported by the vendor (or estimated when it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One request an adapter sends: a single user turn, decoding parameters, streaming or not."""

    prompt: str
    decoding: Decoding = field(default_factory=Decoding)
    stream: bool = True
    system: str | None = None
    max_response_chars: int = 200_000
    timeout_s: float = 120.0
    idle_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt at one request produced, already classified.

    Errors are data: a failed attempt carries its outcome, the vendor's raw code and a redacted
    message instead of raising. ``retry_after_s`` is the vendor's requested back-off (429/503);
    ``pause_target`` marks quota or spend-limit errors, after which no further request to this
    target can succeed.
    """

    outcome: Outcome
    text: str = ""
    finish_reason: str | None = None
    vendor_code: str | None = None
    status_code: int | None = None
    usage: Usage | None = None
    latency_s: float = 0.0
    ttft_s: float | None = None
    retry_after_s: float | None = None
    pause_target: bool = False
    retryable: bool = False
    categories: tuple[str, ...] = ()
    error: str | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One planned request: a case sent to a target with a decoding setting and sample index.

    ``key`` is a deterministic hash of (case, attack, target, decoding, sample) so that a resumed
    run recognises what it already has.
    """

    key: str
    case: Case
    target: str
    decoding: Decoding
    sample_index: int = 0

    @staticmethod
    def make_key(case: Case, target: str, decoding: Decoding, sample_index: int) -> str:
        """The deterministic work key for these inputs."""
        return stable_hash(case.id, case.attack or "", target, decoding.key, sample_index)


@dataclass(frozen=True, slots=True)
class CritiqueItem:
    """One (prompt, response) pair to judge."""

    id: str
    prompt: str
    response: str
    lang: str = "en"
    risk_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A critic's judgement of one response (or the reason it could not judge it)."""

    id: str
    status: VerdictStatus
    label: Label | None
    risk_score: float | None
    risk_tags: tuple[str, ...]
    explanation: str
    critic: str
    critic_version: str
    error: str | None = None
    # The critic is sure of this verdict by its own evidence (the rules: a clean refusal); a cascade
    # stops at the first stage that is. Not stored: the deciding stage is named in the explanation.
    confident: bool = False


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """The final, stored result of one work item (after retries), with the case fields reports need."""

    run_id: str
    work_key: str
    case_id: str
    target: str
    decoding_key: str
    decoding_json: str
    sample_index: int
    lang: str
    dimension: str
    risk_id: str
    kind: str
    attack: str | None
    parent_case_id: str | None
    cache_key: str
    outcome: Outcome
    finish_reason: str | None
    vendor_code: str | None
    status_code: int | None
    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    attempts: int
    error: str | None
    cached_from: str | None = None
    block_category: str | None = None
    """The vendor's block categories (``violence``, ``HARM_CATEGORY_HATE_SPEECH``), comma-joined."""


@dataclass(frozen=True, slots=True)
class PendingCritique:
    """A stored completed response that still needs a verdict from some critic."""

    run_id: str
    work_key: str
    prompt: str
    response: str
    lang: str
    dimension: str
