"""`python -m bot`: read configuration, then serve until stopped. `python -m bot migrate`: bring the
database's schema up to date and stop (serving does it too, at start)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings
from bot.logs import configure_logging
from bot.server import serve
from bot.slack.identity import TokenRejected
from bot.store import StoreUnavailable, migrate_database, validate_database_url

USAGE = "usage: python -m bot [migrate]"


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
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        # e.g. the port is taken or the database folder is not writable: one line, no traceback.
        print(f"Cannot start: {error.strerror or error}", file=sys.stderr)
        return 1
    except (TokenRejected, StoreUnavailable) as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 1
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


if __name__ == "__main__":
    sys.exit(main())
