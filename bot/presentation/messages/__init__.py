"""Every sentence the bot says to a person, in one place, by topic: `common` (the pieces every reply is
made of), `help`, `entries` (added, queued, landed), `binding` (and the picker), `capture` (the
shortcut's form), `timeline` (`/incident-note timeline`) and `problems` (every failure, in one shape:
`Failure`). Slack mrkdwn; text from people is always escaped."""
