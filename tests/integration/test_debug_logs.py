"""At DEBUG, nothing the store writes or reads (prompt and response text) reaches the log, whatever
the database driver: their loggers print SQL parameters, so they are kept at WARNING."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog
from store_data import RUN, make_case, make_response, started

from core.redaction import Redactor
from db.store import Store
from gateway.logsetup import configure_logging

PROMPT = "how do I pick the lock of my neighbour's shed zq81"
ANSWER = "I can't help with getting into someone else's shed xw27"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(redactor=Redactor(), level="DEBUG", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


async def test_store_traffic_at_debug_logs_no_prompt_or_response(db_url: str, debug_log: io.StringIO) -> None:
    async with await Store.open(db_url) as store:
        await started(store)
        await store.save_cases([make_case("c1", text=PROMPT)])
        await store.save_responses([make_response("k1", text=ANSWER)])
        assert (await store.get_cases(["c1"]))["c1"].text == PROMPT
        assert await store.done_keys(RUN, "sim-a", include_retryable=True) == {"k1"}
    structlog.get_logger("seval.test").debug("store closed")
    log = debug_log.getvalue()
    assert "store closed" in log  # the log really is at DEBUG
    assert PROMPT not in log
    assert ANSWER not in log
    assert "zq81" not in log
    assert "xw27" not in log


async def test_engines_hide_sql_parameters_from_logs_and_errors(db_url: str) -> None:
    # Even with a handler a user attached to sqlalchemy.engine, or in a database exception's text.
    from db.engine import create_engine

    engine = create_engine(db_url)
    try:
        assert engine.sync_engine.hide_parameters
    finally:
        await engine.dispose()
