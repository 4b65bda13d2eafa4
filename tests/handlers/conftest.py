from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.handlers.support import World, world


@pytest.fixture
async def bot() -> AsyncIterator[World]:
    made = world()
    try:
        yield made
    finally:
        await made.deps.outbox.stop(0.5)
        await made.store.close()
