"""Whole threads: which messages go, reading a thread page by page, and the modal Slack must accept."""

from __future__ import annotations

from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.domain.slack_message import SlackMessage
from bot.domain.threads import LeftOut, thread_messages
from bot.presentation.thread_views import (
    SECTION_TEXT_LIMIT,
    as_reply,
    progress_text,
    report_text,
    thread_modal,
)
from bot.slack.conversation import read_thread
from bot.usecases.errors import IncidentManagerError, MessageNotFound, MessageUnreadable
from bot.usecases.threads import MessageFailure, ThreadTally

URL = "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home#/incidents/plan/aaaa"


def message(ts: str, **fields: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": "U0002", "text": f"said at {ts}", **fields}


def test_own_messages_notices_and_empty_ones_are_left_out_and_other_apps_kept() -> None:
    raw = [
        message("1.000001"),
        message("1.000002", user="UBOT", bot_id="BBOT"),
        message("1.000003", user=None, bot_id="BOTHER", username="PagerDuty", text="Triggered: db"),
        message("1.000004", subtype="channel_join"),
        message("1.000005", subtype="tombstone", text="This message was deleted."),
        message("1.000006", text=""),
        message("1.000007", text="", files=[{"name": "graph.png", "permalink": "https://x.slack.com/f"}]),
        message("bogus"),
        message("1.000008", subtype="thread_broadcast", text="also sent to the channel"),
    ]
    selected = thread_messages(raw, bot_user_id="UBOT", bot_id="BBOT")
    assert [m.ts for m in selected.messages] == ["1.000001", "1.000003", "1.000007", "1.000008"]
    assert selected.left_out == {LeftOut.OWN: 1, LeftOut.NOTICE: 3, LeftOut.EMPTY: 1}
    assert selected.left_out_count == 5


class Pages:
    """conversations.replies over `thread` in pages of `size`, the parent on every page or only the first."""

    def __init__(self, thread: list[dict[str, Any]], size: int, parent_every_page: bool) -> None:
        self.thread, self.size, self.parent_every_page = thread, size, parent_every_page
        self.asked: list[dict[str, Any]] = []
        self.error: Exception | None = None

    async def conversations_replies(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        if self.error is not None:
            raise self.error
        start = int(kwargs.get("cursor") or 0)
        end = start + self.size
        page = self.thread[start:end]
        if start and self.parent_every_page:
            page = [self.thread[0], *page]
        more = end < len(self.thread)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(end) if more else ""},
        }


@pytest.mark.parametrize("parent_every_page", [True, False])
async def test_a_thread_is_read_page_by_page_with_its_parent_once(parent_every_page: bool) -> None:
    thread = [message("1700000000.000100")] + [message(f"17000000{i:02d}.000200") for i in range(1, 26)]
    pages = Pages(thread, 10, parent_every_page)
    read = await read_thread(cast(AsyncWebClient, pages), "C0001", "1700000000.000100")
    assert [m["ts"] for m in read.messages] == [m["ts"] for m in thread]
    assert not read.truncated
    assert [a.get("cursor") for a in pages.asked] == [None, "10", "20"]
    assert all(a["limit"] == 1000 and a["ts"] == "1700000000.000100" for a in pages.asked)


async def test_reading_stops_at_max_pages_and_says_so() -> None:
    thread = [message(f"17000000{i:02d}.000200") for i in range(30)]
    read = await read_thread(
        cast(AsyncWebClient, Pages(thread, 10, False)), "C0001", thread[0]["ts"], max_pages=2
    )
    assert len(read.messages) == 20 and read.truncated


@pytest.mark.parametrize(
    ("code", "raised"), [("thread_not_found", MessageNotFound), ("missing_scope", MessageUnreadable)]
)
async def test_slack_refusing_the_read_is_the_adapters_typed_error(
    code: str, raised: type[Exception]
) -> None:
    pages = Pages([], 10, False)
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="x",
        req_args={},
        data={"ok": False, "error": code},
        headers={},
        status_code=200,
    )
    pages.error = SlackApiError(code, response)  # type: ignore[no-untyped-call]
    with pytest.raises(raised):
        await read_thread(cast(AsyncWebClient, pages), "C0001", "1.000001")


def slack_message(i: int, text: str = "") -> SlackMessage:
    return SlackMessage(f"{1764150000 + i}.000000", "U0002", "bob", text or f"update {i}")


def test_the_modal_holds_every_count_and_stays_within_slacks_limits() -> None:
    failures = [
        MessageFailure(
            slack_message(i, "x" * 5000), IncidentManagerError("no", code="AccessDeniedException"), None
        )
        for i in range(40)
    ]
    tally = ThreadTally(
        total=200,
        added=150,
        skipped=3,
        queued=[slack_message(i) for i in range(10)],
        failed=failures,
        left_out={LeftOut.OWN: 2},
        over_cap=[slack_message(300 + i) for i in range(7)],
        finished=True,
    )
    paragraphs = report_text(tally, "Checkout <DB> down", URL, "eu-west-1")
    text = as_reply(paragraphs)
    assert "*150 added*, 3 skipped (already on the timeline), 40 failed, 10 queued" in text
    assert "&lt;DB&gt;" in text and "<DB>" not in text
    assert "40 messages not added." in text and "• and 30 messages more" in text
    assert (
        "isn't allowed to call `ssm-incidents:CreateTimelineEvent`" in text
        and text.count("_Reference: ") == 1
    )
    assert "7 messages of this thread, from 2025-11-26 09:45:00 UTC on, were *not* added" in text
    view = thread_modal(paragraphs)
    View(**view).validate_json()
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_LIMIT for b in view["blocks"])
    assert view["title"]["text"] == "Add thread to timeline" and "submit" not in view


def test_progress_says_how_many_and_how_far() -> None:
    tally = ThreadTally(total=31, added=10, skipped=2, queued=[slack_message(1)])
    (start, far) = progress_text(tally, "Checkout DB down", URL)
    assert (
        start.startswith("Adding 31 messages of this thread to <")
        and "2 more already on the timeline" in start
    )
    assert far.startswith("11 of 31 done: 10 added, 1 saved for later.")
    View(**thread_modal([start, far])).validate_json()
