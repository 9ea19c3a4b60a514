"""Serve the critic app over real HTTP inside the current event loop, on an ephemeral loopback port.

For tests of the HTTP server itself (uvicorn, sockets, the app's lifespan). Code that only needs a
critic uses ``critic_server.local.LocalCritic`` (in-process, no HTTP); tests of ``CriticClient`` use
httpx's ``ASGITransport``::

    async with running_critic("rules") as url:
        client = CriticClient(url)
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from critic_server.backends.base import Backend
from critic_server.config import ServerConfig


@asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve any ASGI ``app`` with uvicorn on 127.0.0.1 (port 0) in this loop; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5)
    )
    # uvicorn installs signal handlers in serve(); an embedded server must leave the host's alone.
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    task = asyncio.create_task(server.serve(sockets=[sock]), name="embedded-server")
    try:
        while not server.started:
            if task.done():
                task.result()  # surfaces the start-up error (e.g. a backend that failed to load)
                raise RuntimeError("embedded server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()


@asynccontextmanager
async def running_critic(
    backend: str = "rules",
    *,
    config: ServerConfig | None = None,
    instance: Backend | None = None,
    **opts: Any,
) -> AsyncIterator[str]:
    """Serve a critic on 127.0.0.1 (port 0) in this loop; yield its base URL.

    ``config`` wins over ``backend``/``opts`` (fields of ``ServerConfig``); ``instance`` serves an
    already-built backend object instead of loading one.
    """
    from critic_server.app import create_app

    cfg = config if config is not None else ServerConfig.model_validate({"backend": backend, **opts})
    async with serve_app(create_app(cfg, backend=instance)) as url:
        yield url
