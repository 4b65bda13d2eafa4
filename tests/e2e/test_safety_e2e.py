"""Authorization and safety, end to end: who may bind, notes only from the bound channel, forms re-checked
at submit, no secret in logs or replies, and unsigned or badly signed requests refused with no effect.

Complements test_bind_e2e (the basic allow-lists), test_http_e2e (401 for a badly signed `bind`),
test_compose_e2e / test_capture_e2e (re-bind while a form is open) and test_process_e2e (one bind through
`python -m bot`); what is already covered there is not repeated here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import BOT_TOKEN
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import DEFAULT_APP_TOKEN, FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import HttpResult, free_port, http
from tests.support.harness import Harness, compose_values, submit_view, values_from_view

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"_Reference: ([A-Z2-9]{8})_")
NOT_ALLOWED = "You aren't allowed to bind or unbind this channel, so nothing was changed."
HOW_TO_BIND = "/incident-note bind &lt;incident-record-arn&gt;"


def settle(seconds: float = 0.8) -> None:
    """Long enough for work the bot wrongly started after an ack to have reached a fake."""
    time.sleep(seconds)


def status_of(bot: Harness, **kwargs: Any) -> str:
    return bot.run("status", **kwargs)


# ------------------------------------------------------------------ (a) who may bind, re-bind, unbind


def test_by_default_anyone_in_the_channel_may_bind_rebind_and_unbind(bot: Harness) -> None:
    first = bot.new_incident("First")
    second = bot.new_incident("Second")
    assert "now bound" in bot.bind(first, user_id="U0002", user_name="bob")
    assert "now bound" in bot.bind(second, user_id="U0003", user_name="carol")
    status = status_of(bot, user_id="U0001")
    assert second in status and "Bound by <@U0003>" in status
    assert "no longer bound to *Second*" in bot.run("unbind", user_id="U0001")
    assert "isn't bound" in status_of(bot)
    # Nobody is looked up when no allow-list is configured.
    assert bot.slack.calls_to("usergroups.users.list") == []


def test_a_user_not_on_the_list_can_neither_rebind_nor_unbind_and_the_binding_stands(
    make_bot: Callable[..., Harness],
) -> None:
    bot = make_bot(BIND_ALLOWED_USERS="U0002")
    first = bot.new_incident("Allowed binding")
    second = bot.new_incident("Hijack attempt")
    assert "now bound" in bot.bind(first, user_id="U0002", user_name="bob")
    announcements = len(bot.slack.calls_to("chat.postMessage"))

    refused_rebind = bot.bind(second, user_id="U0001")
    assert NOT_ALLOWED in refused_rebind and "<@U0002>" in refused_rebind
    refused_unbind = bot.run("unbind", user_id="U0003", user_name="carol")
    assert NOT_ALLOWED in refused_unbind

    # Unchanged: still bound to the first incident, by bob; the second was never even looked up.
    status = status_of(bot, user_id="U0001")
    assert first in status and second not in status and "Bound by <@U0002>" in status
    assert [call.params["arn"] for call in bot.aws.calls_to("GetIncidentRecord")].count(second) == 0
    assert len(bot.slack.calls_to("chat.postMessage")) == announcements  # no announcement either

    # The listed user still can.
    assert "now bound" in bot.bind(second, user_id="U0002", user_name="bob")
    assert "no longer bound to *Hijack attempt*" in bot.run("unbind", user_id="U0002", user_name="bob")


def test_users_and_usergroups_together(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(BIND_ALLOWED_USERS="U0002", BIND_ALLOWED_USERGROUPS="S0001,S0002")
    bot.slack.add_usergroup("S0001", ["U0009"])
    bot.slack.add_usergroup("S0002", ["U0003"])
    first = bot.new_incident("Listed user")
    second = bot.new_incident("Group member")

    # A listed user needs no lookup at all.
    assert "now bound" in bot.bind(first, user_id="U0002", user_name="bob")
    assert bot.slack.calls_to("usergroups.users.list") == []
    # A member of the second group may re-bind.
    assert "now bound" in bot.bind(second, user_id="U0003", user_name="carol")
    # Someone in neither is refused and told whom to ask; the binding stands.
    refused = bot.run("unbind", user_id="U0001")
    assert NOT_ALLOWED in refused
    assert "<@U0002>" in refused and "<!subteam^S0001>" in refused and "<!subteam^S0002>" in refused
    assert second in status_of(bot)
    looked_up = {call.params["usergroup"] for call in bot.slack.calls_to("usergroups.users.list")}
    assert looked_up == {"S0001", "S0002"}
    # The group member may unbind.
    assert "no longer bound" in bot.run("unbind", user_id="U0003", user_name="carol")


@pytest.mark.parametrize(
    ("inject", "reason"),
    [
        (
            lambda slack: slack.fail_next("usergroups.users.list", "missing_scope"),
            "Slack answered 'missing_scope'",
        ),
        (
            lambda slack: slack.fail_next_http("usergroups.users.list", 503, times=5),
            "Slack could not be reached",
        ),
    ],
    ids=["slack-error", "slack-down"],
)
def test_a_failed_usergroup_lookup_refuses_rebind_and_unbind_and_changes_nothing(
    make_bot: Callable[..., Harness], inject: Callable[[FakeSlack], None], reason: str
) -> None:
    bot = make_bot(BIND_ALLOWED_USERGROUPS="S0001")
    bot.slack.add_usergroup("S0001", ["U0001"])
    first = bot.bound_incident("Bound by a member")
    second = bot.new_incident("Never bound")

    inject(bot.slack)
    refused_rebind = bot.bind(second)
    inject(bot.slack)
    refused_unbind = bot.run("unbind")
    for reply in (refused_rebind, refused_unbind):
        assert "Binding is limited to certain user groups, and I couldn't check yours" in reply
        assert reason in reply
        assert REFERENCE.search(reply), reply
    assert "The channel was not bound." in refused_rebind
    assert "Nothing was changed." in refused_unbind
    assert first in status_of(bot)
    assert second not in [call.params["arn"] for call in bot.aws.calls_to("GetIncidentRecord")]


def test_notes_status_and_help_stay_open_to_everyone_and_never_consult_the_allow_list(
    make_bot: Callable[..., Harness],
) -> None:
    bot = make_bot(BIND_ALLOWED_USERS="U0002", BIND_ALLOWED_USERGROUPS="S0001")
    bot.slack.add_usergroup("S0001", ["U0002"])
    arn = bot.bound_incident("Open to all", user_id="U0002", user_name="bob")
    # Were notes gated by the allow-list, this failing lookup would refuse them.
    bot.slack.fail_next("usergroups.users.list", "missing_scope", times=50)
    lookups = len(bot.slack.calls_to("usergroups.users.list"))

    assert "Added a note" in bot.run("typed by a non-member", user_id="U0001")
    assert "Added a custom event" in bot.run("event also fine", user_id="U0003", user_name="carol")
    assert "Open to all" in status_of(bot, user_id="U0003")
    help_ack = bot.command("help", user_id="U0003")
    assert "/incident-note" in help_ack.ack_text and "aren't allowed" not in help_ack.ack_text
    ts = bot.slack.add_message("C0001", {"user": "U0002", "text": "pinned by a non-member"})
    assert bot.react(ts, user_id="U0003").status == 200
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)

    texts = sorted(bot.event_text(event).split("\n\n")[0] for event in bot.aws.events(arn))
    assert texts == ["also fine", "pinned by a non-member", "typed by a non-member"]
    assert len(bot.slack.calls_to("usergroups.users.list")) == lookups


# ------------------------------------------------------------------ (b) notes only from the bound channel


def test_a_note_from_another_unbound_channel_is_refused_and_reaches_no_incident(bot: Harness) -> None:
    arn = bot.bound_incident("Channel A incident", channel_id="C0001")
    reply = bot.run("meant for nowhere", channel_id="C0002")  # another channel
    assert "This channel isn't bound to an incident yet, so nothing was added." in reply
    assert HOW_TO_BIND in reply and "```meant for nowhere```" in reply
    # The same channel id in another workspace: refused outright, on the ack (one workspace).
    other = bot.command("meant for nowhere", team_id="T0002")
    assert "serves only the Slack workspace it is installed in" in other.ack.body
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.aws.events(arn) == []


def test_each_channel_writes_only_to_its_own_incident(bot: Harness) -> None:
    bot.slack.add_channel("C0002", "inc-payments")
    first = bot.bound_incident("Incident one", channel_id="C0001")
    second = bot.bound_incident("Incident two", channel_id="C0002")
    assert "Incident two" in bot.run("from channel B", channel_id="C0002")
    assert "Incident one" in bot.run("event from channel A", channel_id="C0001")
    # A pin in channel B lands on B's incident too.
    ts = bot.slack.add_message("C0002", {"user": "U0002", "text": "pinned in channel B"})
    bot.react(ts, channel_id="C0002", user_id="U0001")
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)

    assert [bot.event_text(e).split("\n\n")[0] for e in bot.aws.events(first)] == ["from channel A"]
    assert sorted(bot.event_text(e).split("\n\n")[0] for e in bot.aws.events(second)) == [
        "from channel B",
        "pinned in channel B",
    ]
    assert {
        call.params["incidentRecordArn"]
        for call in bot.aws.calls_to("CreateTimelineEvent")
        if "channel B" in json.loads(call.params["eventData"])
    } == {second}


def test_a_pin_or_shortcut_in_an_unbound_channel_reaches_no_incident(bot: Harness) -> None:
    arn = bot.bound_incident("Channel A incident", channel_id="C0001")
    ts = bot.slack.add_message("C0003", {"user": "U0002", "text": "elsewhere"})
    assert bot.react(ts, channel_id="C0003", user_id="U0001").status == 200
    message = next(m for m in bot.slack.messages("C0003") if m["ts"] == ts)
    result = bot.shortcut(message, channel_id="C0003")
    reply = bot.reply(result)
    assert "isn't bound to an incident" in reply and "/incident-note bind" in reply
    settle()
    assert bot.slack.calls_to("views.open") == []
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.aws.events(arn) == []


# ------------------------------------------------------------------ (c) forms re-checked at submit


@dataclass(frozen=True)
class OpenForm:
    view: dict[str, Any]
    typed: str
    # Where the person is told the outcome.
    replies: Callable[[], list[str]]
    submit: Callable[[], HttpResult]


def open_compose_form(bot: Harness) -> OpenForm:
    result = bot.command("")
    assert result.ack.status == 200 and result.ack.body == ""
    (call,) = bot.slack.wait_for_calls("views.open", 1, timeout=10)
    view = call.response["view"]
    typed = "typed into the compose form"

    def replies() -> list[str]:
        return [str(c.params["text"]) for c in bot.slack.wait_for_calls("chat.postEphemeral", 1, timeout=10)]

    return OpenForm(
        view, typed, replies, lambda: submit_view(bot, view, compose_values(typed, "Note", int(time.time())))
    )


def open_capture_form(bot: Harness) -> OpenForm:
    ts = bot.slack.add_message("C0001", {"user": "U0002", "text": "message to capture"})
    message = next(m for m in bot.slack.messages("C0001") if m["ts"] == ts)
    result = bot.shortcut(message)
    assert result.ack.status == 200 and result.ack.body == ""
    (call,) = bot.slack.wait_for_calls("views.open", 1, timeout=10)
    view = call.response["view"]
    typed = "edited in the capture form"

    def replies() -> list[str]:
        return [
            str(p.get("text", "")) for p in bot.slack.wait_for_responses(result.response_url, 1, timeout=15)
        ]

    def submit() -> HttpResult:
        payload = slack_requests.view_submission_payload(
            view, values=values_from_view(view, entry_text_input=typed)
        )
        body, headers = slack_requests.interactivity(bot.secret, payload)
        return bot.post(body, headers)

    return OpenForm(view, typed, replies, submit)


FORMS = {"compose": open_compose_form, "capture": open_capture_form}


# Re-binding under an open compose form is test_compose_e2e's test_binding_changed_while_the_form_was_open.
@pytest.mark.parametrize(
    ("form_name", "change"), [("compose", "unbind"), ("capture", "unbind"), ("capture", "rebind")]
)
def test_a_form_submitted_after_the_binding_changed_adds_nothing(
    bot: Harness, form_name: str, change: str
) -> None:
    first = bot.bound_incident("Form's incident")
    form = FORMS[form_name](bot)
    second = None
    if change == "unbind":
        assert "no longer bound" in bot.run("unbind")
    else:
        second = bot.bound_incident("Bound meanwhile")

    ack = form.submit()
    assert ack.status == 200 and ack.body == ""  # the form closes; the answer follows
    (reply,) = form.replies()
    if change == "unbind":
        assert "This channel isn't bound to an incident yet, so nothing was added." in reply
        assert HOW_TO_BIND in reply
    else:
        assert (
            "Nothing was added: while the form was open, this channel was bound to *Bound meanwhile*" in reply
        )
    assert f"```{form.typed}```" in reply  # given back
    settle()
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.aws.events(first) == []
    if second is not None:
        assert bot.aws.events(second) == []
    assert bot.slack.calls_to("reactions.add") == []  # the captured message is not marked


# ------------------------------------------------------------------ (e) signatures


Builder = Callable[[str, int | None], tuple[str, dict[str, str]]]


def _drop(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key.lower() != name.lower()}


def bad_variants(secret: str, build: Builder) -> dict[str, tuple[str, dict[str, str]]]:
    """Every way a request can fail the signature check, for one request."""
    body, headers = build(secret, None)
    changed_body = body.replace("U0001", "U0002", 1)
    assert changed_body != body
    return {
        "no signature headers": (body, slack_requests.unsigned(headers)),
        "signature missing": (body, _drop(headers, "X-Slack-Signature")),
        "timestamp missing": (body, _drop(headers, "X-Slack-Request-Timestamp")),
        "empty signature": (body, {**headers, "X-Slack-Signature": "v0="}),
        "tampered signature": (body, slack_requests.tampered(headers)),
        "body changed after signing": (changed_body, headers),
        "stale": build(secret, slack_requests.stale_timestamp()),
        "from the future": build(secret, int(time.time()) + slack_requests.MAX_AGE_SECONDS + 60),
        "wrong secret": build("not-the-signing-secret", None),
    }


def test_badly_signed_requests_of_every_kind_get_401_and_do_nothing(bot: Harness) -> None:
    bound = bot.bound_incident("Keep me")
    other = bot.new_incident("Never bound")
    ts = bot.slack.add_message("C0001", {"user": "U0001", "text": "worth pinning"})
    message = next(m for m in bot.slack.messages("C0001") if m["ts"] == ts)
    compose = open_compose_form(bot)
    settle(0.3)

    def slash(text: str) -> Builder:
        def build(secret: str, timestamp: int | None) -> tuple[str, dict[str, str]]:
            return slack_requests.slash_command(
                secret,
                text=text,
                response_url=bot.slack.new_response_url(),
                trigger_id=bot.slack.issue_trigger_id(),
                timestamp=timestamp,
            )

        return build

    def reaction(secret: str, timestamp: int | None) -> tuple[str, dict[str, str]]:
        event = slack_requests.reaction_added_event("U0001", "pushpin", "C0001", ts, "U0001")
        return slack_requests.event_callback(secret, event, timestamp=timestamp)

    def submission(secret: str, timestamp: int | None) -> tuple[str, dict[str, str]]:
        payload = slack_requests.view_submission_payload(
            compose.view, values=compose_values("forged note", "Note", int(time.time()))
        )
        return slack_requests.interactivity(secret, payload, timestamp=timestamp)

    def shortcut(secret: str, timestamp: int | None) -> tuple[str, dict[str, str]]:
        payload = slack_requests.message_shortcut_payload(
            message=message,
            trigger_id=bot.slack.issue_trigger_id(),
            response_url=bot.slack.new_response_url(),
        )
        return slack_requests.interactivity(secret, payload, timestamp=timestamp)

    def challenge(secret: str, timestamp: int | None) -> tuple[str, dict[str, str]]:
        return slack_requests.url_verification(secret, "challenge-U0001", timestamp=timestamp)

    requests: dict[str, Builder] = {
        "note": slash("forged note"),
        "bind": slash(f"bind {other}"),
        "unbind": slash("unbind"),
        "pin": reaction,
        "form submission": submission,
        "shortcut": shortcut,
        "url_verification": challenge,
    }
    slack_calls = len(bot.slack.calls)
    aws_calls = len(bot.aws.calls)
    responses = len(bot.slack.response_log)

    for kind, build in requests.items():
        for how, (body, headers) in bad_variants(bot.secret, build).items():
            result = bot.post(body, headers)
            assert result.status == 401, f"{kind}, {how}: {result}"
            assert "challenge" not in result.body and "U0001" not in result.body
    settle()

    assert len(bot.aws.calls) == aws_calls, bot.aws.calls[aws_calls:]
    assert len(bot.slack.calls) == slack_calls, [c.method for c in bot.slack.calls[slack_calls:]]
    assert len(bot.slack.response_log) == responses
    assert bot.aws.events(bound) == [] and bot.aws.events(other) == []
    status = status_of(bot)
    assert bound in status and other not in status

    # The same requests, signed properly, are served: only the signature was wrong.
    for build in (requests["note"], reaction, submission):
        body, headers = build(bot.secret, None)
        assert bot.post(body, headers).status == 200
    deadline = time.monotonic() + 10
    while len(bot.aws.events(bound)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bot.aws.events(bound)) == 3


# ------------------------------------------------------------------ (d) secrets, through `python -m bot`

# Values chosen to survive form- and URL-encoding unchanged, and to match no token shape: only the list
# `python -m bot` hands to the log formatter can hide them.
SIGNING_SECRET = "sIgNiNg-S3cr3t-7f3e9a1c"
AWS_SECRET_ACCESS_KEY = "aWs-S3cr3t-K3y-0d9c8b7a"
AWS_SESSION_TOKEN = "aWs-S3ss10n-T0k3n-5e4f3a2b"
APP_TOKEN = DEFAULT_APP_TOKEN  # what FakeSlack accepts on apps.connections.open
SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN,
}


def _process_env(
    fake_slack: FakeSlack, fake_aws: FakeIncidentManager, db: Path, **extra: str
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "AWS_", "BIND_", "DATABASE_", "LOG_", "TIMELINE_"))
        and key.lower() not in ("http_proxy", "https_proxy", "port")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=f"sqlite:///{db}",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL_SSM_INCIDENTS=fake_aws.endpoint_url,
        AWS_ACCESS_KEY_ID="AKIDSAFETYTEST",
        AWS_SECRET_ACCESS_KEY=AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN=AWS_SESSION_TOKEN,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(db.parent / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(db.parent / "no-aws-credentials"),
        LOG_LEVEL="DEBUG",  # everything any library would log
    )
    env.update(extra)
    return env


@dataclass
class BotProcess:
    process: subprocess.Popen[str]
    url: str
    log: Path  # stderr goes to a file: a pipe nobody reads would block a chatty bot once its buffer is full

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log.read_text()


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def start(env: dict[str, str], wait_healthy: bool = True) -> BotProcess:
        port = free_port()
        log = tmp_path / f"bot-{len(started)}.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=tmp_path,
                env={**env, "PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        bot = BotProcess(process, f"http://127.0.0.1:{port}", log)
        started.append(bot)
        deadline = time.monotonic() + 20
        while wait_healthy:
            if process.poll() is not None:
                pytest.fail(f"bot exited: {bot.stop()}")
            try:
                if http("GET", bot.url + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"bot never became healthy: {bot.stop()}")
            time.sleep(0.05)
        return bot

    yield start
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()


def log_entries(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr, each of which must be one JSON object."""
    entries = []
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def everything_said(fake_slack: FakeSlack, acks: list[str]) -> str:
    """All the bot said to anyone: acks, response_url posts and every Web API call's parameters."""
    said = list(acks)
    said += [json.dumps(payload) for payload in fake_slack.all_responses()]
    said += [json.dumps(call.params) for call in fake_slack.calls]
    return "\n".join(said)


def assert_no_secret(where: str, text: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    assert leaked == [], f"{', '.join(leaked)} found in {where}"


def test_no_secret_reaches_the_logs_or_any_reply_and_failures_are_findable_by_reference(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_aws: FakeIncidentManager,
    start_process: Callable[..., BotProcess],
) -> None:
    fake_slack.add_usergroup("S0001", ["U0001"])
    bot = start_process(
        _process_env(fake_slack, fake_aws, tmp_path / "bot.db", BIND_ALLOWED_USERGROUPS="S0001")
    )
    acks: list[str] = []
    replies: list[str] = []

    def command(text: str, *, expect_reply: bool = True, **fields: Any) -> str:
        response_url = fake_slack.new_response_url()
        body, headers = slack_requests.slash_command(
            SIGNING_SECRET,
            text=text,
            response_url=response_url,
            trigger_id=fields.pop("trigger_id", None) or fake_slack.issue_trigger_id(),
            **fields,
        )
        result = http("POST", bot.url + "/slack/events", body, headers)
        assert result.status == 200, result
        acks.append(result.body)
        if not expect_reply:
            return result.body
        (reply,) = fake_slack.wait_for_responses(response_url, 1, timeout=20)
        replies.append(str(reply["text"]))
        return replies[-1]

    first = fake_aws.add_incident(title="Secrets incident")
    second = fake_aws.add_incident(title="Second incident")
    assert "now bound" in command(f"bind {first}")
    assert "Added a note" in command("a note that lands")
    # Failures from AWS, on both operations the bot calls.
    fake_aws.fail_next("CreateTimelineEvent", "AccessDeniedException")
    assert "isn't allowed to call `ssm-incidents:CreateTimelineEvent`" in command("refused by AWS")
    fake_aws.fail_next("GetIncidentRecord", "AccessDeniedException")
    assert "isn't allowed to call `ssm-incidents:GetIncidentRecord`" in command(f"bind {second}")
    # Failures from Slack: the user-group lookup, the form's trigger, the announcement.
    fake_slack.fail_next("usergroups.users.list", "missing_scope")
    assert "couldn't check yours" in command(f"bind {second}")
    expired = fake_slack.issue_trigger_id()
    fake_slack.expire_trigger_id(expired)
    assert "Slack took too long to open the form" in command("", trigger_id=expired)
    fake_slack.fail_next("chat.postMessage", "not_in_channel")
    assert "couldn't announce the binding" in command(f"bind {second}")
    assert "Second incident" in command("status")
    help_ack = command("help", expect_reply=False)
    assert "/incident-note" in help_ack

    # Requests that fail the signature check: a secret inside one must not reach the log. Each kind of
    # body: form, JSON (Events API), and interactivity's payload=.
    carried = " ".join(SECRETS.values())
    event = slack_requests.reaction_added_event("U0001", "pushpin", "C0001", "1764150000.000100", "U0002")
    event["item"]["note"] = carried
    shortcut = slack_requests.message_shortcut_payload(
        message_text=carried,
        trigger_id=fake_slack.issue_trigger_id(),
        response_url=fake_slack.new_response_url(),
    )
    for body, headers in (
        slack_requests.slash_command(
            SIGNING_SECRET, text=carried, response_url=fake_slack.new_response_url(), trigger_id="1.2.3"
        ),
        slack_requests.event_callback(SIGNING_SECRET, event),
        slack_requests.interactivity(SIGNING_SECRET, shortcut),
    ):
        assert all(value in body for value in SECRETS.values())
        refused = http("POST", bot.url + "/slack/events", body, slack_requests.tampered(headers))
        assert refused.status == 401
        acks.append(refused.body)

    stderr = bot.stop()
    assert bot.process.returncode == 0, stderr
    entries = log_entries(stderr)
    assert_no_secret("the log", stderr)
    # Each refusal was logged (so the log is this run's), as one short line without the body: not even the
    # deprecated verification token Slack puts in every payload.
    refused_logs = [e for e in entries if e.get("message") == "unsigned request refused"]
    assert len(refused_logs) == 3, refused_logs
    assert not [e for e in entries if "Invalid request signature" in str(e.get("message"))]
    assert slack_requests.VERIFICATION_TOKEN not in stderr

    assert_no_secret("what the bot said", everything_said(fake_slack, acks))

    # Every failure reply's reference is in a log line's "reference" field.
    references = [match for reply in replies for match in REFERENCE.findall(reply)]
    assert len(references) == 5, replies  # AWS x2, user group lookup, form trigger, announcement
    logged = {str(e["reference"]) for e in entries if "reference" in e}
    assert set(references) <= logged, (references, logged)


def test_no_secret_reaches_the_logs_in_socket_mode(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_aws: FakeIncidentManager,
    start_process: Callable[..., BotProcess],
) -> None:
    env = _process_env(fake_slack, fake_aws, tmp_path / "bot.db", SLACK_APP_TOKEN=APP_TOKEN)
    bot = start_process(env, wait_healthy=False)
    fake_slack.wait_for_socket_connection(timeout=20)
    replies: list[str] = []

    def command(text: str) -> str:
        response_url = fake_slack.new_response_url()
        body, _ = slack_requests.slash_command(
            SIGNING_SECRET, text=text, response_url=response_url, trigger_id=fake_slack.issue_trigger_id()
        )
        envelope = fake_slack.send_envelope(
            "slash_commands", dict(parse_qsl(body, keep_blank_values=True)), accepts_response_payload=True
        )
        fake_slack.wait_for_ack(envelope, timeout=5)
        (reply,) = fake_slack.wait_for_responses(response_url, 1, timeout=20)
        replies.append(str(reply["text"]))
        return replies[-1]

    assert "now bound" in command(f"bind {fake_aws.add_incident(title='Socket incident')}")
    assert "Added a note" in command("over the socket")
    fake_aws.fail_next("CreateTimelineEvent", "AccessDeniedException")
    assert "isn't allowed to call" in command("refused over the socket")

    stderr = bot.stop()
    assert bot.process.returncode == 0, stderr
    entries = log_entries(stderr)
    assert any("Socket Mode" in str(e.get("message")) for e in entries)  # the log is really this run's
    assert_no_secret("the log", stderr)
    acks = [json.dumps(envelope.ack) for envelope in fake_slack.envelopes()]
    assert_no_secret("what the bot said", everything_said(fake_slack, acks))
    (reference,) = REFERENCE.findall(replies[-1])
    assert reference in {str(e.get("reference")) for e in entries}
