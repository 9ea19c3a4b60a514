"""The Python SDK: run or resume a sweep from a ``RunConfig`` (or a run YAML file).

    import gateway
    result = await gateway.run("run.yaml")          # in async code
    result = gateway.run_sync("run.yaml")           # in scripts and notebooks without a loop

This is where the concrete parts are wired together: the store, one adapter per target (sharing
connection pools per endpoint), the critic (embedded or remote), the attack expander and its
generator model. Keys are read from the environment variables the config names, here and only here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.protocols import Critic, TargetAdapter
from core.redaction import Redactor
from core.types import AttemptResult, ChatRequest
from gateway.config import RunConfig, TargetConfig, load_run_config
from gateway.pipeline import ProgressSink, RunResult, Wiring, execute

__all__ = ["RunResult", "resolve_config", "run", "run_sync"]

NO_KEY = "no-key-configured"
"""Placeholder key given to litellm for keyless OpenAI-compatible servers (vLLM, the simulated vendor)."""


def resolve_config(config: RunConfig | str | Path, *, db_url: str | None = None) -> RunConfig:
    """A ``RunConfig`` from an object or a YAML path, with ``db_url`` overriding the file's."""
    if isinstance(config, RunConfig):
        return config.model_copy(update={"db_url": db_url}) if db_url else config
    return load_run_config(config, db_url=db_url)


def api_key(target: TargetConfig) -> str | None:
    """The target's key from the environment variable it names; a clear error when it is unset."""
    if target.api_key_env is None:
        return None
    value = os.environ.get(target.api_key_env)
    if not value:
        raise ConfigError(f"target {target.name!r}: environment variable {target.api_key_env} is not set")
    return value


async def run(
    config: RunConfig | str | Path,
    *,
    db_url: str | None = None,
    use_cache: bool | None = None,
    retry_failed: bool | None = None,
    progress: ProgressSink | bool | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
) -> RunResult:
    """Run (or resume) a sweep and return its result.

    ``use_cache=False`` never reuses answers from earlier runs (``--no-cache``).
    ``retry_failed=False`` leaves items stored as FAILED_TRANSIENT or INCOMPLETE as they are
    (``--no-retry-failed``); by default a rerun sends them again. Both default to the config's
    ``cache`` / ``retry_failed``. ``progress``:
    True for rich/log progress by terminal, or a ``ProgressSink``. Setting ``stop`` ends the run
    gracefully (status ``interrupted``); with ``handle_signals`` the first Ctrl-C / SIGTERM does
    that and a second one cancels at once.
    """
    cfg = resolve_config(config, db_url=db_url)
    redactor = Redactor.from_env(cfg.key_env_names())
    keys = {t.name: api_key(t) for t in cfg.targets}
    stop = stop if stop is not None else asyncio.Event()
    sink: ProgressSink | None
    if progress is True:
        from gateway.progress import make_progress

        sink = make_progress()
    else:
        sink = progress or None

    from db.store import Store

    store = await Store.open(cfg.db_url)
    try:
        async with contextlib.AsyncExitStack() as stack:
            adapters = await stack.enter_async_context(_adapters(cfg, keys, redactor))
            critic = await stack.enter_async_context(_critic(cfg)) if cfg.critic.enabled else None
            expander = _expander(cfg, redactor) if cfg.attacks.apply else None
            if expander is not None and expander[1] is not None:
                stack.push_async_callback(expander[1].aclose)
            if handle_signals:
                stack.enter_context(_signals(stop))
            wiring = Wiring(
                store=store,
                adapters=adapters,
                critic=critic,
                expander=expander[0] if expander is not None else None,
                redactor=redactor,
            )
            return await execute(
                cfg, wiring, stop=stop, use_cache=use_cache, retry_failed=retry_failed, progress=sink
            )
    finally:
        await store.close()


def run_sync(config: RunConfig | str | Path, **kwargs: Any) -> RunResult:
    """``run`` for code without an event loop (scripts, notebooks whose loop is not running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run(config, **kwargs))
    raise RuntimeError(
        "gateway.run_sync() was called inside a running event loop (Jupyter, async code): "
        "use `await gateway.run(...)` there instead"
    )


@contextlib.asynccontextmanager
async def _adapters(
    cfg: RunConfig, keys: dict[str, str | None], redactor: Redactor
) -> AsyncIterator[dict[str, TargetAdapter]]:
    from adapters.openai_adapter import ClientPool

    pool = ClientPool()
    adapters: dict[str, TargetAdapter] = {}
    try:
        for t in cfg.targets:
            adapters[t.name] = build_adapter(t, keys[t.name], redactor, pool)
        yield adapters
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
        await pool.aclose()


def build_adapter(
    target: TargetConfig, key: str | None, redactor: Redactor, pool: Any = None
) -> TargetAdapter:
    """The adapter the target chose (the lean ones share ``pool``'s session per endpoint).

    A target's ``stream`` setting, when given, overrides the run's for every request it sends.
    """
    adapter = _chosen_adapter(target, key, redactor, pool)
    return adapter if target.stream is None else StreamAs(adapter, target.stream)


def _chosen_adapter(target: TargetConfig, key: str | None, redactor: Redactor, pool: Any) -> TargetAdapter:
    extra = dict(target.extra_body or {})
    headers = dict(target.headers or {})
    if target.adapter in ("anthropic", "gemini", "azure"):
        from adapters.native import native_adapter

        return native_adapter(
            target.adapter,
            model=target.model,
            api_key=key,
            api_base=target.api_base,
            api_version=target.api_version,
            extra_body=extra,
            headers=headers,
            redactor=redactor,
            pool=pool,
        )
    params: dict[str, Any] = {**extra, "extra_headers": headers} if headers else extra
    if target.adapter == "openai":
        from adapters.openai_adapter import OpenAIAdapter

        base = target.openai_base_url
        session = pool.session_for(base) if pool is not None and base is not None else None
        return OpenAIAdapter(
            model=target.litellm_model,
            api_key=key,
            api_base=target.api_base,
            redactor=redactor,
            extra_params=params,
            session=session,
        )
    from adapters.litellm_adapter import LiteLLMAdapter

    if key is None and target.api_base is not None and target.provider in (None, "openai", "hosted_vllm"):
        # litellm's OpenAI client refuses to send without some key, even to a keyless local server.
        key = NO_KEY
    if target.api_version is not None:
        params["api_version"] = target.api_version
    return LiteLLMAdapter(
        model=target.litellm_model,
        api_key=key,
        api_base=target.api_base,
        redactor=redactor,
        extra_params=params,
    )


class StreamAs:
    """A target adapter whose requests stream (or not) as the target says, whatever the run says."""

    def __init__(self, inner: TargetAdapter, stream: bool) -> None:
        self._inner = inner
        self._stream = stream

    @property
    def limit_key(self) -> str:
        """The wrapped adapter's limit key."""
        return self._inner.limit_key

    @property
    def name(self) -> str:
        """The wrapped adapter's name."""
        return self._inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Send ``request`` with the target's streaming choice."""
        if request.stream is not self._stream:
            request = dataclasses.replace(request, stream=self._stream)
        return await self._inner.send(request)

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self._inner.aclose()


@contextlib.asynccontextmanager
async def _critic(cfg: RunConfig) -> AsyncIterator[Critic]:
    from gateway.critic_client import CriticClient

    token = os.environ.get(cfg.critic.token_env) if cfg.critic.token_env else None
    async with contextlib.AsyncExitStack() as stack:
        url = cfg.critic.url
        if url is None:
            from critic_server.embedded import running_critic

            url = await stack.enter_async_context(running_critic(cfg.critic.backend))
        client = CriticClient(url, token=token, batch_size=cfg.critic.batch_size)
        stack.push_async_callback(client.aclose)
        await client.start()
        yield client


class PacedAdapter:
    """A target adapter under a limiter and the retry policy: how the attack generator is called."""

    def __init__(self, inner: TargetAdapter, cfg: RunConfig, target: TargetConfig) -> None:
        from gateway.limits import Limiter
        from gateway.retry import RetryCounters, RetryPolicy

        self._inner = inner
        self._limiter = Limiter(
            rpm=target.limits.rpm, tpm=target.limits.tpm, max_in_flight=target.limits.max_in_flight
        )
        self._policy = RetryPolicy(cfg.retry)
        self._counters = RetryCounters()

    @property
    def limit_key(self) -> str:
        """The wrapped adapter's limit key."""
        return self._inner.limit_key

    @property
    def name(self) -> str:
        """The wrapped adapter's name."""
        return self._inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Send with pacing and retries."""
        from core.tokens import request_tokens

        estimate = request_tokens(request.prompt, request.decoding.max_tokens)

        async def attempt() -> AttemptResult:
            await self._limiter.acquire(estimate)
            result: AttemptResult | None = None
            try:
                result = await self._inner.send(request)
                return result
            finally:
                usage = result.usage if result is not None else None
                self._limiter.release(estimate, usage.total_tokens if usage is not None else None)

        def pause(result: AttemptResult) -> None:
            if result.retry_after_s is not None:
                self._limiter.pause(result.retry_after_s)

        return (await self._policy.run(attempt, self._counters, pause)).result

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self._inner.aclose()


def _expander(cfg: RunConfig, redactor: Redactor) -> tuple[Any, PacedAdapter | None]:
    """The checked attack expander and, when configured, the paced generator adapter it uses."""
    from attacks.expand import make_expander

    gen_adapter: PacedAdapter | None = None
    generator = None
    gen_target = cfg.attacks.generator
    if gen_target is not None:
        from attacks.generator import AdapterGenerator

        gen_adapter = PacedAdapter(build_adapter(gen_target, api_key(gen_target), redactor), cfg, gen_target)
        generator = AdapterGenerator(gen_adapter, label=gen_target.model)
    expander = make_expander(
        cfg.attacks.apply,
        generator=generator,
        allow_template_fallback=cfg.attacks.no_generator,
        languages=cfg.languages,
    )
    return expander, gen_adapter


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Any:
    """First SIGINT/SIGTERM: graceful stop. Second: cancel the run at once."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def handle() -> None:
        if stop.is_set():
            if main is not None:
                main.cancel()
        else:
            stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handle)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
