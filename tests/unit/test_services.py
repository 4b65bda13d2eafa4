"""The shared path into the timeline, with the real gateway against the fake Incident Manager."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.aws.incidents import Boto3IncidentGateway
from bot.domain.binding import Binding
from bot.domain.timeline import EventType
from bot.slack.directory import UserDirectory
from bot.store import SqlStore
from bot.usecases.outbox import Notice, NoticeKind, Outbox, Told
from bot.usecases.ports import EntryState, OwedChange, OwedReply, StoredEntry
from bot.usecases.timeline import CapturedEntry, EntryAdded, TimelineService
from tests.conftest import BOT_TOKEN, REGION
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack


class NoFollowUps:
    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        raise AssertionError("the person waiting is answered directly")

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        raise AssertionError("the person waiting is answered directly")

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        raise AssertionError("the person waiting is answered directly")

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        raise AssertionError("the person waiting is answered directly")


class StoreThatCannotRecordSent(SqlStore):
    async def mark_sent(
        self,
        client_token: str,
        event_id: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        raise OSError("disk full")


@pytest.mark.usefixtures("aws_env")
async def test_store_failure_after_aws_accepted_still_reports_added(
    tmp_path: Path, fake_aws: FakeIncidentManager, fake_slack: FakeSlack
) -> None:
    arn = fake_aws.add_incident(title="Disk trouble")
    store = StoreThatCannotRecordSent(f"sqlite:///{tmp_path / 'bot.db'}")
    gateway = Boto3IncidentGateway(REGION)
    directory = UserDirectory(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    try:
        binding = Binding("T0001", "C0001", arn, "Disk trouble", "U0001", datetime.now(UTC))
        await store.put_binding(binding)
        outbox = Outbox(store, gateway, NoFollowUps(), lease=timedelta(seconds=30), max_in_flight=4)
        service = TimelineService(store, outbox, directory)
        captured = CapturedEntry(
            team_id="T0001",
            channel_id="C0001",
            event_type=EventType.NOTE,
            slack_text="it landed",
            event_time=datetime.now(UTC),
            author_id="U0001",
            author_fallback="alice",
            token_source=("test", "one"),
        )
        notice = Notice(kind=NoticeKind.REPLY, team_id="T0001", channel_id="C0001", user_id="U0001")
        added = await service.add(
            captured, notice, binding
        )  # no exception: AWS has it, so the person hears "added"
        assert isinstance(added, EntryAdded)
        assert added.event_id == fake_aws.events(arn)[0]["eventId"]
        stored = await store.save_entry_once(added.entry, "", datetime.now(UTC))
        assert stored.state is EntryState.PENDING  # not recorded as sent; resending it is safe (same token)
    finally:
        await store.close()
        await gateway.close()
