"""CreateTimelineEvent refusals injected by the end-to-end tests, and what the person must read for each:
(error code, how many times in a row, a phrase of the reply). Retryable ones refuse every attempt."""

from __future__ import annotations

CREATE_TIMELINE_EVENT_REFUSALS = [
    ("ThrottlingException", 3, "Incident Manager is throttling requests right now"),
    ("AccessDeniedException", 1, "isn't allowed to call `ssm-incidents:CreateTimelineEvent`"),
    ("ValidationException", 1, "Incident Manager rejected the request"),
    ("ConflictException", 1, "refused it as a repeat of an earlier request"),
    ("InternalServerException", 3, "Incident Manager had an internal error"),
    ("ResourceNotFoundException", 1, "no longer exists in Incident Manager"),
]
