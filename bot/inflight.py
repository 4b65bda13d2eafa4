"""Listener work that Slack already has an ack for: finished, not dropped, when the bot stops."""

from __future__ import annotations

import asyncio


class InFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def track_current_task(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.track(task)

    def track(self, task: asyncio.Task[object]) -> None:
        if task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def finish(self, grace_seconds: float) -> int:
        """Wait up to `grace_seconds` for tracked work; cancel what is left and return how much that was."""
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return 0
        _done, unfinished = await asyncio.wait(pending, timeout=grace_seconds)
        for task in unfinished:
            task.cancel()
        return len(unfinished)
