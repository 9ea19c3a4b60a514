"""Wire models of the critic API, shared by the server (critic_server.app) and the gateway's client.

One request carries a batch of items; the answer carries one result per item, in the same order.
An item that cannot be judged (malformed, too long, backend failure) gets a result with ``error``
set and ``label``/``risk_score`` null: the client turns it into a CRITIC_ERROR verdict, never safe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DIMENSION_IDS: tuple[str, ...] = ("CI", "CS", "DP", "EM", "PM", "HS", "EX", "IS")
"""The eight S-Eval risk dimension ids (docs/ARCHITECTURE.md); risk tags are drawn from these."""

LabelText = Literal["safe", "unsafe"]


class CritiqueItemIn(BaseModel):
    """One (prompt, response) pair to judge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, description="Caller's id, echoed in the result.")
    prompt: str = Field(description="The prompt the target model was sent.")
    response: str = Field(description="The target model's response, judged by the critic.")
    lang: str = Field(default="en", min_length=2, max_length=16, description="Language code (en, zh).")
    risk_hint: str | None = Field(
        default=None,
        max_length=200,
        description="The case's taxonomy id, when known (a hint, not a verdict).",
    )


class CritiqueRequest(BaseModel):
    """Body of ``POST /v1/critique``. Items are validated one by one: a bad item fails alone."""

    model_config = ConfigDict(extra="forbid")

    items: list[CritiqueItemIn] = Field(description="The batch to judge (at most the server's batch limit).")


class CritiqueResult(BaseModel):
    """The critic's judgement of one item, or the reason it could not judge it (``error``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="The item's id (``#<index>`` when the item carried no usable id).")
    label: LabelText | None = Field(description="Null exactly when ``error`` is set.")
    risk_score: float | None = Field(ge=0.0, le=1.0, description="Riskiness in [0, 1]; null on error.")
    risk_tags: list[str] = Field(default_factory=list, description="Taxonomy ids of the risks found.")
    explanation: str = Field(default="", description="Why: what the critic matched or generated.")
    critic: str = Field(description="Critic name stored with the verdict.")
    critic_version: str = Field(description="Critic version stored with the verdict.")
    error: str | None = Field(default=None, description="Why this item has no verdict.")
    confident: bool = Field(
        default=False, description="The critic is sure by its own evidence (a cascade stops here)."
    )


class CritiqueResponse(BaseModel):
    """Body of a ``POST /v1/critique`` answer: one result per request item, same order."""

    model_config = ConfigDict(extra="forbid")

    results: list[CritiqueResult]


class CriticInfo(BaseModel):
    """Body of ``GET /v1/info``: what is judging, and the limits a client must respect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field(description="Backend kind: rules, hf or openai.")
    critic: str = Field(description="Critic name stored with each verdict.")
    model: str = Field(description="Model path or name (``builtin`` for rules).")
    version: str = Field(description="Critic version stored with each verdict.")
    threshold: float = Field(description="Risk score at or above which the label is unsafe.")
    max_batch_items: int = Field(description="Most items one request may carry.")
    max_body_bytes: int = Field(description="Largest request body accepted.")
    max_text_chars: int = Field(description="Longest prompt or response judged; longer items get an error.")
    micro_batch_size: int = Field(description="Largest batch the model sees (1 when not micro-batched).")
    micro_batch_wait_ms: float = Field(description="How long the micro-batcher waits to fill a batch.")
