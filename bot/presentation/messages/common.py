"""The pieces every reply is made of. Slack mrkdwn; text from people is always escaped."""

from __future__ import annotations

from datetime import datetime

from bot.domain.slack_text import escape_markup
from bot.presentation.ids import COMMAND

# Slack reads a raw "<" as the start of a link or mention, even inside `code`: placeholders are escaped.
TEXT = "&lt;text&gt;"
ARN = "&lt;incident-record-arn&gt;"
BIND_FORM = f"`{COMMAND} bind {ARN}`"
# How to bind, as every "not bound" reply says it.
PICK_FORM = f"`{COMMAND} bind`"
BIND_HOW = f"Bind it with {BIND_FORM}, or with {PICK_FORM} alone to pick the incident from the open ones"

# The one escape (the domain's): user text can never become a mention or a link.
escape = escape_markup

IMPACT_NAMES = {1: "Critical", 2: "High", 3: "Medium", 4: "Low", 5: "No impact"}


def link(url: str, label: str) -> str:
    return f"<{url}|{escape(label).replace('|', '¦')}>"


def quoted(text: str) -> str:
    return "\n".join("> " + line for line in escape(text).split("\n"))


def your_text(text: str) -> str:
    """The person's own words, given back so nothing they typed is lost."""
    if not text.strip():
        return ""
    safe = escape(text).replace("```", "'''")
    return f"\nHere is your text so you can send it again:\n```{safe}```"


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def incident_label(status: str, impact: int | None) -> str:
    label = escape(status)
    if impact is not None:
        label += f", impact {impact} ({IMPACT_NAMES.get(impact, 'unknown')})"
    return label


def impact_name(impact: int | None) -> str:
    return IMPACT_NAMES.get(impact, "unknown impact") if impact is not None else "impact not set"


def slack_date(moment: datetime) -> str:
    """A time Slack shows in each reader's own timezone; the fallback (old clients) is UTC."""
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time_secs}}|{utc(moment)}>"


def with_reference(text: str, reference: str) -> str:
    return f"{text}\n_Reference: {reference}_"
