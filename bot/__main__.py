"""`python -m bot`: read configuration, then serve until stopped."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.config import ConfigError, load_settings
from bot.logs import configure_logging
from bot.server import serve
from bot.slack.identity import TokenRejected


def main() -> int:
    # .env in the working directory, if any; real environment variables win.
    load_dotenv(Path.cwd() / ".env", override=False)
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
    except TokenRejected as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 1
    except sqlite3.Error as error:
        print(f"Cannot open the database named by DATABASE_URL: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
