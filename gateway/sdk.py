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
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.registry import AdapterSet, default_registry
from core.errors import ConfigError
from core.protocols import Critic, TargetAdapter
from core.redaction import Redactor
from gateway.config import RunConfig, TargetConfig, load_run_config
from gateway.pipeline import Wiring, execute
from gateway.policy import CallPolicy, LimiterRegistry, PolicyAdapter
from gateway.progress import ProgressSink
from gateway.run_results import RunResult

__all__ = ["RunResult", "resolve_config", "run", "run_sync"]


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
            generator = _generator(cfg, redactor)
            if generator is not None:
                stack.push_async_callback(generator.aclose)
            # One policy (and one limiter per limit key) for the targets and the generator together.
            policy = CallPolicy(cfg.retry, LimiterRegistry.for_run(cfg, adapters, generator))
            expander = _expander(cfg, policy, generator) if cfg.attacks.apply else None
            if handle_signals:
                stack.enter_context(_signals(stop))
            wiring = Wiring(
                store=store,
                adapters=adapters,
                critic=critic,
                expander=expander,
                redactor=redactor,
                policy=policy,
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
    built = AdapterSet()  # one shared resource per adapter kind (the openai adapter's pools)
    try:
        yield {t.name: build_adapter(t, keys[t.name], redactor, built) for t in cfg.targets}
    finally:
        await built.aclose()


def build_adapter(
    target: TargetConfig, key: str | None, redactor: Redactor, pool: AdapterSet | None = None
) -> TargetAdapter:
    """The adapter the target chose, from the adapter registry (its module imported only now).

    With ``pool`` the adapter shares that set's resources (one connection pool per endpoint) and
    is closed with it; without, it owns its resources and the caller closes it.
    """
    settings = target.adapter_target(key, redactor)
    if pool is not None:
        return pool.build(target.adapter, settings)
    return default_registry().get(target.adapter).create(settings)


@contextlib.asynccontextmanager
async def _critic(cfg: RunConfig) -> AsyncIterator[Critic]:
    """The run's critic: in-process (``critic_server.local``) unless ``critic.url`` names a server."""
    if cfg.critic.url is None:
        from critic_server.config import ServerConfig
        from critic_server.local import LocalCritic

        async with LocalCritic.open(ServerConfig.model_validate({"backend": cfg.critic.backend})) as local:
            yield local
        return
    from gateway.critic_client import CriticClient

    token = os.environ.get(cfg.critic.token_env) if cfg.critic.token_env else None
    client = CriticClient(cfg.critic.url, token=token, batch_size=cfg.critic.batch_size)
    try:
        await client.start()
        yield client
    finally:
        await client.aclose()


def _generator(cfg: RunConfig, redactor: Redactor) -> TargetAdapter | None:
    """The attack generator's own adapter (before the policy wraps it), when one is configured."""
    gen_target = cfg.attacks.generator
    if gen_target is None or not cfg.attacks.apply:
        return None
    return build_adapter(gen_target, api_key(gen_target), redactor)


def _expander(cfg: RunConfig, policy: CallPolicy, generator: TargetAdapter | None) -> Any:
    """The checked attack expander; the generator sends through the run's call policy."""
    from attacks.expand import make_expander

    text_generator = None
    if generator is not None and cfg.attacks.generator is not None:
        from attacks.generator import AdapterGenerator

        text_generator = AdapterGenerator(PolicyAdapter(generator, policy), label=cfg.attacks.generator.model)
    return make_expander(
        cfg.attacks.apply,
        generator=text_generator,
        allow_template_fallback=cfg.attacks.no_generator,
        languages=cfg.languages,
    )


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
