"""`python -m bot`: read configuration, then serve until stopped. `python -m bot migrate`: bring the
database's schema up to date and stop (serving does it too, at start)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from pathlib import Path

from dotenv import load_dotenv

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings
from bot.logs import configure_logging
from bot.server import CannotListen, serve
from bot.slack.identity import TokenRejected
from bot.store import StoreUnavailable, migrate_database, validate_database_url

USAGE = "usage: python -m bot [migrate]"

logger = logging.getLogger("bot")

# Worker threads that finish on their own once the stop has closed what they serve get this long, together.
EXIT_JOIN_SECONDS = 0.3
# slack_sdk's Web API client logs "A retry handler found: …" when its logger's *own* level is unset (it
# checks `logger.level`, not the effective level): a DEBUG notice that otherwise opens the log at INFO
# whenever Slack is unreachable. Setting the level explicitly keeps it for LOG_LEVEL=DEBUG only.
_SLACK_SDK_CLIENT_LOGGER = "slack_sdk.web.async_base_client"


def main(argv: list[str] | None = None) -> int:
    # .env in the working directory, if any; real environment variables win.
    load_dotenv(Path.cwd() / ".env", override=False)
    args = sys.argv[1:] if argv is None else argv
    if args == ["migrate"]:
        return migrate()
    if args:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    secrets = [
        value
        for value in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
            os.environ.get("AWS_SESSION_TOKEN"),
        )
        if value
    ]
    configure_logging(settings.log_level, secrets)
    logging.getLogger(_SLACK_SDK_CLIENT_LOGGER).setLevel(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except CannotListen as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        # e.g. the database folder is not writable: one line, no traceback.
        print(f"Cannot start: {error.strerror or error}", file=sys.stderr)
        return 1
    except (TokenRejected, StoreUnavailable) as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 1
    _leave_stuck_threads()
    return 0


def migrate() -> int:
    """Only DATABASE_URL is needed: a deploy step can run it without the Slack or AWS settings."""
    database_url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    if (problem := validate_database_url(database_url)) is not None:
        print(f"Configuration error: {problem}.", file=sys.stderr)
        return 2
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    configure_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    try:
        print(asyncio.run(migrate_database(database_url)))
    except StoreUnavailable as error:
        print(f"Cannot migrate: {error}", file=sys.stderr)
        return 1
    return 0


def _leave_stuck_threads() -> None:
    """Exit now, even if a worker thread is still blocked (a boto3 call Incident Manager never answers).

    The interpreter's exit joins every ThreadPoolExecutor worker (concurrent.futures' exit hook), so one
    such call would keep the process up for its whole time budget (about 45 s with the defaults), past
    Docker's 10 s grace. By now the stop has closed the store and stopped waiting for those calls: their
    answers have nowhere to go, and their entries are pending in the store with their tokens, resent by the
    next run. So after a short join the process leaves them behind with os._exit, logs flushed first.
    (Daemon workers instead would need a hand-made executor, and the interpreter's teardown under running
    daemon threads is what Python's docs warn against.)"""
    deadline = time.monotonic() + EXIT_JOIN_SECONDS
    for thread in _workers():
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread for thread in _workers() if thread.is_alive()]
    if not stuck:
        return
    logger.warning(
        "exiting without waiting for worker threads still blocked (an AWS call not answering); what they "
        "were sending stays pending in the store for the next run",
        extra={"threads": ", ".join(thread.name for thread in stuck)},
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _workers() -> list[threading.Thread]:
    current = threading.current_thread()
    return [thread for thread in threading.enumerate() if thread is not current and not thread.daemon]


if __name__ == "__main__":
    sys.exit(main())
