"""The critic server's configuration: one explicit, frozen pydantic object."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.errors import UnknownPluginError
from critic_server.backends.hf import HFJudgeConfig
from critic_server.backends.openai_judge import OpenAIJudgeConfig
from critic_server.backends.registry import default_registry
from critic_server.backends.rules import RulesConfig

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServerConfig(BaseModel):
    """Everything the critic app needs: which backend, its settings, limits and auth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field(
        default="rules",
        description="Which critic backend to load: `rules`, `hf`, `openai` or a plugin's name.",
    )
    token: SecretStr | None = Field(
        default=None, description="Bearer token required on /v1/* (None: no auth, loopback only)."
    )
    max_batch_items: int = Field(default=256, ge=1, description="Most items one request may carry.")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Largest request body.")
    max_text_chars: int = Field(
        default=100_000, ge=1, description="Longest prompt or response judged; longer items get an error."
    )
    micro_batch_size: int = Field(default=16, ge=1, description="Largest batch a model backend sees.")
    micro_batch_wait_ms: float = Field(
        default=5.0, ge=0.0, description="How long the micro-batcher waits for more items after the first."
    )
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Settings of the rules backend.")
    hf: HFJudgeConfig | None = Field(
        default=None, description="Settings of the hf backend (required for it)."
    )
    openai: OpenAIJudgeConfig | None = Field(
        default=None, description="Settings of the openai backend (required for it)."
    )

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, v: str) -> str:
        try:
            default_registry().get(v)
        except UnknownPluginError as exc:
            raise ValueError(str(exc)) from None
        return v


def check_bind(host: str, token_configured: bool) -> None:
    """Refuse to expose an unauthenticated critic: non-loopback hosts need a token."""
    if host not in LOOPBACK_HOSTS and not token_configured:
        raise ValueError(
            f"refusing to bind {host!r} without a bearer token: pass --token-env VAR "
            "(VAR holding the token) or bind 127.0.0.1"
        )
