"""Shared fixtures: reference data location, database URLs for SQLite and the real Postgres."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from simulator import SimulatedVendor

# litellm must never try to fetch its cost map: there is no internet here or in CI.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def in_ci() -> bool:
    """True under CI, where every service must be present: absence is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(reason: str) -> None:
    """Skip on a laptop that lacks a service or data; fail in CI, where it must be there."""
    if in_ci():
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data folder (../shared/data); skipped cleanly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def seval_data(shared_data: Path) -> Path:
    """The S-Eval release files."""
    path = shared_data / "s-eval"
    if not path.is_dir():
        pytest.skip(f"S-Eval release not present at {path}")
    return path


@pytest.fixture(scope="session")
def xstest_data(shared_data: Path) -> Path:
    """The XSTest files with human labels."""
    path = shared_data / "xstest"
    if not path.is_dir():
        pytest.skip(f"XSTest not present at {path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database in a temp dir."""
    return f"sqlite+aiosqlite:///{tmp_path / 'seval.db'}"


async def _postgres_reachable(url: str) -> str | None:
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install '.[postgres]')"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except Exception as exc:
        return f"Postgres not reachable at {url}: {type(exc).__name__}"
    await conn.close()
    return None


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """URL of the real Postgres (SEVAL_TEST_POSTGRES_URL, default 127.0.0.1:5432/test)."""
    url = os.environ.get("SEVAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    problem = asyncio.run(_postgres_reachable(url))
    if problem:
        require_or_skip(problem)
    return url


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A fresh schema in the real Postgres for one test, dropped afterwards."""
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(postgres_base_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_base_url else "?"
    # db.engine turns a `search_path` query parameter into asyncpg's server_settings.
    yield f"{postgres_base_url}{sep}search_path={schema}"
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a store test against SQLite in a temp dir and against the real Postgres."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'seval.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def vendor() -> AsyncIterator[SimulatedVendor]:
    """A simulated vendor on a loopback port; fails the test if the vendor itself hit a bug."""
    from simulator import SimulatedVendor

    server = SimulatedVendor()
    await server.start()
    yield server
    await server.close()
    assert server.handler_errors == []


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis (SEVAL_TEST_REDIS_URL, default 127.0.0.1:6379/0)."""
    url = os.environ.get("SEVAL_TEST_REDIS_URL", DEFAULT_REDIS_URL)

    async def ping() -> str | None:
        try:
            from redis.asyncio import Redis
        except ImportError:
            return "redis is not installed (pip install '.[redis]')"
        client = Redis.from_url(url)
        try:
            await asyncio.wait_for(client.ping(), timeout=5)
        except Exception as exc:
            return f"Redis not reachable at {url}: {type(exc).__name__}"
        finally:
            await client.aclose()
        return None

    problem = asyncio.run(ping())
    if problem:
        require_or_skip(problem)
    return url


@pytest.fixture
def redis_namespace() -> str:
    """A key namespace of one test's own in the shared Redis."""
    import uuid

    return f"seval-test:{uuid.uuid4().hex[:12]}"
