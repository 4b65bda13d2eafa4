"""Every listener registers its task, so a stop can let acknowledged work finish."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from bot.listeners.deps import deps_of

Handler = Callable[..., Awaitable[None]]


def tracked(handler: Handler) -> Handler:
    """Wrap a listener (which must take `context`). Bolt reads the wrapped function's parameters."""

    @functools.wraps(handler)
    async def run(**kwargs: Any) -> None:
        deps_of(kwargs["context"]).inflight.track_current_task()
        await handler(**kwargs)

    return run
