"""The typed description of a run: what to send, to whom, how fast, and what it may cost.

A run YAML file and the SDK's ``RunConfig`` are the same structure. Everything is frozen and
rejects unknown fields, so a typo is an error that names the file, the field and its line.

The run id is the hash of the run's *work definition* (``RunConfig.work_spec``): its name, suites,
languages, kinds, attacks, targets' models, endpoints, adapters and decoding, the decoding grid,
samples and case limit. Operational settings (rate limits, retries, budget, critic, database,
cache, retry_failed, streaming) are left out on purpose: raising a budget or a rate limit and
running the same file again resumes the same run instead of starting a new one.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.registry import AdapterTarget, default_registry
from core.errors import ConfigError, UnknownPluginError
from core.redaction import REDACTED, Redactor
from core.types import CaseKind, Decoding, stable_hash

DEFAULT_DB_URL = "sqlite+aiosqlite:///seval.db"
SAMPLE_SUITE = "sample"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The critic built by the gateway itself (a vendor model through the adapters and call policy).
JUDGE_BACKEND = "judge"
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodingSetting(_Frozen):
    """One set of sampling parameters. An unset field is not sent (the vendor's default applies)."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int | None = Field(default=None, ge=1, description="Cap on completion tokens.")
    seed: int | None = Field(default=None, description="Vendor-side sampling seed, where supported.")

    def over(self, defaults: DecodingSetting) -> Decoding:
        """This setting with ``defaults`` filling every field it leaves unset."""
        return Decoding(
            temperature=self.temperature if self.temperature is not None else defaults.temperature,
            top_p=self.top_p if self.top_p is not None else defaults.top_p,
            max_tokens=self.max_tokens if self.max_tokens is not None else defaults.max_tokens,
            seed=self.seed if self.seed is not None else defaults.seed,
        )


_Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
_TopP = Annotated[float, Field(gt=0.0, le=1.0)]
_MaxTokens = Annotated[int, Field(ge=1)]


class DecodingGrid(_Frozen):
    """A decoding sweep: the cross product of the listed values (S-Eval's decoding study)."""

    temperatures: list[_Temperature | None] = Field(default=[None], min_length=1, description="Temperatures.")
    top_ps: list[_TopP | None] = Field(default=[None], min_length=1, description="top_p values.")
    max_tokens: list[_MaxTokens | None] = Field(default=[None], min_length=1, description="Completion caps.")
    seeds: list[int | None] = Field(default=[None], min_length=1, description="Vendor sampling seeds.")

    def settings(self) -> list[DecodingSetting]:
        """Every combination, temperatures varying slowest."""
        return [
            DecodingSetting(temperature=t, top_p=p, max_tokens=m, seed=s)
            for t, p, m, s in itertools.product(self.temperatures, self.top_ps, self.max_tokens, self.seeds)
        ]


class Limits(_Frozen):
    """A target's rate limits. Targets sharing provider, key and model share one limiter."""

    rpm: float | None = Field(default=None, gt=0, description="Requests per minute (None: no limit).")
    tpm: float | None = Field(default=None, gt=0, description="Tokens per minute, prompt plus completion.")
    max_in_flight: int = Field(default=16, ge=1, le=4096, description="Requests in flight at once.")


class Prices(_Frozen):
    """Prices in USD per million tokens, for models litellm's cost map does not know."""

    input_per_1m: float = Field(ge=0, description="USD per 1M prompt tokens.")
    output_per_1m: float = Field(ge=0, description="USD per 1M completion tokens.")


class BatchSettings(_Frozen):
    """How a `mode: batch` target uses its vendor's batch API."""

    price_factor: float = Field(
        default=0.5, gt=0, le=1, description="Batch price as a share of the streaming price (vendors: half)."
    )
    max_items: int = Field(default=10_000, ge=1, le=50_000, description="Requests per batch job.")
    poll_s: float = Field(default=30.0, gt=0, description="Seconds between polls of an open job.")
    max_wait_s: float = Field(
        default=86_400.0, gt=0, description="Longest one session waits for its jobs (they keep running)."
    )


class TargetConfig(_Frozen):
    """One model under test."""

    name: str = Field(description="Short unique name used in work keys, the store and reports.")
    model: str = Field(
        min_length=1,
        description="litellm model string (`openai/gpt-4o`, `anthropic/...`, `azure/...`, `gemini/...`, "
        "`bedrock/...`, `deepseek/...`, `dashscope/...`, `hosted_vllm/...`), or a bare model name "
        "together with `api_base` for any OpenAI-compatible server.",
    )
    api_base: str | None = Field(default=None, description="Base URL of the endpoint (`http://host/v1`).")
    endpoint_name: str | None = Field(
        default=None,
        min_length=1,
        description="A stable name for the endpoint that stands in for `api_base` in the run id, for a "
        "server whose address changes between sessions (a local server on a random port): a session "
        "with another `api_base` then resumes the same run. Set it only when every such address serves "
        "the same model.",
    )
    api_key_env: str | None = Field(
        default=None, description="NAME of the environment variable holding the API key (never the key)."
    )
    adapter: str = Field(
        default="litellm",
        description="`openai` (lean, exact for OpenAI-compatible endpoints), the native lean `anthropic`, "
        "`gemini` and `azure` adapters, `litellm` (every vendor), `scripted` (in-memory answers from "
        "`options`, no network) or an installed plugin's name. Default: a lean one wherever it is exact, "
        "else `litellm`.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Adapter-specific settings, checked by the adapter (the `scripted` adapter's script).",
    )
    limits: Limits = Field(default_factory=Limits, description="Rate limits for this target.")
    decoding: DecodingSetting = Field(
        default_factory=DecodingSetting, description="Defaults under the run's decoding settings."
    )
    prices: Prices | None = Field(default=None, description="Prices when litellm's cost map lacks the model.")
    api_version: str | None = Field(
        default=None, description="Azure OpenAI `api-version` (default 2024-10-21)."
    )
    extra_body: dict[str, Any] | None = Field(
        default=None,
        description="Fields merged into every request body as sent to the vendor (never logged; part of "
        "the run id, as they change the answers).",
    )
    headers: dict[str, str] | None = Field(
        default=None,
        description="HTTP headers sent to the vendor (never logged; names and non-secret values are part "
        "of the run id, secret-looking values are redacted there).",
    )
    stream: bool | None = Field(default=None, description="Stream this target (default: `request.stream`).")
    mode: Literal["online", "batch"] = Field(
        default="online",
        description="`batch`: send through the vendor's batch API (OpenAI, Azure OpenAI, Anthropic) at "
        "batch prices; results arrive within the vendor's window, and a rerun polls instead of resending.",
    )
    batch: BatchSettings = Field(default_factory=BatchSettings, description="Batch-mode settings.")

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not _TARGET_NAME.match(v) or len(v) > 200:
            raise ValueError("use letters, digits and _ . : - (at most 200), starting with a letter or digit")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not _ENV_NAME.match(v) or Redactor().redact(v) != v):
            raise ValueError(
                "must be the NAME of an environment variable (like OPENAI_API_KEY), never the key itself"
            )
        return v

    @field_validator("adapter")
    @classmethod
    def _registered_adapter(cls, v: str) -> str:
        try:
            default_registry().get(v)
        except UnknownPluginError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("options")
    @classmethod
    def _adapter_options(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        adapter = info.data.get("adapter")
        if adapter is None:  # the adapter name itself was rejected: that error says enough
            return v
        return default_registry().get(adapter).check_options(v)

    @model_validator(mode="before")
    @classmethod
    def _default_adapter(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("adapter") is None and isinstance(data.get("model"), str):
            data = dict(data)
            data["adapter"] = default_adapter(data["model"], data.get("api_base"))
        return data

    @model_validator(mode="after")
    def _check_endpoint(self) -> TargetConfig:
        provider = self.provider
        if provider is None and self.api_base is None:
            raise ValueError(
                f"model {self.model!r} has no provider prefix (like `openai/`); "
                "give one, or set `api_base` for an OpenAI-compatible server"
            )
        problem = default_registry().get(self.adapter).problem(provider, self.api_base)
        if problem is not None:
            raise ValueError(problem)
        if self.mode == "batch" and default_registry().get(self.adapter).batch is None:
            raise ValueError(f"adapter `{self.adapter}` has no batch mode (use openai, azure or anthropic)")
        return self

    @property
    def provider(self) -> str | None:
        """The litellm provider prefix of ``model`` (``openai``), or None for a bare model name."""
        return provider_of(self.model, self.api_base)

    @property
    def litellm_model(self) -> str:
        """The model string both adapters take (bare names on an OpenAI-compatible URL get ``openai/``)."""
        return self.model if self.provider is not None else f"openai/{self.model}"

    @property
    def openai_base_url(self) -> str | None:
        """Base URL the `openai` adapter talks to: ``api_base`` or the provider's public endpoint."""
        if self.api_base is not None:
            return self.api_base
        return default_registry().get("openai").default_base(self.provider)

    def adapter_target(self, api_key: str | None, redactor: Redactor) -> AdapterTarget:
        """What this target's adapter factory is given (``api_key`` read by the caller)."""
        return AdapterTarget(
            model=self.litellm_model,
            provider=self.provider,
            api_base=self.api_base,
            api_key=api_key,
            redactor=redactor,
            options=self.options,
            api_version=self.api_version,
            extra_body=self.extra_body or {},
            headers=self.headers or {},
        )

    def work_spec(self) -> dict[str, Any]:
        """The fields that change what this target answers (part of the run id)."""
        spec = {
            "name": self.name,
            "model": self.model,
            "api_base": self.api_base,
            "adapter": self.adapter,
            "decoding": self.decoding.model_dump(mode="json"),
            **self._vendor_spec(),
        }
        if self.endpoint_name is not None:  # the user names the endpoint; its address may change
            del spec["api_base"]
            spec["endpoint"] = self.endpoint_name
        if self.options:  # only when set, so the run ids of targets without options stay as they were
            spec["options"] = self.options
        return spec

    def _vendor_spec(self) -> dict[str, Any]:
        """The per-vendor fields that change answers, present only when set (older run ids stay).

        Header values that look like secrets are redacted: the run id must not depend on (or leak)
        a credential, and rotating a key does not change what the target answers.
        """
        spec: dict[str, Any] = {}
        if self.api_version is not None:
            spec["api_version"] = self.api_version
        redactor = Redactor()
        if self.extra_body:
            spec["extra_body"] = _redact_values(self.extra_body, redactor)
        if self.headers:
            spec["headers"] = {
                k.lower(): REDACTED if _SECRET_HEADER.search(k) else redactor.redact(v)
                for k, v in sorted(self.headers.items())
            }
        return spec


_SECRET_HEADER = re.compile(r"(?i)auth|key|token|secret|cookie|signature|password|credential")


def _redact_values(value: Any, redactor: Redactor) -> Any:
    """``value`` with every string inside it redacted (for the stored run spec)."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {k: _redact_values(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_values(v, redactor) for v in value]
    return value


def provider_of(model: str, api_base: str | None = None) -> str | None:
    """The litellm provider prefix of a model string, or None for a bare model name.

    With ``api_base``, an unknown prefix is part of the model's own name (``meta-llama/Llama-3``
    on a vLLM server); without one it is taken as a provider only litellm knows. Which prefixes are
    providers is what the registered adapters name (``adapters.routing``).
    """
    return default_registry().provider_of(model, api_base)


def default_adapter(model: str, api_base: str | None) -> str:
    """The adapter a target gets when it names none: a lean one wherever it is exact (`openai` for
    OpenAI-compatible providers or a bare URL, `anthropic`, `gemini`, `azure` with its endpoint),
    else `litellm` (asked of the adapter registry)."""
    return default_registry().default_for(model, api_base)


class AttacksConfig(_Frozen):
    """Attacks from the attack library to apply to the run's base cases."""

    apply: list[str] = Field(default_factory=list, description="Attack names (see `seval attacks list`).")
    seed: int = Field(default=0, description="Seed for template choice and randomness in the attacks.")
    no_generator: bool = Field(
        default=False,
        description="Let rewrite attacks fall back to templates when no generator is configured "
        "(recorded in each case's provenance).",
    )
    generator: TargetConfig | None = Field(
        default=None, description="The generator model (Mt) for attacks that rewrite the prompt."
    )

    @field_validator("apply")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("attack names must be unique")
        return v


class CriticConfig(_Frozen):
    """How responses are scored."""

    enabled: bool = Field(
        default=True, description="False: store responses unscored (`seval critique` later)."
    )
    backend: str = Field(default="rules", description="Embedded critic backend, served in-process.")
    url: str | None = Field(
        default=None, description="Base URL of a running critic server (overrides backend)."
    )
    token_env: str | None = Field(default=None, description="NAME of the env var holding the critic token.")
    batch_size: int = Field(default=64, ge=1, le=4096, description="Items per critic request.")
    concurrency: int = Field(default=2, ge=1, le=64, description="Critic requests in flight.")
    target: TargetConfig | None = Field(
        default=None,
        description="The judge model (`backend: judge` or a `judge` cascade stage): any vendor, "
        "called through the same adapters, limits and retries as targets.",
    )
    cascade: list[str] | None = Field(
        default=None,
        min_length=2,
        description="Critics tried in order (`[rules, judge]`): each decides the items it is "
        "confident about, the last decides the rest.",
    )
    judge_concurrency: int = Field(default=8, ge=1, le=256, description="Judge calls in flight at once.")
    judge_max_usd: float | None = Field(default=None, gt=0, description="Cap on the judge's spend.")
    judge_max_calls: int | None = Field(default=None, ge=1, description="Cap on judge calls.")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not _ENV_NAME.match(v) or Redactor().redact(v) != v):
            raise ValueError("must be the NAME of an environment variable, never the token itself")
        return v

    @model_validator(mode="after")
    def _judge_needs_target(self) -> CriticConfig:
        stages = self.cascade or [self.backend]
        if JUDGE_BACKEND in stages and self.target is None:
            raise ValueError("a `judge` critic needs `critic.target` (the judge model)")
        if self.cascade is not None and self.cascade.count(JUDGE_BACKEND) > 1:
            raise ValueError("`judge` may appear once in `critic.cascade`")
        if (self.cascade is not None or self.backend == JUDGE_BACKEND) and self.url is not None:
            raise ValueError("`critic.url` (a remote critic) cannot be combined with `judge` or `cascade`")
        return self

    @property
    def stages(self) -> list[str]:
        """The critics that score, in order: the cascade, or the one backend."""
        return list(self.cascade) if self.cascade else [self.backend]


class BudgetConfig(_Frozen):
    """Spending caps. When one is reached no new request is sent and the run says so in its status."""

    max_usd: float | None = Field(
        default=None, gt=0, description="Cap on the run's total spend (all sessions)."
    )
    max_calls: int | None = Field(default=None, ge=1, description="Cap on vendor calls in one invocation.")


class RetryConfig(_Frozen):
    """The one retry layer's policy (jittered exponential backoff, finite attempts, a deadline)."""

    max_attempts: int = Field(default=5, ge=1, le=50, description="Attempts per item, first one included.")
    initial_wait_s: float = Field(default=1.0, gt=0, description="First backoff wait.")
    max_wait_s: float = Field(default=60.0, gt=0, description="Cap on one wait, Retry-After included.")
    deadline_s: float = Field(default=600.0, gt=0, description="Per-item deadline over all attempts.")
    pause_after_identical_failures: int = Field(
        default=5,
        ge=0,
        description="Pause a target after this many identical permanent failures in a row "
        "(same HTTP status and vendor code, e.g. a misspelt model's 404; 400, 413 and 422, which "
        "the prompt itself can cause, never count); 0: never.",
    )


class RequestConfig(_Frozen):
    """Per-request transport settings."""

    stream: bool = Field(default=True, description="Stream responses (time to first token is recorded).")
    timeout_s: float = Field(default=120.0, gt=0, description="Total time allowed for one attempt.")
    idle_timeout_s: float = Field(default=60.0, gt=0, description="Longest silence allowed inside a stream.")
    max_response_chars: int = Field(default=200_000, ge=1, description="Cap on stored response length.")
    system: str | None = Field(default=None, description="Optional system prompt sent with every case.")


def _decoding_shape(value: Any) -> str:
    # A mapping is a grid, anything else a list of settings: one clear error instead of two.
    return "DecodingGrid" if isinstance(value, dict | DecodingGrid) else "list[DecodingSetting]"


class RunConfig(_Frozen):
    """A whole run: suites x attacks x targets x decoding settings x samples, and how to send them."""

    name: str = Field(min_length=1, max_length=200, description="Human name of the run.")
    suites: list[str] = Field(min_length=1, description="Suite files or folders, or `sample` (built-in).")
    taxonomy: str | None = Field(
        default=None, description="YAML/JSON file adding risks (levels 3-4, new risks) to the taxonomy."
    )
    mapping: str | None = Field(
        default=None,
        description="Column mapping for generic JSONL/CSV suites (`text=question,risk=category,lang:=en`).",
    )
    languages: list[str] = Field(default=["en", "zh"], min_length=1, description="Languages to keep.")
    kinds: list[CaseKind] = Field(
        default=[CaseKind.BASE, CaseKind.ATTACK],
        min_length=1,
        description="`base` risk prompts and/or `attack` prompts (released rows and applied attacks).",
    )
    attacks: AttacksConfig = Field(
        default_factory=AttacksConfig, description="Attacks applied from the library."
    )
    targets: list[TargetConfig] = Field(min_length=1, description="Models under test.")
    decoding: Annotated[
        Annotated[list[DecodingSetting], Tag("list[DecodingSetting]")]
        | Annotated[DecodingGrid, Tag("DecodingGrid")],
        Discriminator(_decoding_shape),
    ] = Field(
        default_factory=lambda: [DecodingSetting()],
        description="A list of settings, or a grid (`{temperatures: [...], top_ps: [...]}`).",
    )
    samples: int = Field(default=1, ge=1, le=1000, description="Samples per (case, target, decoding).")
    limit: int | None = Field(default=None, ge=1, description="Take at most this many cases from the suites.")
    limit_strategy: Literal["stratified", "first"] = Field(
        default="stratified",
        description="How `limit` slices the suites: `stratified` (quotas per dimension, category, "
        "language and kind, so the slice covers the whole taxonomy) or `first` (the first cases read).",
    )
    strategy: Literal["full", "adaptive"] = Field(
        default="full",
        description="`full` sends every item; `adaptive` sends each base prompt first and its attack "
        "variants (most successful on the target's model family first) only while the target "
        "stays safe, stopping at the first success (`gateway.adaptive`).",
    )
    critic: CriticConfig = Field(default_factory=CriticConfig, description="Scoring settings.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Spending caps.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy.")
    request: RequestConfig = Field(default_factory=RequestConfig, description="Transport settings.")
    db_url: str = Field(
        default=DEFAULT_DB_URL, description="SQLAlchemy URL of the store (SQLite or Postgres)."
    )
    cache: bool = Field(default=True, description="Reuse identical answers from earlier runs.")
    retry_failed: bool = Field(
        default=True,
        description="On a rerun, send again items stored as FAILED_TRANSIENT or INCOMPLETE "
        "(final answers are never sent twice).",
    )

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("languages must be unique")
        return v

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, v: list[TargetConfig]) -> list[TargetConfig]:
        seen: set[str] = set()
        for t in v:
            if t.name in seen:
                raise ValueError(f"target name {t.name!r} is used twice")
            seen.add(t.name)
        return v

    @model_validator(mode="after")
    def _attacks_need_attack_kind(self) -> RunConfig:
        if self.attacks.apply and CaseKind.ATTACK not in self.kinds:
            raise ValueError("attacks.apply is set but `attack` is not in kinds")
        return self

    @model_validator(mode="after")
    def _adaptive_needs_critic(self) -> RunConfig:
        if self.strategy != "adaptive":
            return self
        # Each next send depends on the verdict of the last answer, so the critic must judge in-run.
        if not self.critic.enabled:
            raise ValueError("strategy: adaptive needs the critic (critic.enabled: true)")
        if not self.attacks.apply:
            raise ValueError("strategy: adaptive needs attacks.apply (the attacks it chooses among)")
        batch = [t.name for t in self.targets if t.mode == "batch"]
        if batch:
            raise ValueError(
                f"strategy: adaptive sends one item at a time; target(s) {batch} use mode: batch"
            )
        return self

    def decoding_settings(self) -> list[DecodingSetting]:
        """The run's decoding settings, in order (a grid expanded)."""
        return self.decoding.settings() if isinstance(self.decoding, DecodingGrid) else list(self.decoding)

    def decodings_for(self, target: TargetConfig) -> list[Decoding]:
        """Effective decodings for one target: run settings over the target's defaults, de-duplicated."""
        out: list[Decoding] = []
        for setting in self.decoding_settings():
            d = setting.over(target.decoding)
            if d not in out:
                out.append(d)
        return out

    def target(self, name: str) -> TargetConfig:
        """The target called ``name``."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def work_spec(self) -> dict[str, Any]:
        """The run's work definition: what is sent to whom. Its hash is the run id."""
        spec: dict[str, Any] = {
            "name": self.name,
            "suites": list(self.suites),
            "taxonomy": self.taxonomy,
            "mapping": self.mapping,
            "languages": list(self.languages),
            "kinds": [str(k) for k in self.kinds],
            "attacks": {
                "apply": list(self.attacks.apply),
                "seed": self.attacks.seed,
                "no_generator": self.attacks.no_generator,
                "generator": self.attacks.generator.work_spec() if self.attacks.generator else None,
            },
            "targets": [t.work_spec() for t in self.targets],
            "decoding": [s.model_dump(mode="json") for s in self.decoding_settings()],
            "samples": self.samples,
            "limit": self.limit,
            "system": self.request.system,
        }
        if self.limit is not None and self.limit_strategy != "first":
            # Only here: runs that took the first `limit` cases (the old meaning) keep their ids.
            spec["limit_strategy"] = self.limit_strategy
        if self.strategy != "full":
            # Only here: full sweeps keep the ids they had before strategies existed.
            spec["strategy"] = self.strategy
        return spec

    @property
    def run_id(self) -> str:
        """Hash of the canonical JSON of ``work_spec()``: the same work always gets the same id."""
        return stable_hash(self.work_spec())

    def spec_json(self) -> str:
        """The full config as canonical JSON (stored with the run; holds env var names, never keys)."""
        import json

        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )

    def key_env_names(self) -> list[str]:
        """Every environment variable name that holds a secret for this run (for the redactor)."""
        names = [t.api_key_env for t in self.targets if t.api_key_env]
        if self.attacks.generator and self.attacks.generator.api_key_env:
            names.append(self.attacks.generator.api_key_env)
        if self.critic.token_env:
            names.append(self.critic.token_env)
        if self.critic.target is not None and self.critic.target.api_key_env:
            names.append(self.critic.target.api_key_env)
        return names


def load_run_config(path: str | Path, **overrides: Any) -> RunConfig:
    """Read a run YAML file. Relative suite paths are resolved against the file's folder.

    ``overrides`` replace top-level fields before validation (the CLI's ``--db`` for instance).
    Raises ``ConfigError`` naming the file, each bad field and its line.
    """
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read run config: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{p}{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a run config must be a mapping of fields, got {type(data).__name__}")
    if isinstance(data.get("suites"), list):
        data["suites"] = [_resolve_suite(s, p.parent) for s in data["suites"]]
    if isinstance(data.get("taxonomy"), str):
        data["taxonomy"] = _resolve_suite(data["taxonomy"], p.parent)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(p), node)) from None


def _resolve_suite(entry: object, base: Path) -> object:
    if not isinstance(entry, str) or entry == SAMPLE_SUITE:
        return entry
    path = Path(entry).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def format_validation_error(exc: ValidationError, source: str, node: Any = None) -> str:
    """One line per problem: ``source: field.path (line N): message``."""
    lines = [f"{source}: invalid run config ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = [part for part in err["loc"] if not _is_union_tag(part)]
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(node, loc)
        where = f" (line {line})" if line is not None else ""
        lines.append(f"  {field}{where}: {err['msg']}")
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    # pydantic names union branches in error locations (`list[DecodingSetting]`, `DecodingGrid`).
    return isinstance(part, str) and (part.startswith("list[") or part[:1].isupper())


def _line_of(node: Any, loc: list[int | str]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    if node is None:
        return None
    line: int | None = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(part, str) and getattr(node, "tag", "").endswith(":map"):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(part, int) and getattr(node, "tag", "").endswith(":seq") and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
