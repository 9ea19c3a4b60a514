"""Logging: structlog configured once, explicitly, by the entry point (CLI or SDK caller).

Output is JSON lines when the stream is not a terminal and a readable console format when it is.
Every event, ours and the standard-library records of third-party libraries (httpx, litellm, ...),
passes through one redaction step just before rendering: API keys are removed from every value,
however deeply nested, and from exception messages and tracebacks.

Prompts and responses are never logged, at any level: callers log ids and counts, not text, and
the loggers of the database layer (SQLAlchemy, aiosqlite, asyncpg, Alembic), which print SQL
parameters (the prompts and responses being stored) at DEBUG/INFO, are held at WARNING whatever
the configured level. The engines are also built with ``hide_parameters`` (db/engine.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from core.redaction import Redactor

_CHATTY_LIBRARIES = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "aiohttp")

# Loggers that print SQL parameters, i.e. prompt and response text: never below WARNING.
_TEXT_CARRYING_LIBRARIES = ("sqlalchemy", "aiosqlite", "asyncpg", "alembic")

# Nested containers deeper than this are flattened to their (redacted) repr.
_MAX_DEPTH = 6


class _OurHandler(logging.StreamHandler[TextIO]):
    """Marks the root handler installed here, so a second configure call replaces it."""


class RedactProcessor:
    """structlog processor: runs ``Redactor.redact`` over every value of the event dict.

    Strings are redacted; lists, tuples, sets and mappings are walked; exceptions become their
    redacted ``Type: message``; any other object is replaced by its redacted ``repr`` (a renderer
    would otherwise call ``repr`` on it later, after redaction).
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {key: self._clean(value, 0) for key, value in event_dict.items()}

    def _clean(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, BaseException):
            return self._redactor.redact_exception(value)
        if depth < _MAX_DEPTH:
            if isinstance(value, Mapping):
                return {self._clean(k, depth + 1): self._clean(v, depth + 1) for k, v in value.items()}
            if isinstance(value, list | tuple | set | frozenset):
                return [self._clean(v, depth + 1) for v in value]
        return self._redactor.redact(repr(value))


def configure_logging(
    *,
    redactor: Redactor,
    level: str | int = "INFO",
    json: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and standard-library logging through one redacting renderer.

    ``json=None`` picks JSON lines unless ``stream`` (default stderr) is a terminal. Calling it
    again replaces the previous configuration (useful in tests); nothing else is kept globally.
    """
    out = stream if stream is not None else sys.stderr
    use_json = not _isatty(out) if json is None else json
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=_isatty(out))
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    redact = RedactProcessor(redactor)
    # Exceptions are rendered to plain text (no locals) before redaction, so neither the message
    # nor any traceback line can carry a key past the redactor.
    formatter = structlog.stdlib.ProcessorFormatter(
        # ExtraAdder: a standard-library record's ``extra={...}`` fields (counts, ids) are part of its
        # event; without it they are silently left out of the rendered line.
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            timestamper,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = _OurHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries whose INFO records are noise in a sweep's log; litellm's would also land on stdout,
    # which carries --json and JSONL output.
    floor = max(logging.getLevelName(level) if isinstance(level, str) else level, logging.WARNING)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(floor)
    for name in _TEXT_CARRYING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            timestamper,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            # Redacted here too, so the LogRecord itself is clean for any other handler on root.
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
