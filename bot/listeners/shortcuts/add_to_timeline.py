"""Message shortcut "Add to timeline": open the form at once, then make it exact.

The trigger_id lives 3 s and opens one view, so names are looked up for at most NAMES_BUDGET before the
form opens (cached ones cost nothing), with handles or ids standing in for the rest. The text box is never
replaced after it opened, so nothing the person types there can be lost; for a message too long for the
box, the link to the message and the exact length check follow through views.update.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.binding import Binding
from bot.domain.slack_message import SlackMessage, parse_message
from bot.domain.slack_text import readable
from bot.domain.timeline import (
    NoteTooLong,
    compose_event_text,
    encode_event_data,
    from_slack_ts,
    utf16_length,
)
from bot.listeners.deps import Deps, deps_of
from bot.listeners.middleware import binding_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages.capture import capture_not_bound
from bot.presentation.views import BoxText, CaptureContext, capture_modal, fit_text_box, text_key
from bot.slack.conversation import permalink_of
from bot.usecases.sources import message_entry
from bot.usecases.timeline import CapturedEntry, TimelineService

logger = logging.getLogger(__name__)

# How long the form waits for names it doesn't know yet (Slack's trigger_id allows 3 s in all).
NAMES_BUDGET = 1.0
# Stands in for the message's link until it is known: longer than Slack's, so the early length check
# errs on the side of "too long" and the exact one (after views.update) can only relax it.
PERMALINK_ALLOWANCE = "https://" + "x" * 160


@dataclass(frozen=True)
class Prefill:
    """The message's whole readable text and what of it the text box shows."""

    full: str
    box: BoxText

    @staticmethod
    def of(message: SlackMessage, names: dict[str, str]) -> Prefill:
        full = readable(message.markup, names)
        return Prefill(full, fit_text_box(full))


async def handle_add_to_timeline(
    ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    channel = binding_of(context)
    user_id = str((shortcut.get("user") or {}).get("id") or "")
    response_url = str(shortcut.get("response_url") or "") or None
    replier = deps.repliers(channel.channel_id, user_id, response_url)
    try:
        binding = await channel.get()
        if binding is None:
            # No form with nowhere to go: say how to bind instead.
            await replier.send(capture_not_bound())
            return
        message = parse_message(shortcut.get("message") or {})
        form = CaptureForm(deps, client, binding, message, user_id, response_url)
        await form.open(str(shortcut.get("trigger_id") or ""))
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        failure = FailureContext(action=Action.CAPTURE, operation="views.open", region=deps.gateway.region)
        await replier.send(explain(error, failure).text)
        return
    await form.enrich()


class CaptureForm:
    """One "Add to timeline" modal: opened at once, made exact after."""

    def __init__(
        self,
        deps: Deps,
        client: AsyncWebClient,
        binding: Binding,
        message: SlackMessage,
        user_id: str,
        response_url: str | None,
    ) -> None:
        self._deps = deps
        self._client = client
        self._binding = binding
        self._message = message
        self._user_id = user_id
        self._response_url = response_url
        self._view_id = ""
        self._hash = ""
        self._context: CaptureContext | None = None
        self._prefill: Prefill | None = None

    def _entry(self, text: str, permalink: str | None) -> CapturedEntry:
        """The message as the shared path will see it (for names and the length check)."""
        return message_entry(
            team_id=self._binding.team_id,
            channel_id=self._binding.channel_id,
            message=replace(self._message, markup=text),
            added_by_id=self._user_id,
            permalink=permalink,
        )

    async def _names(self) -> dict[str, str]:
        people = TimelineService.people_in(self._entry(self._message.markup, None))
        directory = self._deps.directory
        try:
            return await asyncio.wait_for(directory.names(people), NAMES_BUDGET)
        except TimeoutError:
            # Slack is slow: open with what is known; look-ups already started keep filling the cache.
            return directory.cached_names(people)

    def _over_by(self, prefill: Prefill, names: dict[str, str], permalink: str) -> int:
        """How far the whole message, with its author line, is over one event's limit (0 if it fits)."""
        _, attribution = TimelineService.render(
            replace(self._entry(prefill.full, permalink), is_markup=False), names
        )
        try:
            encode_event_data(compose_event_text(prefill.full, attribution))
        except NoteTooLong as error:
            return error.over_by
        return 0

    async def open(self, trigger_id: str) -> None:
        names = await self._names()
        prefill = Prefill.of(self._message, names)
        shortened = prefill.box.truncated
        context = CaptureContext(
            team_id=self._binding.team_id,
            channel_id=self._binding.channel_id,
            incident_arn=self._binding.incident_arn,
            message_ts=self._message.ts,
            author_id=self._message.author_id,
            author_label=self._message.author_label,
            shortened_keys=(text_key(prefill.box.shown),) if shortened else (),
            draft_id=uuid.uuid4().hex if shortened else None,
            over_by=self._over_by(prefill, names, PERMALINK_ALLOWANCE) if shortened else 0,
            response_url=self._response_url,
        )
        if context.draft_id is not None:
            # Kept before the form opens: a submit can never arrive before its whole text is stored.
            await self._deps.store.save_draft_texts(
                context.draft_id, {text_key(prefill.box.shown): prefill.full}
            )
        self._context, self._prefill = context, prefill
        response = await self._client.views_open(trigger_id=trigger_id, view=self._view())
        opened = response.get("view") or {}
        self._view_id = str(opened.get("id") or "")
        self._hash = str(opened.get("hash") or "")

    async def enrich(self) -> None:
        """For a message longer than the box: its link, and the exact length check with every name."""
        if self._context is None or self._prefill is None or not self._prefill.box.truncated:
            return
        try:
            names = await self._deps.directory.names(
                TimelineService.people_in(self._entry(self._message.markup, None))
            )
            whole = Prefill.of(self._message, names).full
            if whole != self._prefill.full and self._context.draft_id is not None:
                # Names that came in after the form opened: the whole text (not shown) gets them; the box
                # stays as the person sees it.
                shown_key = text_key(self._prefill.box.shown)
                await self._deps.store.save_draft_texts(self._context.draft_id, {shown_key: whole})
                self._prefill = replace(self._prefill, full=whole)
            permalink = await permalink_of(self._client, self._context.channel_id, self._context.message_ts)
            over_by = self._over_by(self._prefill, names, permalink or "")
            if permalink is None and over_by == self._context.over_by:
                return
            self._context = replace(self._context, permalink=permalink, over_by=over_by)
            # Same blocks, same ids: Slack keeps whatever the person has typed in the box.
            await self._client.views_update(view_id=self._view_id, hash=self._hash, view=self._view())
        except Exception as error:  # noqa: BLE001 - the form as opened still works; submit re-checks it all
            logger.warning(
                "could not complete the form", extra={"view": self._view_id, "error": str(error)[:300]}
            )

    def _view(self) -> dict[str, Any]:
        assert self._context is not None and self._prefill is not None
        return capture_modal(
            self._context,
            self._binding.incident_title,
            self._prefill.box,
            from_slack_ts(self._message.ts),
            utf16_length(self._prefill.full),
        )
