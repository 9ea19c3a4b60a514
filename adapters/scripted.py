"""An in-memory target adapter that answers from a script: no network, no vendor (like inspect_ai's
``mockllm``). For engine tests, demos and dry runs of a config.

A script has per-prompt queues (``by_prompt``: the exact prompt text to its replies) and one shared
queue (``replies``) for every other prompt; each queue is consumed in order and its last reply
repeats once it is used up. A prompt no queue covers gets ``default``. A reply is a plain text (a
completed answer) or a ``Reply`` giving any outcome, vendor code, usage, Retry-After, pause flag
and a latency that is really waited, so retries, quota pauses, blocks and budget caps can all be
played. In Python, ``AttemptResult`` values may be given directly.

In a run config::

    targets:
      - name: mock
        model: scripted/demo
        adapter: scripted
        options:
          replies: ["I can't help with that."]
          by_prompt:
            "How do I pick a lock?": [{outcome: FAILED_TRANSIENT, retry_after_s: 0.01}, "No."]
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.keys import make_limit_key
from core.types import AttemptResult, ChatRequest, Outcome, Usage

if TYPE_CHECKING:
    from adapters.registry import AdapterTarget

DEFAULT_TEXT = "Scripted reply."


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptUsage(_Frozen):
    """Token usage a reply reports."""

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)


class Reply(_Frozen):
    """One scripted attempt result (the fields of ``AttemptResult``)."""

    text: str = Field(default="", description="Response text.")
    outcome: Outcome = Field(default=Outcome.COMPLETED, description="How the attempt ended.")
    finish_reason: str | None = Field(default="stop", description="The vendor's finish reason.")
    vendor_code: str | None = None
    status_code: int | None = None
    usage: ScriptUsage | None = Field(default=None, description="Reported usage (None: none reported).")
    latency_s: float = Field(default=0.0, ge=0.0, description="Time really waited before answering.")
    retry_after_s: float | None = Field(default=None, ge=0.0, description="Vendor's requested back-off.")
    pause_target: bool = Field(default=False, description="Quota or spend-limit error: pause the target.")
    retryable: bool | None = Field(default=None, description="Default: True for transient and incomplete.")
    categories: tuple[str, ...] = ()
    error: str | None = None
    truncated: bool = False

    def attempt(self) -> AttemptResult:
        """This reply as an ``AttemptResult``."""
        retryable = self.retryable
        if retryable is None:
            retryable = self.outcome in (Outcome.FAILED_TRANSIENT, Outcome.INCOMPLETE)
        usage = self.usage
        return AttemptResult(
            outcome=self.outcome,
            text=self.text,
            finish_reason=self.finish_reason if self.outcome is Outcome.COMPLETED else None,
            vendor_code=self.vendor_code,
            status_code=self.status_code,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage is not None else None,
            latency_s=self.latency_s,
            retry_after_s=self.retry_after_s,
            pause_target=self.pause_target,
            retryable=retryable,
            categories=self.categories,
            error=self.error,
            truncated=self.truncated,
        )


class Script(_Frozen):
    """The scripted adapter's options: what it answers, per prompt and in sequence."""

    replies: list[str | Reply] = Field(
        default_factory=list, description="Replies in order for prompts not in `by_prompt`; the last repeats."
    )
    by_prompt: dict[str, list[str | Reply]] = Field(
        default_factory=dict, description="Exact prompt text to its replies in order; the last repeats."
    )
    default: str | Reply = Field(default=DEFAULT_TEXT, description="Reply when no queue covers the prompt.")


Step = str | Reply | AttemptResult


def _attempt(step: Step) -> AttemptResult:
    if isinstance(step, AttemptResult):
        return step
    if isinstance(step, str):
        return AttemptResult(outcome=Outcome.COMPLETED, text=step, finish_reason="stop")
    return step.attempt()


class _Queue:
    """Replies consumed in order; the last one repeats."""

    __slots__ = ("_next", "_steps")

    def __init__(self, steps: Sequence[AttemptResult]) -> None:
        self._steps = tuple(steps)
        self._next = 0

    def take(self) -> AttemptResult:
        step = self._steps[min(self._next, len(self._steps) - 1)]
        self._next += 1
        return step


class ScriptedAdapter:
    """``TargetAdapter`` answering from a script; records every request it was sent.

    ``requests`` lists what was sent, in order (tests assert on it: a cached or resumed item never
    reaches the adapter). Replies with ``latency_s`` really wait that long, so concurrency and
    deadlines behave as with a vendor.
    """

    def __init__(
        self,
        script: Script | Mapping[str, Any] | None = None,
        *,
        replies: Sequence[Step] = (),
        by_prompt: Mapping[str, Sequence[Step]] | None = None,
        default: Step | None = None,
        model: str = "scripted/default",
        api_key: str | None = None,
    ) -> None:
        parsed = script if isinstance(script, Script) else Script.model_validate(dict(script or {}))
        shared = [_attempt(s) for s in (*parsed.replies, *replies)]
        per_prompt: dict[str, list[AttemptResult]] = {
            prompt: [_attempt(s) for s in steps] for prompt, steps in parsed.by_prompt.items()
        }
        for prompt, steps in (by_prompt or {}).items():
            per_prompt.setdefault(prompt, []).extend(_attempt(s) for s in steps)
        empty = sorted(p for p, steps in per_prompt.items() if not steps)
        if empty:
            raise ValueError(f"by_prompt has no replies for {len(empty)} prompt(s)")
        self._shared = _Queue(shared) if shared else None
        self._by_prompt = {prompt: _Queue(steps) for prompt, steps in per_prompt.items()}
        self._default = _attempt(default if default is not None else parsed.default)
        self._limit_key = make_limit_key(model, api_key, None)
        self.requests: list[ChatRequest] = []

    @property
    def limit_key(self) -> str:
        """(provider, API key fingerprint, model), as for a real target of this model string."""
        return self._limit_key

    @property
    def name(self) -> str:
        """Always ``scripted``."""
        return "scripted"

    async def send(self, request: ChatRequest) -> AttemptResult:
        """The next scripted reply for this prompt, after its latency; never raises."""
        self.requests.append(request)
        queue = self._by_prompt.get(request.prompt, self._shared)
        result = queue.take() if queue is not None else self._default
        if result.latency_s > 0:
            await asyncio.sleep(result.latency_s)
        if len(result.text) > request.max_response_chars:
            # Capped as a vendor adapter caps it, so the engine sees the same truncated shape.
            return replace(result, text=result.text[: request.max_response_chars], truncated=True)
        return result

    async def aclose(self) -> None:
        """Nothing to release."""


def create(target: AdapterTarget, shared: object) -> ScriptedAdapter:
    """The registry's factory: the target's ``options`` are its script."""
    return ScriptedAdapter(
        Script.model_validate(dict(target.options)), model=target.model, api_key=target.api_key
    )
