"""``python -m tests.fakes.incident_manager --port 4566 --incident "Title"`` (see ``cli.main``)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
