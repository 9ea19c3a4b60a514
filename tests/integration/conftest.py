"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.simulated_vendor import SimulatedVendor


@pytest.fixture
async def vendor() -> AsyncIterator[SimulatedVendor]:
    """A simulated vendor on a loopback port; fails the test if the vendor itself hit a bug."""
    server = SimulatedVendor()
    await server.start()
    yield server
    await server.close()
    assert server.handler_errors == []
