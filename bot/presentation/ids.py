"""Every Slack id the bot defines: its command, callback ids and block/action ids. The manifest, the
listeners and the views all name them from here."""

from __future__ import annotations

from enum import StrEnum

COMMAND = "/incident-note"


class CallbackId(StrEnum):
    """Message shortcuts (in manifest.yml) and the modals the bot opens."""

    ADD_TO_TIMELINE = "add_to_timeline"
    ADD_THREAD_TO_TIMELINE = "add_thread_to_timeline"
    # The modal that shows a thread going in (no inputs, nothing to submit).
    THREAD_PROGRESS = "thread_progress"
    COMPOSE = "compose_timeline_entry"
    CAPTURE = "capture_timeline_entry"
    BIND_PICKER = "bind_incident_picker"


class BlockId(StrEnum):
    TYPE = "entry_type"
    TEXT = "entry_text"
    TIME = "entry_time"
    INCIDENT = "incident_choice"


class ActionId(StrEnum):
    TYPE = "entry_type_choice"
    TEXT = "entry_text_input"
    TIME = "entry_time_picker"
    # The picker's menu: every open incident when they fit one menu, else a search (app.options).
    INCIDENT = "incident_select"
    INCIDENT_SEARCH = "incident_search"
    # The "More" button under a `timeline` reply.
    TIMELINE_MORE = "timeline_more"
    # The "Undo" button under the confirmation of an added entry (its value: the entry's client token).
    UNDO_ENTRY = "undo_entry"
