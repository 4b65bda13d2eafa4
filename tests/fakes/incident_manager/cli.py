"""``python -m tests.fakes.incident_manager``: run the fake in the foreground, holding its state (incidents,
timeline events, related items) for as long as it runs: an Incident Manager to try the bot against
without AWS (README: "Try it without AWS")."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from .fake import FakeIncidentManager


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.incident_manager",
        description="Run the fake AWS Incident Manager in the foreground (Ctrl-C to stop).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument(
        "--incident",
        "--seed",
        dest="incidents",
        action="append",
        default=[],
        metavar="TITLE",
        help="start an OPEN incident with this title (repeatable); its ARN is printed on stdout",
    )
    parser.add_argument("--impact", type=int, default=2, choices=range(1, 6), help="their impact (default 2)")
    parser.add_argument("--region", default=None, help="only accept requests signed for this region")
    parser.add_argument(
        "--credentials",
        action="append",
        default=[],
        metavar="AKID:SECRET",
        help="verify SigV4 signatures and accept only these keys (default: any key, signature unchecked)",
    )
    args = parser.parse_args(argv)
    credentials = dict(pair.split(":", 1) for pair in args.credentials) if args.credentials else None
    fake = FakeIncidentManager(host=args.host, port=args.port, region=args.region, credentials=credentials)
    fake.start()
    try:
        print(f"fake ssm-incidents listening on {fake.endpoint_url}", file=sys.stderr, flush=True)
        print(f"export AWS_ENDPOINT_URL_SSM_INCIDENTS={fake.endpoint_url}", file=sys.stderr, flush=True)
        for title in args.incidents:
            arn = fake.add_incident(title, impact=args.impact)
            # As Incident Manager starts its own timeline: an event of its own type, its data an object.
            trigger = {"title": title, "impact": args.impact, "source": "aws.ssm-incidents.custom"}
            fake.add_event(arn, "SSM Incident Trigger", json.dumps(trigger))
            print(arn, flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(1):
                pass
    finally:
        fake.stop()
    return 0
