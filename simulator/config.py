"""Settings of one simulated vendor instance."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VendorConfig(BaseModel):
    """How the simulated vendor behaves: latency, rate limit, injected faults, answer sizes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, description="Seed mixed into every model decision (same seed, same answers).")
    latency_ms: float = Field(0.0, ge=0, description="Delay before the response head (time to first byte).")
    token_delay_ms: float = Field(0.0, ge=0, description="Delay between streamed chunks.")
    tokens_per_chunk: int = Field(
        1, ge=1, description="Answer pieces (about one token each) per stream chunk."
    )
    response_words: tuple[int, int] = Field(
        (24, 64),
        description="Inclusive range of closing filler words (pairs of characters in Chinese) in an "
        "answer that is not a refusal.",
    )
    rate_limit_rpm: int | None = Field(
        None, gt=0, description="Requests per minute per model; excess requests get a 429. None: no limit."
    )
    rate_limit_mode: Literal["sliding_window", "token_bucket"] = Field(
        "sliding_window",
        description="sliding_window: strict count per window; token_bucket: refill at rpm/60.",
    )
    rate_limit_window_s: float = Field(60.0, gt=0, description="Window of the sliding-window limiter.")
    rate_limit_burst: int | None = Field(
        None, gt=0, description="Token-bucket capacity (default: one second's worth of requests)."
    )
    transient_fault_rate: float = Field(
        0.0, ge=0, le=1, description="Share of ordinary requests answered with a transient fault instead."
    )
    transient_faults: tuple[str, ...] = Field(
        ("http_503", "http_500", "rate_limit", "cut_after_first_chunk"),
        description="Scenarios drawn (deterministically per prompt and attempt) for transient faults.",
    )
    api_key: str | None = Field(
        None, description="When set, requests must carry this key (else 401 in the vendor's format)."
    )
    record_prompts: bool = Field(True, description="Keep every received prompt in the stats.")
    batch_seconds: float = Field(
        1.0,
        ge=0,
        description="A batch job's completion window, compressed: it ends this long after creation.",
    )
    batch_expire_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of batch lines (by hash of their custom_id) that expire unanswered.",
    )

    @model_validator(mode="after")
    def _check(self) -> VendorConfig:
        low, high = self.response_words
        if not 0 < low <= high:
            raise ValueError(f"response_words must be 0 < low <= high, got {self.response_words}")
        return self
