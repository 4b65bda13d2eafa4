"""The picker's search (an external_select's options request): the open incidents whose title matches.

An options request is answered by its ack, so unlike every other listener the slow part (listing the
open incidents) comes before the ack, within the 3 seconds Slack waits; a listing from the last few
seconds is reused so typing does not list them again at every key.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.listeners.deps import deps_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.views import incident_options, options_payload, search_failed_options
from bot.usecases.binding import SEARCH_FRESH_SECONDS

# Slack drops an options answer after 3 seconds; this leaves time for the answer to travel.
SEARCH_BUDGET_SECONDS = 2.5


async def handle_incident_search(ack: AsyncAck, payload: dict[str, Any], context: AsyncBoltContext) -> None:
    deps = deps_of(context)
    query = str(payload.get("value") or "")
    try:
        listing = await asyncio.wait_for(
            deps.bindings.open_incidents.get(fresh_within=SEARCH_FRESH_SECONDS), SEARCH_BUDGET_SECONDS
        )
    except Exception as error:  # noqa: BLE001 - the menu says it failed; the log says why (same reference)
        failure = FailureContext(
            action=Action.PICK, operation="ListIncidentRecords", region=deps.gateway.region
        )
        await ack(options=search_failed_options(explain(error, failure).reference))
        return
    matches = incident_options(listing.matching(query), datetime.now(UTC))
    await ack(options=options_payload(matches))
