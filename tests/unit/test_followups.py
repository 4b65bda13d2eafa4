"""The second reply, against the fake Slack: landed or finally failed, for a note, a form and a pin."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from botocore import exceptions as aws
from slack_sdk.web.async_client import AsyncWebClient

from bot.aws.incidents import translate
from bot.domain.timeline import (
    Attribution,
    EventType,
    TimelineEntry,
    client_token,
    compose_event_text,
    encode_event_data,
)
from bot.presentation.followups import RESPONSE_URL_LIFETIME_SECONDS, SlackFollowUps
from bot.usecases.errors import GaveUp, IncidentManagerError
from bot.usecases.outbox import Notice, NoticeKind
from bot.usecases.ports import ChangeKind, EntryState, OwedChange, StoredEntry
from tests.conftest import BOT_TOKEN
from tests.fakes.slack_api import FakeSlack

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
TS = "1764150000.123456"


@pytest.fixture
async def follow_ups(fake_slack: FakeSlack) -> AsyncIterator[SlackFollowUps]:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, session=session)
        yield SlackFollowUps(client, session, "white_check_mark", lambda: "eu-west-1")


def stored(notice: Notice | str) -> StoredEntry:
    text = compose_event_text("db failed over", Attribution("alice"))
    entry = TimelineEntry(
        client_token("t", "1"),
        ARN,
        EventType.NOTE,
        datetime(2026, 11, 26, 9, 40, tzinfo=UTC),
        encode_event_data(text),
    )
    raw = notice if isinstance(notice, str) else notice.to_json()
    return StoredEntry(entry, EntryState.PENDING, None, notice=raw, attempts=3, created_at=datetime.now(UTC))


async def landed(follow_ups: SlackFollowUps, entry: StoredEntry) -> None:
    await follow_ups.tell(entry.notice, follow_ups.landed_reply(entry, "event-1"), landed=True)


async def failed(follow_ups: SlackFollowUps, entry: StoredEntry, error: BaseException) -> None:
    await follow_ups.tell(entry.notice, follow_ups.failed_reply(entry, error), landed=False)


def reply_notice(response_url: str | None, issued_at: float | None = None) -> Notice:
    return Notice(
        kind=NoticeKind.REPLY,
        team_id="T0001",
        channel_id="C0001",
        user_id="U0001",
        response_url=response_url,
        response_url_issued_at=issued_at,
        incident_title="Checkout DB down",
        text="db failed over",
    )


async def test_a_landed_note_is_told_through_its_response_url(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.new_response_url()
    await landed(follow_ups, stored(reply_notice(url, time.time())))
    (reply,) = fake_slack.responses(url)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Now on the timeline: the note that was waiting for Incident Manager")
    assert "|Checkout DB down>" in reply["text"] and "2026-11-26 09:40:00 UTC" in reply["text"]
    assert "> db failed over" in reply["text"]


async def test_past_the_response_urls_life_it_goes_by_chat_post_ephemeral(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.new_response_url()
    expired = time.time() - RESPONSE_URL_LIFETIME_SECONDS - 60
    await landed(follow_ups, stored(reply_notice(url, expired)))
    assert fake_slack.responses(url) == []
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert (call.params["channel"], call.params["user"]) == ("C0001", "U0001")
    assert "Now on the timeline" in call.params["text"]


async def test_a_final_failure_gives_the_text_back_with_a_reference(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.new_response_url()
    error = aws.ClientError(
        {
            "Error": {"Code": "AccessDeniedException", "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "CreateTimelineEvent",
    )
    await failed(follow_ups, stored(reply_notice(url, time.time())), error)
    (reply,) = fake_slack.responses(url)
    assert "isn't allowed to call `ssm-incidents:CreateTimelineEvent`" in reply["text"]
    assert "Nothing was added to the timeline." in reply["text"]
    assert "```db failed over```" in reply["text"] and "_Reference: " in reply["text"]


@pytest.mark.parametrize(
    ("uncertain", "says"),
    [
        (False, "Nothing was added to the timeline."),
        (True, "can't tell whether it was added"),
    ],
)
async def test_giving_up_says_how_long_and_whether_it_may_have_landed(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack, uncertain: bool, says: str
) -> None:
    url = fake_slack.new_response_url()
    gave_up = GaveUp("ThrottlingException: Rate exceeded", uncertain, timedelta(hours=24, minutes=3))
    await failed(follow_ups, stored(reply_notice(url, time.time())), gave_up)
    (reply,) = fake_slack.responses(url)
    assert "kept failing or not answering for 24 hours" in reply["text"] and says in reply["text"]
    if uncertain:
        assert "Nothing was added" not in reply["text"]


async def test_a_landed_pin_is_confirmed_by_the_mark_alone(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    ts = fake_slack.add_message("C0001", {"user": "U0002", "text": "db failed over"})
    pin = Notice(NoticeKind.PIN, "T0001", "C0001", "U0003", message_ts=ts, incident_title="Checkout DB down")
    await landed(follow_ups, stored(pin))
    (mark,) = fake_slack.calls_to("reactions.add")
    assert (mark.params["timestamp"], mark.params["name"]) == (ts, "white_check_mark")
    assert fake_slack.calls_to("chat.postEphemeral") == []


async def test_a_landed_pin_whose_mark_fails_is_told_to_the_person_who_pinned(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    ts = fake_slack.add_message("C0001", {"user": "U0002", "text": "db failed over"})
    fake_slack.fail_next("reactions.add", "missing_scope")
    pin = Notice(NoticeKind.PIN, "T0001", "C0001", "U0003", message_ts=ts, incident_title="Checkout DB down")
    await landed(follow_ups, stored(pin))
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert call.params["user"] == "U0003" and "Now on the timeline" in call.params["text"]


async def test_a_form_entry_gets_both_the_reply_and_the_mark(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    ts = fake_slack.add_message("C0001", {"user": "U0002", "text": "db failed over"})
    url = fake_slack.new_response_url()
    capture = Notice(
        NoticeKind.CAPTURE, "T0001", "C0001", "U0001", response_url=url, message_ts=ts, incident_title="X"
    )
    await landed(follow_ups, stored(capture))
    assert len(fake_slack.calls_to("reactions.add")) == 1
    assert "Now on the timeline" in fake_slack.responses(url)[0]["text"]


async def test_an_entry_without_a_readable_notice_tells_no_one(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    await landed(follow_ups, stored(""))
    await failed(follow_ups, stored("{not json"), RuntimeError("x"))
    assert fake_slack.calls == []


# Changes that settled after the request was answered


def change_notice(kind: NoticeKind, change: ChangeKind) -> Notice:
    return Notice(
        kind=kind,
        team_id="T0001",
        channel_id="C0001",
        user_id="U0001",
        message_ts=TS,
        incident_title="Checkout DB down",
        text="db failed over",
        change=change.value,
    )


DELETE = OwedChange(ChangeKind.DELETE, 0)


async def test_a_queued_un_pin_that_lands_takes_the_mark_off_and_says_nothing_more(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    ts = fake_slack.add_message("C0001", {"user": "U0002", "text": "db ok", "ts": TS})
    await AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url).reactions_add(
        channel="C0001", timestamp=ts, name="white_check_mark"
    )
    notice = change_notice(NoticeKind.PIN, ChangeKind.DELETE)
    entry = replace(stored(notice), state=EntryState.SENT, event_id="event-1")
    told = await follow_ups.tell(notice.to_json(), follow_ups.change_reply(entry, DELETE, None), landed=True)
    assert told.reached
    (removed,) = fake_slack.calls_to("reactions.remove")
    assert removed.params["timestamp"] == ts and removed.params["name"] == "white_check_mark"
    assert "reactions" not in next(m for m in fake_slack.messages("C0001") if m["ts"] == ts)
    assert fake_slack.calls_to("chat.postEphemeral") == []


async def test_a_queued_undo_that_lands_is_told_and_unmarks_the_message(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    fake_slack.add_message("C0001", {"user": "U0002", "text": "db ok", "ts": TS})
    notice = change_notice(NoticeKind.CAPTURE, ChangeKind.DELETE)
    entry = replace(stored(notice), state=EntryState.SENT, event_id="event-1")
    reply = follow_ups.change_reply(entry, DELETE, None)
    assert reply.startswith("Removed from the timeline:") and "Checkout DB down" in reply
    assert (await follow_ups.tell(notice.to_json(), reply, landed=True)).reached
    # The ✅ was not there any more: no_reaction counts as taken off, and the person is told.
    assert len(fake_slack.calls_to("reactions.remove")) == 1
    (ephemeral,) = fake_slack.calls_to("chat.postEphemeral")
    assert ephemeral.params["text"] == reply


async def test_a_change_that_fails_for_good_is_told_with_its_reference_and_operation(
    follow_ups: SlackFollowUps,
) -> None:
    notice = change_notice(NoticeKind.CAPTURE, ChangeKind.DELETE)
    entry = replace(stored(notice), state=EntryState.SENT, event_id="event-1")
    denied = aws.ClientError(
        {
            "Error": {"Code": "AccessDeniedException", "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "DeleteTimelineEvent",
    )
    reply = follow_ups.change_reply(entry, DELETE, translate(denied))
    assert "`ssm-incidents:DeleteTimelineEvent`" in reply and "It is still on the timeline." in reply
    assert "Reference: " in reply
    update = OwedChange(ChangeKind.UPDATE, 1, entry.entry)
    refused = IncidentManagerError("no", code="AccessDeniedException", status=403)
    reply = follow_ups.change_reply(entry, update, refused)
    assert "`ssm-incidents:UpdateTimelineEvent`" in reply and "Reference: " in reply


def test_a_cancelled_delete_says_it_never_reached_the_timeline(follow_ups: SlackFollowUps) -> None:
    notice = change_notice(NoticeKind.REPLY, ChangeKind.DELETE)
    entry = replace(stored(notice), state=EntryState.CANCELLED)
    assert follow_ups.change_reply(entry, DELETE, None).startswith("Undone: the note never reached")


def undo_values(payload: dict[str, object]) -> list[str]:
    blocks = payload.get("blocks") or []
    assert isinstance(blocks, list)
    return [
        str(element.get("value"))
        for block in blocks
        for element in block.get("elements") or []
        if element.get("action_id") == "undo_entry"
    ]


async def test_a_landed_note_offers_undo_while_its_window_lasts(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.new_response_url()
    entry = stored(reply_notice(url, time.time()))
    await landed(follow_ups, entry)
    (reply,) = fake_slack.responses(url)  # the fake Slack accepted the blocks (slack_sdk's models)
    assert undo_values(reply) == [entry.entry.client_token]
    assert reply["text"].startswith("Now on the timeline")


async def test_once_the_window_has_passed_the_reply_comes_without_the_button(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.new_response_url()
    entry = stored(reply_notice(url, time.time()))
    old = StoredEntry(
        entry.entry, entry.state, None, entry.notice, created_at=datetime.now(UTC) - timedelta(minutes=11)
    )
    reply = follow_ups.landed_reply(old, "event-1")
    await follow_ups.tell(old.notice, reply, landed=True)
    (told,) = fake_slack.responses(url)
    assert undo_values(told) == [] and told["text"].startswith("Now on the timeline")


async def test_a_landed_pin_offers_no_undo_its_undo_is_the_unpin(
    follow_ups: SlackFollowUps, fake_slack: FakeSlack
) -> None:
    notice = Notice(
        NoticeKind.PIN, "T0001", "C0001", "U0001", message_ts=TS, incident_title="Checkout DB down"
    )
    assert follow_ups.landed_reply(stored(notice), "event-1").startswith("Now on the timeline")
