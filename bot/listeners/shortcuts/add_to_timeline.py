"""Message shortcut "Add to timeline": open the form at once, then make it better.

The trigger_id lives 3 s and opens one view, so the form opens with what is known right away (names
already cached); names still unknown, the link to the message and the exact length check come after,
through views.update.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deps import Deps, deps_of
from bot.domain.slack_message import SlackMessage, parse_message
from bot.domain.slack_text import readable, referenced_user_ids
from bot.domain.timeline import EventType, NoteTooLong, compose_event_text, encode_event_data, from_slack_ts
from bot.failures import FailureContext, explain
from bot.services import CapturedEntry
from bot.slack.conversation import permalink_of
from bot.slack.replies import Replier
from bot.slack.views import TEXT_BLOCK, BoxText, CaptureContext, capture_modal, fit_text_box, text_key
from bot.store import Binding

logger = logging.getLogger(__name__)

# The text box's block id once the prefill has been replaced (Slack keeps typed state per block id).
ENRICHED_TEXT_BLOCK = TEXT_BLOCK + "_named"


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
    team_id = str((shortcut.get("team") or {}).get("id") or context.team_id or "")
    channel_id = str((shortcut.get("channel") or {}).get("id") or "")
    user_id = str((shortcut.get("user") or {}).get("id") or "")
    response_url = str(shortcut.get("response_url") or "") or None
    replier = Replier(client, channel_id, user_id, response_url=response_url, session=deps.http)
    try:
        binding = await deps.store.get_binding(team_id, channel_id)
        if binding is None:
            # No form with nowhere to go: say how to bind instead.
            await replier.send(messages.capture_not_bound())
            return
        message = parse_message(shortcut.get("message") or {})
        form = CaptureForm(deps, client, binding, message, user_id, response_url)
        await form.open(str(shortcut.get("trigger_id") or ""))
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        failure = FailureContext(action="capture", operation="views.open", region=deps.gateway.region)
        await replier.send(explain(error, failure).text)
        return
    await form.enrich()


class CaptureForm:
    """One "Add to timeline" modal, from opening to its enriched version."""

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
        self._mentioned = referenced_user_ids(message.markup)
        self._prefill = Prefill.of(message, deps.directory.cached_names(self._mentioned))
        self._context = CaptureContext(
            team_id=binding.team_id,
            channel_id=binding.channel_id,
            incident_arn=binding.incident_arn,
            message_ts=message.ts,
            author_id=message.author_id,
            author_label=message.author_label,
            shortened_keys=(text_key(self._prefill.box.shown),) if self._prefill.box.truncated else (),
            draft_id=uuid.uuid4().hex if self._prefill.box.truncated else None,
            response_url=response_url,
        )
        self._view_id = ""
        self._hash = ""

    async def open(self, trigger_id: str) -> None:
        await self._keep_whole_text(self._context, self._prefill)
        response = await self._client.views_open(trigger_id=trigger_id, view=self._view(self._prefill))
        opened = response.get("view") or {}
        self._view_id = str(opened.get("id") or "")
        self._hash = str(opened.get("hash") or "")

    async def enrich(self) -> None:
        """Names for every mention, and for a long message its link and whether it fits one event."""
        try:
            prefill = Prefill.of(self._message, await self._deps.directory.names(self._mentioned))
            text_changed = prefill.box.shown != self._prefill.box.shown
            if not (text_changed or prefill.box.truncated):
                return
            context = self._context
            if prefill.box.truncated:
                permalink = await permalink_of(self._client, context.channel_id, context.message_ts)
                context = replace(
                    context,
                    shortened_keys=(*context.shortened_keys, text_key(prefill.box.shown)),
                    draft_id=context.draft_id or uuid.uuid4().hex,
                    permalink=permalink,
                    over_by=await self._over_by(prefill, permalink),
                )
                await self._keep_whole_text(context, prefill)
            self._context = context
            view = self._view(prefill, ENRICHED_TEXT_BLOCK if text_changed else TEXT_BLOCK)
            await self._client.views_update(view_id=self._view_id, hash=self._hash, view=view)
        except Exception as error:  # noqa: BLE001 - the form as opened still works; submit re-checks it all
            logger.warning(
                "could not improve the form", extra={"view": self._view_id, "error": str(error)[:300]}
            )

    async def _over_by(self, prefill: Prefill, permalink: str | None) -> int:
        """How far the whole message, with its author line, is over one event's limit (0 if it fits)."""
        attribution = await self._deps.timeline.attribution(
            CapturedEntry(
                team_id=self._context.team_id,
                channel_id=self._context.channel_id,
                event_type=EventType.NOTE,
                slack_text=prefill.full,
                event_time=from_slack_ts(self._message.ts),
                author_id=self._message.author_id,
                author_fallback=self._message.author_label,
                token_source=(),
                added_by_id=self._user_id,
                permalink=permalink,
                is_markup=False,
            )
        )
        try:
            encode_event_data(compose_event_text(prefill.full, attribution))
        except NoteTooLong as error:
            return error.over_by
        return 0

    async def _keep_whole_text(self, context: CaptureContext, prefill: Prefill) -> None:
        if context.draft_id is not None and prefill.box.truncated:
            await self._deps.store.save_draft_texts(
                context.draft_id, {text_key(prefill.box.shown): prefill.full}
            )

    def _view(self, prefill: Prefill, text_block_id: str = TEXT_BLOCK) -> dict[str, Any]:
        return capture_modal(
            self._context,
            self._binding.incident_title,
            prefill.box,
            from_slack_ts(self._message.ts),
            len(prefill.full),
            text_block_id=text_block_id,
        )
