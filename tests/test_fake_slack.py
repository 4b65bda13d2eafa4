"""Proves the fake Slack Web API and the signed-request builders with slack_sdk's own clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import DEFAULT_APP_TOKEN, DEFAULT_BOT_TOKEN, FakeSlack
from tests.support import slack_requests as sr

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def modal(title: str = "Add note", **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "note_modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Add"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "note", "multiline": True},
            }
        ],
    }
    view.update(extra)
    return view


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)


# ---------------------------------------------------------------------- basics, auth, recording


def test_api_url_and_auth_test(fake: FakeSlack, client: WebClient) -> None:
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")
    resp = client.auth_test()
    assert resp["team_id"] == "T0001" and resp["user_id"] == "UBOT" and resp["bot_id"] == "BBOT"
    call = fake.calls_to("auth.test")[0]
    assert call.headers["Authorization"] == f"Bearer {DEFAULT_BOT_TOKEN}"


async def test_calls_are_recorded_with_params_json_form_and_query(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)
    ts = fake.add_message("C0001", {"user": "U0001", "text": "db is down"})

    eph = await client.chat_postEphemeral(channel="C0001", user="U0001", text="noted")  # JSON body
    await client.reactions_add(channel="C0001", timestamp=ts, name="memo")  # form body
    await client.users_info(user="U0001")  # GET query

    assert eph["message_ts"]
    (call,) = fake.calls_to("chat.postEphemeral")
    assert call.params == {"channel": "C0001", "user": "U0001", "text": "noted"}
    assert call.http_method == "POST" and call.ok and call.response["message_ts"] == eph["message_ts"]
    assert fake.calls_to("reactions.add")[0].params == {"channel": "C0001", "timestamp": ts, "name": "memo"}
    assert fake.calls_to("users.info")[0].params == {"user": "U0001"}
    assert fake.calls_to("users.info")[0].http_method == "GET"
    assert [c.method for c in fake.calls] == ["chat.postEphemeral", "reactions.add", "users.info"]
    assert (await fake.await_calls("users.info", 1))[0].method == "users.info"

    fake.add_user("U0002", real_name="Bob")
    fake.reset()  # back to a fresh fake: defaults re-seeded, everything else forgotten
    assert fake.calls == [] and fake.messages("C0001") == [] and fake.user("U0002") is None
    assert fake.user("U0001") is not None
    assert (await client.conversations_info(channel="C0001"))["ok"]


async def test_invalid_or_missing_token(fake: FakeSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as err:
        await bad.auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert err.value.response.status_code == 200

    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "not_authed"


def test_unknown_method(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.doesNotExist")
    assert err.value.response["error"] == "unknown_method"


def test_token_in_form_is_accepted_but_not_in_json_body(fake: FakeSlack) -> None:
    async def post(**kwargs: Any) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(fake.api_url + "auth.test", **kwargs) as resp,
        ):
            data: dict[str, Any] = await resp.json()
            return data

    assert asyncio.run(post(data={"token": DEFAULT_BOT_TOKEN}))["ok"] is True
    assert asyncio.run(post(json={"token": DEFAULT_BOT_TOKEN}))["error"] == "not_authed"


# ---------------------------------------------------------------------- seeded data


def test_users_usergroups_channels(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U0002", display_name="", real_name="Bob Baker")
    user = client.users_info(user="U0002")["user"]
    assert user["profile"]["display_name"] == "" and user["profile"]["real_name"] == "Bob Baker"
    assert user["real_name"] == "Bob Baker" and user["name"] and user["is_bot"] is False
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U9999")
    assert err.value.response["error"] == "user_not_found"

    fake.add_usergroup("S0001", ["U0001", "U0002"])
    assert client.usergroups_users_list(usergroup="S0001")["users"] == ["U0001", "U0002"]
    with pytest.raises(SlackApiError) as err:
        client.usergroups_users_list(usergroup="S404")
    assert err.value.response["error"] == "no_such_subteam"

    assert client.conversations_info(channel="C0001")["channel"]["name"] == "inc-db"
    with pytest.raises(SlackApiError) as err:
        client.conversations_info(channel="C404")
    assert err.value.response["error"] == "channel_not_found"


def test_channel_membership_errors(fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("C0002", "general", is_member=False)
    fake.add_channel("G0003", "secret", is_private=True, is_member=False)
    fake.add_channel("C0004", "members-only", members=["U0001"])
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0002", text="hi")
    assert err.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="G0003", text="hi")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel="C0004", user="U0002", text="hi")
    assert err.value.response["error"] == "user_not_in_channel"
    with pytest.warns(UserWarning, match="text"), pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel="C0004", user="U0001", text="")
    assert err.value.response["error"] == "no_text"


def test_history_replies_permalink_reactions(fake: FakeSlack, client: WebClient) -> None:
    parent = fake.add_message("C0001", {"user": "U0001", "text": "primary down", "ts": "1700000000.000100"})
    fake.add_message("C0001", {"user": "U0001", "text": "later", "ts": "1700000100.000100"})
    reply = fake.add_message(
        "C0001", {"user": "U0001", "text": "failover done", "ts": "1700000050.000200", "thread_ts": parent}
    )

    one = client.conversations_history(channel="C0001", latest=parent, inclusive=True, limit=1)
    assert [m["text"] for m in one["messages"]] == ["primary down"]
    assert one["messages"][0]["reply_count"] == 1
    newest_first = client.conversations_history(channel="C0001")["messages"]
    assert [m["text"] for m in newest_first] == ["later", "primary down"]  # replies not in history

    got = client.conversations_replies(channel="C0001", ts=reply, latest=reply, oldest=reply, inclusive=True)
    assert [m["text"] for m in got["messages"]] == ["failover done"]
    thread = client.conversations_replies(channel="C0001", ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["primary down", "failover done"]
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel="C0001", ts="1.000001")
    assert err.value.response["error"] == "thread_not_found"

    link = client.chat_getPermalink(channel="C0001", message_ts=parent)["permalink"]
    assert link == "https://fake.slack.com/archives/C0001/p1700000000000100"
    reply_link = client.chat_getPermalink(channel="C0001", message_ts=reply)["permalink"]
    assert reply_link.startswith("https://fake.slack.com/archives/C0001/p1700000050000200?thread_ts=")
    with pytest.raises(SlackApiError) as err:
        client.chat_getPermalink(channel="C0001", message_ts="1.000001")
    assert err.value.response["error"] == "message_not_found"

    client.reactions_add(channel="C0001", timestamp=parent, name="memo")
    with pytest.raises(SlackApiError) as err:
        client.reactions_add(channel="C0001", timestamp=parent, name="memo")
    assert err.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as err:
        client.reactions_add(channel="C0001", timestamp="1.000001", name="memo")
    assert err.value.response["error"] == "message_not_found"

    client.reactions_remove(channel="C0001", timestamp=parent, name="memo")
    assert "reactions" not in next(m for m in fake.messages("C0001") if m["ts"] == parent)
    with pytest.raises(SlackApiError) as err:
        client.reactions_remove(channel="C0001", timestamp=parent, name="memo")
    assert err.value.response["error"] == "no_reaction"
    with pytest.raises(SlackApiError) as err:
        client.reactions_remove(channel="C0001", timestamp="1.000001", name="memo")
    assert err.value.response["error"] == "message_not_found"

    posted = client.chat_postMessage(channel="C0001", text="bot says", thread_ts=parent)
    assert posted["message"]["thread_ts"] == parent
    assert fake.messages("C0001")[-1]["text"] == "bot says"


# ---------------------------------------------------------------------- views


async def test_views_open_validates_and_stores(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)
    resp = await client.views_open(trigger_id=fake.issue_trigger_id(), view=modal())
    view = resp["view"]
    assert view["id"].startswith("V") and view["hash"] and view["root_view_id"] == view["id"]
    assert view["blocks"][0]["block_id"]  # Slack fills in missing block_ids
    assert fake.views[view["id"]]["callback_id"] == "note_modal"

    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id=fake.issue_trigger_id(), view=modal(title="x" * 25))
    assert err.value.response["error"] == "invalid_arguments"
    assert "title" in err.value.response["response_metadata"]["messages"][0]

    no_type = modal()
    del no_type["type"]
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id=fake.issue_trigger_id(), view=no_type)
    assert err.value.response["error"] == "invalid_arguments"
    assert err.value.response["response_metadata"]["messages"]

    assert len(fake.views) == 1
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="123.456.abc", view=modal())
    assert err.value.response["error"] == "invalid_trigger_id"


async def test_trigger_id_is_single_use_and_expires() -> None:
    with FakeSlack(trigger_ttl=0.3) as fake:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)
        trigger = fake.issue_trigger_id()
        await client.views_open(trigger_id=trigger, view=modal())
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=trigger, view=modal())
        assert err.value.response["error"] == "exchanged_trigger_id"

        late = fake.issue_trigger_id()
        await asyncio.sleep(0.4)
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=late, view=modal())
        assert err.value.response["error"] == "expired_trigger_id"

    with FakeSlack() as fake:  # default: 3 s
        assert fake.trigger_ttl == 3.0
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)
        trigger = fake.issue_trigger_id()
        fake.expire_trigger_id(trigger)
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=trigger, view=modal())
        assert err.value.response["error"] == "expired_trigger_id"


def test_replies_are_cursor_paginated_and_every_page_is_headed_by_the_parent(
    fake: FakeSlack, client: WebClient
) -> None:
    parent = fake.add_message("C0001", {"user": "U0001", "text": "parent", "ts": "1700000000.000100"})
    replies = [
        fake.add_message(
            "C0001", {"user": "U0002", "text": f"r{i}", "ts": f"1700000{i:03d}.000200", "thread_ts": parent}
        )
        for i in range(1, 6)
    ]
    pages: list[list[str]] = []
    cursor = ""
    while True:
        answer = client.conversations_replies(channel="C0001", ts=replies[2], limit=2, cursor=cursor or None)
        pages.append([m["text"] for m in answer["messages"]])
        cursor = (answer.get("response_metadata") or {}).get("next_cursor", "")
        assert answer["has_more"] is bool(cursor)
        if not cursor:
            break
    # Asked with a reply's ts, it is the whole thread; oldest first; the parent heads each page.
    assert pages == [["parent", "r1"], ["parent", "r2", "r3"], ["parent", "r4", "r5"]]
    assert answer["messages"][0]["reply_count"] == 5
    assert all(m["thread_ts"] == parent for m in answer["messages"])
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel="C0001", ts=parent, cursor="bogus")
    assert err.value.response["error"] == "invalid_cursor"
    # A message with no thread is a thread of one.
    alone = fake.add_message("C0001", {"user": "U0001", "text": "alone"})
    assert [m["text"] for m in client.conversations_replies(channel="C0001", ts=alone)["messages"]] == [
        "alone"
    ]


def test_invalid_view_does_not_consume_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.issue_trigger_id()
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id=trigger, view=modal(title="x" * 25))
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]


def test_views_update_and_push(fake: FakeSlack, client: WebClient) -> None:
    view = client.views_open(trigger_id=fake.issue_trigger_id(), view=modal())["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal(title="Updated"))["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    assert fake.views[view["id"]]["title"]["text"] == "Updated"
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], hash=view["hash"], view=modal())  # stale hash
    assert err.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id="V404", view=modal())
    assert err.value.response["error"] == "not_found"

    pushed = client.views_push(trigger_id=fake.issue_trigger_id(view_id=view["id"]), view=modal(title="Two"))
    assert pushed["view"]["previous_view_id"] == view["id"]
    assert pushed["view"]["root_view_id"] == view["id"]


# ---------------------------------------------------------------------- fault injection


async def test_rate_limit_gives_429_and_retry_after(fake: FakeSlack) -> None:
    fake.rate_limit_next("chat.postEphemeral", retry_after=7)
    client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as err:
        await client.chat_postEphemeral(channel="C0001", user="U0001", text="hi")
    resp = err.value.response
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp["error"] == "ratelimited"
    assert (await client.chat_postEphemeral(channel="C0001", user="U0001", text="hi"))["ok"]
    assert [c.status for c in fake.calls_to("chat.postEphemeral")] == [429, 200]


def test_sync_client_retry_handler_honours_retry_after(fake: FakeSlack) -> None:
    fake.rate_limit_next("auth.test", retry_after=1)
    client = WebClient(
        token=DEFAULT_BOT_TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    started = time.monotonic()
    assert client.auth_test()["ok"]
    assert time.monotonic() - started >= 0.9
    assert len(fake.calls_to("auth.test")) == 2


def test_fail_next_and_latency(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", "not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C0001", text="hi")
        assert err.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel="C0001", text="hi")["ok"]

    fake.set_latency(0.2, method="auth.test")
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2


def test_fake_serves_another_event_loop_concurrently(fake: FakeSlack) -> None:
    fake.set_latency(0.3)

    async def many() -> list[Any]:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url)
        return await asyncio.gather(*(client.auth_test() for _ in range(5)))

    started = time.monotonic()
    assert all(r["ok"] for r in asyncio.run(many()))
    assert time.monotonic() - started < 1.2  # served concurrently, not 5 x 0.3 s


# ---------------------------------------------------------------------- response_url


async def test_response_url_accepts_five_and_refuses_sixth(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    assert url.startswith(f"{fake.base_url}/response/")
    hook = AsyncWebhookClient(url)
    for i in range(5):
        resp = await hook.send(text=f"reply {i}", response_type="ephemeral")
        assert (resp.status_code, resp.body) == (200, "ok")
    sixth = await hook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")

    got = await fake.await_responses(url, 5)
    assert [p["text"] for p in got] == [f"reply {i}" for i in range(5)]
    assert fake.all_responses() == got
    assert [r.status for r in fake.response_log] == [200] * 5 + [404]


def test_response_url_expiry_unknown_and_bad_payloads(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    assert WebhookClient(url).send_dict({"response_type": "ephemeral"}).body == "no_text"
    assert WebhookClient(url).send_dict({"delete_original": True}).status_code == 200
    fake.expire_response_url(url)
    resp = WebhookClient(url).send(text="late")
    assert (resp.status_code, resp.body) == (404, "expired_url")
    resp = WebhookClient(f"{fake.base_url}/response/nope").send(text="?")
    assert resp.status_code == 404
    assert fake.wait_for_responses(url, 1) == [{"delete_original": True}]


def test_methods_and_response_urls_stay_down_until_set_back(fake: FakeSlack, client: WebClient) -> None:
    url = fake.new_response_url()
    fake.set_down("chat.postEphemeral", "response_url")
    for _ in range(3):  # for as long as the test says, not a number of calls
        with pytest.raises(SlackApiError) as err:
            client.chat_postEphemeral(channel="C0001", user="U0001", text="hi")
        assert err.value.response.status_code == 503
        assert WebhookClient(url).send(text="hi").status_code == 503
    assert client.chat_postMessage(channel="C0001", text="other methods answer")["ok"]
    fake.set_down("chat.postEphemeral", "response_url", down=False)
    assert client.chat_postEphemeral(channel="C0001", user="U0001", text="back")["ok"]
    assert WebhookClient(url).send(text="back").status_code == 200
    assert [r.status for r in fake.response_log] == [503] * 3 + [200]
    assert fake.responses(url) == [{"text": "back"}]


SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*latest events*"}}


def test_message_blocks_are_validated_as_slack_does(fake: FakeSlack, client: WebClient) -> None:
    url = fake.new_response_url()
    ok = WebhookClient(url).send(text="fallback", blocks=[SECTION])
    assert (ok.status_code, ok.body) == (200, "ok")
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    bad = WebhookClient(url).send(text="fallback", blocks=[too_long])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    unknown = WebhookClient(url).send(text="fallback", blocks=[{"type": "no_such_block"}])
    assert (unknown.status_code, unknown.body) == (400, "invalid_blocks")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postEphemeral(channel="C0001", user="U0001", text="t", blocks=[SECTION] * 51)
    assert raised.value.response["error"] == "invalid_blocks"
    assert client.chat_postEphemeral(channel="C0001", user="U0001", text="t", blocks=[SECTION] * 50)["ok"]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0001", text="t", blocks=[too_long])
    assert raised.value.response["error"] == "invalid_blocks"


def test_wait_helpers_explain_what_was_received(fake: FakeSlack, client: WebClient) -> None:
    url = fake.new_response_url()
    WebhookClient(url).send(text="only one")
    client.auth_test()
    with pytest.raises(AssertionError, match="only one") as err:
        fake.wait_for_responses(url, 2, timeout=0.1)
    assert "got 1" in str(err.value)
    with pytest.raises(AssertionError, match=r"auth\.test"):
        fake.wait_for_calls("views.open", 1, timeout=0.1)


# ---------------------------------------------------------------------- signed requests


def test_sign_matches_slack_sdk_verifier() -> None:
    verifier = SignatureVerifier(SECRET)
    body = "token=x&text=hello"
    headers = sr.sign(body, SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not verifier.is_valid(
        body + "x", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)


def test_builders_sign_and_bad_variants_are_rejected() -> None:
    verifier = SignatureVerifier(SECRET)
    built = [
        sr.slash_command(SECRET, text="db failover", response_url="http://x/r", trigger_id="1.2.ab"),
        sr.interactivity(SECRET, sr.message_shortcut_payload(trigger_id="1.2.ab", response_url="http://x/r")),
        sr.event_callback(SECRET, sr.reaction_added_event("U0001", "memo", "C0001", "1.000001", "U0002")),
        sr.url_verification(SECRET, "challenge-me"),
    ]
    for body, headers in built:
        assert verifier.is_valid_request(body, headers)
        assert not verifier.is_valid_request(body, sr.tampered(headers))
        assert not verifier.is_valid_request(body, sr.unsigned(headers))

    stale_body, stale_headers = sr.slash_command(
        SECRET, text="x", response_url="http://x/r", trigger_id="1.2.ab", timestamp=sr.stale_timestamp()
    )
    assert not verifier.is_valid_request(stale_body, stale_headers)
    # correctly signed, just too old:
    assert stale_headers == {
        "Content-Type": "application/x-www-form-urlencoded",
        **sr.sign(stale_body, SECRET, int(stale_headers["X-Slack-Request-Timestamp"])),
    }


def test_slash_command_body_is_like_slacks() -> None:
    body, headers = sr.slash_command(
        SECRET,
        text="db failover / 50% done",
        response_url="https://hooks/x",
        trigger_id="1.2.ab",
        retry_num=1,
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Slack-Retry-Num"] == "1"
    assert body.startswith("token=") and "command=%2Fincident-note" in body
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert list(fields) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert fields["text"] == "db failover / 50% done" and fields["is_enterprise_install"] == "false"


def test_interactivity_and_event_payloads() -> None:
    payload = sr.message_shortcut_payload(trigger_id="1.2.ab", response_url="http://x/r", message_text="hi")
    body, headers = sr.interactivity(SECRET, payload)
    assert json.loads(parse_qs(body)["payload"][0]) == payload
    assert payload["type"] == "message_action" and payload["message_ts"] == payload["message"]["ts"]

    values = sr.text_input_values({"b1": {"note": "a note"}})
    sub = sr.view_submission_payload({"id": "V1", "callback_id": "note_modal", "blocks": []}, values=values)
    assert (
        sub["type"] == "view_submission" and sub["view"]["state"]["values"]["b1"]["note"]["value"] == "a note"
    )
    assert sub["view"]["id"] == "V1" and sub["view"]["callback_id"] == "note_modal"

    body, headers = sr.event_callback(
        SECRET, sr.reaction_added_event("U1", "memo", "C1", "1.000001", "U2"), event_id="Ev1", retry_num=2
    )
    data = json.loads(body)
    assert data["type"] == "event_callback" and data["event_id"] == "Ev1" and data["authorizations"]
    assert headers["X-Slack-Retry-Num"] == "2" and headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert headers["Content-Type"] == "application/json"


# ---------------------------------------------------------------------- the kit with a real Bolt app


async def test_bolt_app_round_trip_through_the_fake(fake: FakeSlack) -> None:
    app = AsyncApp(
        token=DEFAULT_BOT_TOKEN,
        signing_secret=SECRET,
        client=AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url),
    )

    @app.command("/incident-note")
    async def note(
        ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=modal())
        await respond(text=f"noted: {command['text']}")

    url = fake.new_response_url()
    body, headers = sr.slash_command(
        SECRET, text="db down", response_url=url, trigger_id=fake.issue_trigger_id()
    )
    resp = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=dict[str, str | Sequence[str]](headers))
    )
    assert resp.status == 200
    assert (await fake.await_responses(url, 1))[0]["text"] == "noted: db down"
    assert len(fake.views) == 1

    stale = sr.slash_command(
        SECRET, text="x", response_url=url, trigger_id="1.2.ab", timestamp=sr.stale_timestamp()
    )
    assert (
        await app.async_dispatch(
            AsyncBoltRequest(body=stale[0], headers=dict[str, str | Sequence[str]](stale[1]))
        )
    ).status == 401
    bad = sr.slash_command(SECRET, text="x", response_url=url, trigger_id="1.2.ab")
    assert (
        await app.async_dispatch(
            AsyncBoltRequest(body=bad[0], headers=dict[str, str | Sequence[str]](sr.tampered(bad[1])))
        )
    ).status == 401


async def test_block_actions_and_options_builders_reach_bolts_listeners(fake: FakeSlack) -> None:
    app = AsyncApp(
        token=DEFAULT_BOT_TOKEN,
        signing_secret=SECRET,
        client=AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=fake.api_url),
    )
    seen: list[str] = []

    @app.options("pick")
    async def options(ack: AsyncAck, payload: dict[str, Any]) -> None:
        await ack(options=[{"text": {"type": "plain_text", "text": payload["value"]}, "value": "v1"}])

    @app.action("more")
    async def more(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(f"{body['channel']['id']}:{body['actions'][0]['value']}")

    suggestion = sr.block_suggestion_payload({"id": "V1"}, action_id="pick", block_id="b", value="db")
    body, headers = sr.interactivity(SECRET, suggestion)
    resp = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=dict[str, str | Sequence[str]](headers))
    )
    assert resp.status == 200
    assert json.loads(resp.body)["options"][0]["text"]["text"] == "db"

    click = sr.block_actions_payload(
        {"action_id": "more", "value": "page-2"}, response_url=fake.new_response_url()
    )
    body, headers = sr.interactivity(SECRET, click)
    resp = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=dict[str, str | Sequence[str]](headers))
    )
    assert resp.status == 200 and seen == ["C0001:page-2"]
    assert click["container"]["is_ephemeral"] is True and "message" not in click


# ---------------------------------------------------------------------- Socket Mode


@pytest.fixture
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk's Socket Mode client takes HTTP(S)_PROXY from the environment and ignores NO_PROXY.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def slash_payload(fake: FakeSlack, text: str) -> dict[str, Any]:
    """The fields of a slash command POST, as Socket Mode carries them in an envelope's payload."""
    body, _ = sr.slash_command(
        SECRET, text=text, response_url=fake.new_response_url(), trigger_id=fake.issue_trigger_id()
    )
    return dict(parse_qsl(body, keep_blank_values=True))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_apps_connections_open_takes_only_the_app_token_in_the_header(fake: FakeSlack) -> None:
    opened = await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=DEFAULT_APP_TOKEN)
    assert opened["ok"] is True
    assert opened["url"].startswith(f"ws://127.0.0.1:{fake.port}/socket-mode/")
    (call,) = fake.calls_to("apps.connections.open")
    assert call.headers["Authorization"] == f"Bearer {DEFAULT_APP_TOKEN}" and call.http_method == "POST"

    for token, error in (
        (DEFAULT_BOT_TOKEN, "not_allowed_token_type"),
        ("xapp-1-A0001-wrong", "invalid_auth"),
        ("xoxb-not-ours", "invalid_auth"),
    ):
        with pytest.raises(SlackApiError) as err:
            await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=token)
        assert err.value.response["error"] == error, token
        assert err.value.response.status_code == 200

    async with aiohttp.ClientSession() as session:
        url = fake.api_url + "apps.connections.open"
        async with session.post(url, data={"token": DEFAULT_APP_TOKEN}) as resp:  # as a POST parameter
            assert (await resp.json())["error"] == "not_authed"
        headers = {"Authorization": f"Bearer {DEFAULT_APP_TOKEN}"}
        async with session.get(url, headers=headers) as resp:
            assert (await resp.json())["error"] == "insecure_request"

    # ... and the app-level token opens sockets only: Web API methods refuse it.
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token=DEFAULT_APP_TOKEN, base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "not_allowed_token_type"

    custom = FakeSlack(app_token="xapp-1-A0001-custom")
    with custom:
        client = AsyncWebClient(base_url=custom.api_url)
        assert (await client.apps_connections_open(app_token="xapp-1-A0001-custom"))["ok"]
        with pytest.raises(SlackApiError) as err:
            await client.apps_connections_open(app_token=DEFAULT_APP_TOKEN)
        assert err.value.response["error"] == "invalid_auth"


async def test_socket_protocol_hello_pings_single_use_tickets_and_envelope_shapes(
    fake: FakeSlack, _no_proxy: None
) -> None:
    with pytest.raises(AssertionError, match="no Socket Mode connection is open"):
        fake.send_envelope("slash_commands", {"text": "nobody listens"})
    url = (await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=DEFAULT_APP_TOKEN))[
        "url"
    ]
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url, autoping=False)
        hello = await ws.receive_json(timeout=5)
        assert hello == {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {
                "host": f"applink-fake-{fake.port}",
                "started": hello["debug_info"]["started"],
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": "A0001"},
        }
        assert fake.socket_connections() == 1

        await ws.ping(b"sdk-ping-pong:123.5")
        pong = await ws.receive(timeout=5)
        assert pong.type == aiohttp.WSMsgType.PONG and pong.data == b"sdk-ping-pong:123.5"
        assert fake.socket_pings() == 1

        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)  # a ticket opens one connection
        assert refused.value.status == 401

        command_id = fake.send_envelope("slash_commands", {"command": "/incident-note", "text": "help"})
        command = await ws.receive_json(timeout=5)
        assert command == {
            "envelope_id": command_id,
            "payload": {"command": "/incident-note", "text": "help"},
            "type": "slash_commands",
            "accepts_response_payload": True,
        }
        event_id = fake.send_envelope("events_api", {"type": "event_callback"}, retry_attempt=1)
        event = await ws.receive_json(timeout=5)
        assert event == {
            "envelope_id": event_id,
            "payload": {"type": "event_callback"},
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 1,
            "retry_reason": "",
        }
        with pytest.raises(ValueError, match="envelope type"):
            fake.send_envelope("block_actions", {})

        await ws.send_json({"envelope_id": command_id, "payload": {"text": "the help"}})
        await ws.send_str("not json")
        assert await fake.await_ack(command_id) == {
            "envelope_id": command_id,
            "payload": {"text": "the help"},
        }
        with pytest.raises(AssertionError, match=r"(?s)none came.*'not json'"):
            await fake.await_ack(event_id, timeout=0.2)
        recorded = fake.envelope(command_id)
        assert recorded.acked and recorded.ack_seconds is not None and recorded.ack_seconds < 3
        assert [e.envelope_id for e in fake.envelopes()] == [command_id, event_id]
        await ws.close()
        await until(lambda: fake.socket_connections() == 0)


async def test_slack_sdk_socket_mode_client_connects_receives_and_acks(
    fake: FakeSlack, _no_proxy: None
) -> None:
    client = SocketModeClient(app_token=DEFAULT_APP_TOKEN, web_client=AsyncWebClient(base_url=fake.api_url))
    messages: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    async def on_message(_client: Any, message: dict[str, Any], _raw: str | None) -> None:
        messages.append(message)

    async def on_request(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        requests.append(req)
        payload = {"text": f"got {req.payload.get('text')}"} if req.accepts_response_payload else None
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )

    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()  # type: ignore[no-untyped-call]
        assert await fake.await_socket_connection(timeout=5) == 1
        (opened,) = fake.calls_to("apps.connections.open")
        assert opened.ok and opened.headers["Authorization"] == f"Bearer {DEFAULT_APP_TOKEN}"

        command = slash_payload(fake, "status")
        command_id = fake.send_envelope("slash_commands", command)
        assert await fake.await_ack(command_id) == {
            "envelope_id": command_id,
            "payload": {"text": "got status"},
        }
        event = {"type": "event_callback", "event": {"type": "reaction_added"}, "event_id": "Ev0001"}
        event_id = fake.send_envelope("events_api", event)
        assert await fake.await_ack(event_id) == {"envelope_id": event_id}

        assert messages[0]["type"] == "hello" and messages[0]["connection_info"] == {"app_id": "A0001"}
        assert [(r.type, r.envelope_id) for r in requests] == [
            ("slash_commands", command_id),
            ("events_api", event_id),
        ]
        assert requests[0].payload == command and requests[0].accepts_response_payload is True
        assert requests[1].retry_attempt == 0 and requests[1].accepts_response_payload is False
        # The client's first ping on the new connection was answered; it reads liveness from the pong.
        await until(lambda: client.last_ping_pong_time is not None)
        assert fake.socket_pings() >= 1
        assert await client.is_connected()
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    await until(lambda: fake.socket_connections() == 0)
    assert fake.socket_connections_opened() == 1


async def test_disconnect_message_makes_the_sdk_client_reconnect(fake: FakeSlack, _no_proxy: None) -> None:
    client = SocketModeClient(app_token=DEFAULT_APP_TOKEN, web_client=AsyncWebClient(base_url=fake.api_url))

    async def ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(ack)
    try:
        await client.connect()  # type: ignore[no-untyped-call]
        await fake.await_socket_connection()
        assert fake.send_disconnect("refresh_requested") == 1
        # A new ticket, a new connection, and the old one closed by the client.
        await until(lambda: fake.socket_connections_opened() == 2 and fake.socket_connections() == 1)
        assert len(fake.calls_to("apps.connections.open")) == 2
        envelope_id = fake.send_envelope("interactive", {"type": "shortcut", "callback_id": "x"})
        assert await fake.await_ack(envelope_id) == {"envelope_id": envelope_id}
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    await until(lambda: fake.socket_connections() == 0)


async def test_reset_closes_socket_connections_cleanly_and_forgets_them(
    fake: FakeSlack, _no_proxy: None
) -> None:
    url = (await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=DEFAULT_APP_TOKEN))[
        "url"
    ]
    unused = (await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=DEFAULT_APP_TOKEN))[
        "url"
    ]
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url)
        await ws.receive_json(timeout=5)  # hello
        envelope_id = fake.send_envelope("slash_commands", {"text": "x"})
        await ws.receive_json(timeout=5)

        resetting = asyncio.ensure_future(asyncio.to_thread(fake.reset))
        closing = await ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == aiohttp.WSCloseCode.OK
        await asyncio.wait_for(resetting, timeout=5)
        assert ws.closed and ws.close_code == aiohttp.WSCloseCode.OK

        assert fake.socket_connections() == 0 and fake.socket_connections_opened() == 0
        assert fake.envelopes() == [] and fake.socket_messages() == []
        with pytest.raises(KeyError):
            fake.envelope(envelope_id)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(unused)  # tickets issued before the reset are gone
        assert refused.value.status == 401


def test_edits_and_deletes_change_the_message_and_give_the_event_slack_sends(fake: FakeSlack) -> None:
    ts = fake.add_message("C0001", {"user": "U0002", "text": "first words"})
    changed = fake.edit_message("C0001", ts, "second words")
    assert (changed["type"], changed["subtype"], changed["hidden"]) == ("message", "message_changed", True)
    assert changed["message"]["ts"] == ts and changed["message"]["text"] == "second words"
    assert changed["message"]["edited"] == {"user": "U0002", "ts": changed["event_ts"]}
    assert changed["previous_message"]["text"] == "first words" and changed["channel"] == "C0001"
    [stored] = [m for m in fake.messages("C0001") if m["ts"] == ts]
    assert stored["text"] == "second words" and stored["blocks"][0]["type"] == "rich_text"

    deleted = fake.delete_message("C0001", ts)
    assert (deleted["subtype"], deleted["deleted_ts"]) == ("message_deleted", ts)
    assert deleted["previous_message"]["text"] == "second words"
    assert all(m["ts"] != ts for m in fake.messages("C0001"))


def test_a_thread_parent_deleted_with_replies_becomes_a_tombstone(fake: FakeSlack) -> None:
    parent = fake.add_message("C0001", {"user": "U0002", "text": "parent"})
    fake.add_message("C0001", {"user": "U0001", "text": "reply", "thread_ts": parent})
    event = fake.delete_message("C0001", parent)
    assert event["subtype"] == "message_changed"
    assert event["message"]["subtype"] == "tombstone" and event["message"]["ts"] == parent
    assert event["previous_message"]["user"] == "U0002"
    [stored] = [m for m in fake.messages("C0001") if m["ts"] == parent]
    assert stored["text"] == "This message was deleted."
