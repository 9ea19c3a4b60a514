"""A lean HTTP/1.1 server on raw asyncio protocols, for the simulated vendor.

Why not uvicorn: without httptools installed uvicorn parses with h11 in pure Python, which costs
more CPU per request than the clients under test; benchmarks drive thousands of requests per
second through this server on the same two cores. This server does exactly what the simulated
vendor needs and nothing more: keep-alive, ``Content-Length`` and chunked request bodies,
fixed-length and chunked (streamed) responses, and the faults a real vendor's network produces
(connection reset, a body cut mid-way, a response that never comes).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 32 * 1024 * 1024

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    418: "I'm a teapot",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Site Overloaded",
}


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed HTTP request. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Responder:
    """Writes the response to one request: whole, streamed (chunked), or broken on purpose."""

    __slots__ = ("_conn", "_keep_alive", "_state")

    def __init__(self, conn: _Connection, keep_alive: bool) -> None:
        self._conn = conn
        self._keep_alive = keep_alive
        self._state = "new"  # new -> streaming -> done

    @property
    def started(self) -> bool:
        """True once a status line has been written."""
        return self._state != "new"

    def _head(self, status: int, headers: list[tuple[str, str]], framing: str) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        lines.append(framing)
        lines.append("connection: keep-alive\r\n\r\n" if self._keep_alive else "connection: close\r\n\r\n")
        return "".join(lines).encode("latin-1")

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Write a complete response with a ``Content-Length``."""
        self._state = "done"
        self._conn.write(self._head(status, headers, f"content-length: {len(body)}\r\n") + body)
        self._conn.finish(self._keep_alive)

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Write the head of a chunked response; follow with ``write`` and ``end_stream``."""
        self._state = "streaming"
        self._conn.write(self._head(status, headers, "transfer-encoding: chunked\r\n"))

    def write(self, data: bytes) -> None:
        """Write one HTTP chunk of a streamed response."""
        if data:
            self._conn.write(b"%x\r\n%b\r\n" % (len(data), data))

    async def drain(self) -> None:
        """Wait until the peer has taken what was written (flow control)."""
        await self._conn.drain()

    def end_stream(self, final: bytes = b"") -> None:
        """Write ``final`` (if any) and the terminating chunk."""
        self._state = "done"
        if final:
            self._conn.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(final), final))
        else:
            self._conn.write(b"0\r\n\r\n")
        self._conn.finish(self._keep_alive)

    def write_raw_and_close(self, data: bytes) -> None:
        """Write ``data`` as is and close the connection (a body cut short, a stream cut mid-way)."""
        self._state = "done"
        self._conn.write(data)
        self._conn.finish(False)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (what a crashed proxy or load balancer does)."""
        self._state = "done"
        self._conn.reset()

    async def wait_disconnect(self) -> None:
        """Return once the client has gone (used to hold a stalled response open)."""
        await self._conn.lost


Handler = Callable[[Request, Responder], Awaitable[None]]


class _Connection(asyncio.Protocol):
    """One client connection: parses requests one at a time and hands each to the handler."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False
        self._closed = False
        self._paused: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        self._server.connections.discard(self)
        self._wake()

    def pause_writing(self) -> None:
        if self._paused is None:
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._next_request()

    # used by Responder
    def write(self, data: bytes) -> None:
        if not self._closed and self._transport is not None:
            self._transport.write(data)

    async def drain(self) -> None:
        if self._paused is not None:
            await self._paused

    def finish(self, keep_alive: bool) -> None:
        self._busy = False
        if not keep_alive:
            self.close()
        elif self._buf:
            self._next_request()

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()
        self._closed = True

    def reset(self) -> None:
        if self._transport is None or self._closed:
            return
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()
        self._closed = True

    # internals
    def _wake(self) -> None:
        if self._paused is not None:
            if not self._paused.done():
                self._paused.set_result(None)
            self._paused = None

    def _bad_request(self, reason: str) -> None:
        body = reason.encode()
        self.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%b" % (len(body), body)
        )
        self.close()

    def _next_request(self) -> None:
        buf = self._buf
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buf) > _MAX_HEAD_BYTES:
                self._bad_request("request head too large")
            return
        try:
            head = bytes(buf[:head_end]).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _version = request_line.split(" ", 2)
        except ValueError:
            self._bad_request("malformed request line")
            return
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                self._bad_request("malformed header line")
                return
            headers[name.strip().lower()] = value.strip()
        body_start = head_end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parsed = _dechunk(buf, body_start)
            if parsed is None:
                return  # wait for more data
            if isinstance(parsed, str):
                self._bad_request(parsed)
                return
            body, end = parsed
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._bad_request("invalid content-length")
                return
            if length < 0 or length > _MAX_BODY_BYTES:
                self._bad_request("invalid content-length")
                return
            end = body_start + length
            if len(buf) < end:
                return
            body = bytes(buf[body_start:end])
        del buf[:end]
        path, _, query_string = target.partition("?")
        request = Request(
            method=method,
            path=unquote(path),
            query=dict(parse_qsl(query_string)),
            headers=headers,
            body=body,
        )
        keep_alive = headers.get("connection", "").lower() != "close"
        self._busy = True
        tasks = self._server.tasks
        task = asyncio.get_running_loop().create_task(self._run(request, Responder(self, keep_alive)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, request: Request, responder: Responder) -> None:
        try:
            await self._server.handler(request, responder)
        except Exception as exc:
            # A handler bug must show up (as a 500 and in ``HttpServer.errors``), never as a hang.
            self._server.errors.append(f"{request.method} {request.path}: {exc!r}")
            if not responder.started:
                responder.send(
                    500, [("content-type", "text/plain")], f"simulated vendor bug: {exc!r}".encode()
                )
            else:
                self.close()


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | str | None:
    """Decode a chunked body starting at ``start``: (body, end offset), an error, or None if partial."""
    out = bytearray()
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        try:
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0], 16)
        except ValueError:
            return "malformed chunk size"
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", pos - 2)
            if trailer_end < 0:
                return None
            return bytes(out), trailer_end + 4
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        if len(out) > _MAX_BODY_BYTES:
            return "request body too large"
        pos += size + 2


class HttpServer:
    """Serves ``handler`` on ``host:port`` (port 0 picks a free one) until ``close``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections: set[_Connection] = set()
        self.errors: list[str] = []
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind and start serving; returns the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=2048)
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, cancel requests in progress and close every connection."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None
