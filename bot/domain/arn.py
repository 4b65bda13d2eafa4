"""Incident record ARNs: parsing, validation and the console link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

# Incident Manager ARNs carry an empty region: arn:aws:ssm-incidents::111122223333:incident-record/plan/id
_ARN_SHAPE = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]*):(?P<region>[a-z0-9-]*):"
    r"(?P<account>[^:]*):(?P<resource>.+)$"
)
_ACCOUNT = re.compile(r"^[0-9]{12}$")
# Response plan names: letters, digits, _ and -, up to 200; record ids are UUID-like.
_RECORD_RESOURCE = re.compile(
    r"^incident-record/(?P<plan>[A-Za-z0-9_-]{1,200})/(?P<record>[A-Za-z0-9-]{1,64})$"
)

# What people paste besides the ARN: the incident's `plan/id` (also as `incident-record/plan/id`), and the
# incident's page in the console, whose fragment is `/incidents/<plan>/<id>` (see `console_url`).
_BARE_PATH = re.compile(
    r"^(?:incident-record/)?(?P<plan>[A-Za-z0-9_-]{1,200})/(?P<record>[A-Za-z0-9-]{1,64})$"
)
_CONSOLE_INCIDENT = re.compile(
    r"/incidents/(?:details/)?(?P<plan>[A-Za-z0-9_-]{1,200})/(?P<record>[A-Za-z0-9-]{1,64})(?:[/?].*)?$"
)

_CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


class InvalidIncidentArn(ValueError):
    """The text is not an incident record ARN; `reason` says why in words a responder understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IncidentRecordArn:
    partition: str
    account: str
    response_plan: str
    record_id: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:ssm-incidents::{self.account}:incident-record/{self.response_plan}/{self.record_id}"

    def console_url(self, region: str | None) -> str:
        """Deep link to the incident in the AWS console (the console needs the replication region)."""
        host = _CONSOLE_HOSTS[self.partition]
        if region:
            host = f"{region}.{host}"
        query = f"?region={region}" if region else ""
        fragment = quote(f"/incidents/{self.response_plan}/{self.record_id}", safe="/")
        return f"https://{host}/systems-manager/incidents/home{query}#{fragment}"


_DECORATIONS = {("`", "`"), ('"', '"'), ("'", "'"), ("<", ">")}


def _strip_decoration(text: str) -> str:
    # People paste ARNs in backticks, quotes or Slack's <...> link brackets. Indices, not slices, so
    # thousands of nested brackets cost linear time, not a copy per layer.
    start, end = 0, len(text)

    def strip() -> None:
        nonlocal start, end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1

    strip()
    while end - start >= 2 and (text[start], text[end - 1]) in _DECORATIONS:
        opening = text[start]
        start, end = start + 1, end - 1
        if opening == "<":
            # Slack's <target|label>: the target is what was pasted.
            pipe = text.find("|", start, end)
            if pipe != -1:
                end = pipe
        strip()
    return text[start:end]


@dataclass(frozen=True)
class IncidentPath:
    """An incident named without its account, as the console's address and `plan/id` name it. The
    account comes from the open incidents the bot can list (only an open incident can be bound)."""

    response_plan: str
    record_id: str

    def __str__(self) -> str:
        return f"{self.response_plan}/{self.record_id}"

    def names(self, arn: str) -> bool:
        return arn.endswith(f":incident-record/{self.response_plan}/{self.record_id}")


IncidentReference = IncidentRecordArn | IncidentPath


def parse_incident_reference(text: str) -> IncidentReference:
    """What `bind` accepts: the incident record ARN, the incident's console address, or its `plan/id`.
    Raise InvalidIncidentArn saying what is wrong."""
    candidate = _strip_decoration(text).replace("&amp;", "&")
    if candidate.startswith("arn:") or not candidate:
        return parse_incident_record_arn(candidate)
    if candidate.startswith(("https://", "http://")):
        return _console_reference(candidate)
    bare = _BARE_PATH.match(candidate)
    if bare is not None:
        return IncidentPath(bare["plan"], bare["record"])
    raise InvalidIncidentArn(_NOT_A_REFERENCE)


_NOT_A_REFERENCE = (
    "it is not an ARN, nor the incident's console address or its plan/id (an incident record ARN looks "
    "like arn:aws:ssm-incidents::111122223333:incident-record/plan-name/id)"
)


def _console_reference(url: str) -> IncidentPath:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not any(host == known or host.endswith("." + known) for known in _CONSOLE_HOSTS.values()):
        raise InvalidIncidentArn("it is a link, but not to the AWS console")
    found = _CONSOLE_INCIDENT.search(unquote(parts.fragment)) or _CONSOLE_INCIDENT.search(unquote(parts.path))
    if found is None:
        raise InvalidIncidentArn(
            "it is a link to the AWS console, but not to an incident's page (open the incident and copy "
            "the address, or its ARN)"
        )
    return IncidentPath(found["plan"], found["record"])


def parse_incident_record_arn(text: str) -> IncidentRecordArn:
    """Parse an incident record ARN or raise InvalidIncidentArn saying precisely what is wrong."""
    candidate = _strip_decoration(text)
    if not candidate:
        raise InvalidIncidentArn("no ARN was given")
    match = _ARN_SHAPE.match(candidate)
    if match is None:
        raise InvalidIncidentArn(
            "it is not an ARN (an incident record ARN looks like "
            "arn:aws:ssm-incidents::111122223333:incident-record/plan-name/id)"
        )
    service, resource = match["service"], match["resource"]
    if service != "ssm-incidents":
        raise InvalidIncidentArn(
            f"it is an ARN of the {service or 'unnamed'} service, not of Incident Manager"
        )
    resource_type = resource.split("/", 1)[0].split(":", 1)[0]
    if resource_type != "incident-record":
        raise InvalidIncidentArn(
            f"it is the ARN of a {resource_type}, not of an incident record "
            "(open the incident in the console and copy its ARN)"
        )
    if match["region"]:
        raise InvalidIncidentArn("incident record ARNs have an empty region (…:ssm-incidents::account:…)")
    if not _ACCOUNT.match(match["account"]):
        raise InvalidIncidentArn("its account id must be 12 digits")
    record = _RECORD_RESOURCE.match(resource)
    if record is None:
        raise InvalidIncidentArn("it must end in incident-record/<response-plan>/<incident-id>")
    return IncidentRecordArn(
        partition=match["partition"],
        account=match["account"],
        response_plan=record["plan"],
        record_id=record["record"],
    )


def console_url(arn: str, region: str | None) -> str:
    """The console link for a stored (already validated) incident record ARN."""
    return parse_incident_record_arn(arn).console_url(region)
