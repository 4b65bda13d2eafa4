"""Pure domain: what a timeline entry is, its text, time and token. No Slack, no AWS."""
