"""The baseline: a bare Bolt AsyncApp whose `/incident-note` handler only acks, served like the bot.

Same Bolt middleware chain (request signature check, single-team authorization with a cached
auth.test), same aiohttp adapter and same `process_before_response=False` as the bot, but no deps
middleware and no work after the ack.  Run by bench.ack_latency as
`python -m bench.bare_app --port P` with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and SLACK_API_URL in
the environment; listens on 127.0.0.1 only; stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

BOLT_APP_KEY = web.AppKey("bolt_app", AsyncApp)


def build_bolt_app(signing_secret: str, bot_token: str, api_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=bot_token, base_url=api_url),
        signing_secret=signing_secret,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.command("/incident-note")
    async def incident_note(ack: AsyncAck) -> None:
        await ack()

    return app


async def slack_events(request: web.Request) -> web.Response:
    bolt_response = await request.app[BOLT_APP_KEY].async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(bolt_response)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def web_app(bolt_app: AsyncApp) -> web.Application:
    application = web.Application()
    application[BOLT_APP_KEY] = bolt_app
    application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


async def serve(port: int, bolt_app: AsyncApp) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(web_app(bolt_app), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        bolt_app = build_bolt_app(
            os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_API_URL"]
        )
    except KeyError as missing:
        print(f"bench.bare_app needs {missing} in the environment", file=sys.stderr)
        return 2
    asyncio.run(serve(args.port, bolt_app))
    return 0


if __name__ == "__main__":
    sys.exit(main())
