"""Use cases: what the bot does, on the pure domain, through small ports (no Slack, AWS or HTTP SDK)."""
