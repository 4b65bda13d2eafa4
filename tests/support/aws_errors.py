"""CreateTimelineEvent failures injected by the end-to-end tests, and what the person must read for each.

Refusals are definite answers about the entry: (error code, a phrase of the reply); it is not retried.
Outages are worth retrying: (error code, a phrase of the "saved, queued" reply); they refuse every
attempt of the first try, so the entry is queued, and the background retry then lands it.
"""

from __future__ import annotations

CREATE_TIMELINE_EVENT_REFUSALS = [
    ("AccessDeniedException", 1, "isn't allowed to call `ssm-incidents:CreateTimelineEvent`"),
    ("ValidationException", 1, "Incident Manager rejected the request"),
    ("ConflictException", 1, "refused it as a repeat of an earlier request"),
    ("ResourceNotFoundException", 1, "no longer exists in Incident Manager"),
]

# botocore's attempts per call: an outage that refuses all of them gets the entry queued.
FIRST_TRY_ATTEMPTS = 3

CREATE_TIMELINE_EVENT_OUTAGES = [
    ("ThrottlingException", "Incident Manager is throttling requests right now"),
    ("InternalServerException", "Incident Manager is having internal errors right now"),
    ("ServiceUnavailableException", "Incident Manager is having internal errors right now"),
]

QUEUED = "saved but not on the timeline yet"
LANDED_LATER = "Now on the timeline"
