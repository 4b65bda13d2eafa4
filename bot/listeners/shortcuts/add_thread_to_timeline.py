"""Message shortcut "Add thread to timeline": the thread's parent and every reply, each as a 📌 of it.

Acked at once. The thread is read (conversations.replies) and planned within the trigger_id's 3 s, and a
modal opens saying how many messages go ("Adding 31 messages…"; "Reading the thread…" when Slack is
slow); it is updated as they go in (at most about once a second) and ends with the one confirmation.
When the modal cannot open (or is gone by the end), the person gets ephemeral replies instead: one when
it starts, one with the confirmation. The work runs in this listener's task, after the ack, tracked
so a stopping bot lets it finish; and since every message is saved in the outbox before Incident
Manager is asked about any, what a stop cuts short is sent by the outbox (THREAD_CAP: bot/domain/threads.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import console_url
from bot.domain.binding import Binding
from bot.domain.threads import thread_messages
from bot.listeners.deps import Deps, ReplyChannel, deps_of
from bot.listeners.middleware import binding_of
from bot.presentation.messages.threads import thread_not_bound
from bot.presentation.thread_views import (
    as_reply,
    progress_text,
    reading_text,
    report_text,
    thread_modal,
    whole_failure_text,
)
from bot.slack.conversation import mark_added, permalink_of, read_thread
from bot.usecases.threads import ThreadImport, ThreadPlan, ThreadRequest, ThreadTally

logger = logging.getLogger(__name__)

# How long the modal waits for the thread to be read and planned before it opens saying it is reading
# (Slack's trigger_id lasts 3 s, the views.open call included).
OPEN_BUDGET_SECONDS = 1.5
# The modal is updated at most this often while the thread goes in.
PROGRESS_INTERVAL_SECONDS = 1.0


async def handle_add_thread_to_timeline(
    ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    channel = binding_of(context)
    user_id = str((shortcut.get("user") or {}).get("id") or "")
    response_url = str(shortcut.get("response_url") or "") or None
    replier = deps.repliers(channel.channel_id, user_id, response_url)
    region = deps.gateway.region
    try:
        binding = await channel.get()
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await replier.send(whole_failure_text(error, None, region, "the bot's storage"))
        return
    if binding is None:
        # No modal with nowhere to go: say how to bind instead (as "Add to timeline" does).
        await replier.send(thread_not_bound())
        return
    message = shortcut.get("message") or {}
    root = str(message.get("thread_ts") or message.get("ts") or "")
    importer = ThreadImport(deps.timeline, deps.store)
    planner = _Planner(deps, client, context, binding, channel.team_id, channel.channel_id, user_id)
    view = ThreadView(client, replier, binding, console_url(binding.incident_arn, region))
    planning = asyncio.ensure_future(planner.plan(importer, root))
    try:
        plan: ThreadPlan | None = await asyncio.wait_for(asyncio.shield(planning), OPEN_BUDGET_SECONDS)
    except TimeoutError:
        plan = None
    except Exception:  # noqa: BLE001 - read again below, where its failure is explained
        plan = None
    await view.open(str(shortcut.get("trigger_id") or ""), plan.tally if plan is not None else None)
    if plan is None:
        try:
            plan = await planning
        except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
            failure = whole_failure_text(error, binding.incident_title, region, "conversations.replies")
            await view.finish([failure])
            return
        await view.show(plan.tally)

    async def links(ts: str) -> str | None:
        return await permalink_of(client, channel.channel_id, ts)

    async def marks(ts: str) -> None:
        await mark_added(client, channel.channel_id, ts, deps.settings.added_reaction)

    try:
        tally = await importer.add_thread(plan, links, marks, view.show)
    except Exception as error:  # noqa: BLE001 - what was saved is sent by the outbox; the person hears why
        failure = whole_failure_text(error, binding.incident_title, region, "CreateTimelineEvent")
        await view.finish([failure])
        return
    await view.finish(report_text(tally, binding.incident_title, view.url, region))


class _Planner:
    """Reads the thread and plans the run (the part that must be quick, for the modal to open)."""

    def __init__(
        self,
        deps: Deps,
        client: AsyncWebClient,
        context: AsyncBoltContext,
        binding: Binding,
        team_id: str,
        channel_id: str,
        user_id: str,
    ) -> None:
        self._deps = deps
        self._client = client
        self._context = context
        self._binding = binding
        self._team_id = team_id
        self._channel_id = channel_id
        self._user_id = user_id

    async def plan(self, importer: ThreadImport, root: str) -> ThreadPlan:
        thread = await read_thread(self._client, self._channel_id, root)
        if thread.truncated:
            logger.warning("thread longer than the bot reads", extra={"channel": self._channel_id})
        selection = thread_messages(
            thread.messages,
            bot_user_id=str(self._context.bot_user_id or ""),
            bot_id=str(self._context.bot_id or ""),
        )
        request = ThreadRequest(self._binding, self._team_id, self._channel_id, self._user_id, selection)
        return await importer.plan(request)


class ThreadView:
    """Where the person watches the thread go in: the modal, or ephemeral replies when it can't open."""

    def __init__(self, client: AsyncWebClient, replier: ReplyChannel, binding: Binding, url: str) -> None:
        self._client = client
        self._replier = replier
        self._title = binding.incident_title
        self.url = url
        self._view_id: str | None = None
        self._shown_at = 0.0
        self._shown_total: int | None = None
        self._updating = False

    async def open(self, trigger_id: str, tally: ThreadTally | None) -> None:
        paragraphs = reading_text() if tally is None else progress_text(tally, self._title, self.url)
        try:
            response = await self._client.views_open(trigger_id=trigger_id, view=thread_modal(paragraphs))
            self._view_id = str((response.get("view") or {}).get("id") or "") or None
        except Exception as error:  # noqa: BLE001 - the person is told by ephemeral replies instead
            logger.warning("thread modal did not open", extra={"error": str(error)[:200]})
        if self._view_id is None:
            await self._replier.send(as_reply(paragraphs))
        self._shown_at = time.monotonic()
        self._shown_total = tally.total if tally is not None else None

    async def show(self, tally: ThreadTally) -> None:
        """Progress in the modal, at most about once a second (and at once when the plan is first known)."""
        if self._view_id is None or self._updating:
            return
        first = self._shown_total != tally.total
        if not first and time.monotonic() - self._shown_at < PROGRESS_INTERVAL_SECONDS:
            return
        self._updating = True
        try:
            await self._update(progress_text(tally, self._title, self.url))
        finally:
            self._updating = False
            self._shown_at = time.monotonic()
            self._shown_total = tally.total

    async def finish(self, paragraphs: list[str]) -> None:
        """The confirmation: in the modal if it is there, else (or if it has gone) as an ephemeral reply."""
        if self._view_id is not None and await self._update(paragraphs):
            return
        await self._replier.send(as_reply(paragraphs))

    async def _update(self, paragraphs: list[str]) -> bool:
        assert self._view_id is not None
        try:
            await self._client.views_update(view_id=self._view_id, view=thread_modal(paragraphs))
        except Exception as error:  # noqa: BLE001 - progress is a courtesy; the confirmation falls back
            logger.info("thread modal not updated", extra={"error": str(error)[:200]})
            return False
        return True
