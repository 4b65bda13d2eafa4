"""The seeded workspace's identities, and the limits Slack documents (or the fake chose)."""

from __future__ import annotations

DEFAULT_BOT_TOKEN = "xoxb-test-token"
DEFAULT_APP_TOKEN = "xapp-test-token"
TEAM_ID = "T0001"
TEAM_NAME = "Acme"
TEAM_DOMAIN = "acme"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0001"
WORKSPACE_URL = "https://fake.slack.com/"

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
VIEW_MAX_BYTES = 250 * 1024
VIEW_STACK_LIMIT = 3

SOCKET_MODE_PATH = "/socket-mode/"
SOCKET_ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive"})
SOCKET_DISCONNECT_REASONS = frozenset({"refresh_requested", "warning", "link_disabled"})
# What a real hello reported (slack-go's captured fixture): Slack refreshes after about 5 hours.
SOCKET_APPROXIMATE_CONNECTION_TIME = 18060
SOCKET_CLOSE_TIMEOUT = 2.0  # how long a server-side close waits for the app's close frame
SOCKET_SEND_TIMEOUT = 5.0
