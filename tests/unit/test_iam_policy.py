"""deploy/iam-policy.json grants exactly the Incident Manager actions the gateway calls, each on the
resource its IAM action takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
POLICY = json.loads((ROOT / "deploy" / "iam-policy.json").read_text())
MODEL = botocore.session.get_session().get_service_model("ssm-incidents")
INCIDENT_RECORDS = "arn:aws:ssm-incidents:*:<ACCOUNT_ID>:incident-record/*"


def _operations_called() -> set[str]:
    source = (ROOT / "bot" / "aws" / "incidents.py").read_text()
    methods = set(re.findall(r'_call\(\s*"(\w+)"', source))
    by_method = {xform_name(name): name for name in MODEL.operation_names}
    assert methods <= set(by_method), methods - set(by_method)
    return {by_method[method] for method in methods}


def _granted() -> dict[str, str]:
    granted: dict[str, str] = {}
    for statement in POLICY["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            granted[action.removeprefix("ssm-incidents:")] = statement["Resource"]
    return granted


def test_the_policy_grants_exactly_what_the_gateway_calls() -> None:
    assert set(_granted()) == _operations_called()
    assert _operations_called() == {
        "GetIncidentRecord",
        "CreateTimelineEvent",
        "UpdateTimelineEvent",
        "DeleteTimelineEvent",
        "ListIncidentRecords",
        "ListTimelineEvents",
        "GetTimelineEvent",
        "ListRelatedItems",
        "UpdateRelatedItems",
    }


def test_only_list_incident_records_takes_no_resource() -> None:
    granted = _granted()
    assert granted.pop("ListIncidentRecords") == "*"
    assert set(granted.values()) == {INCIDENT_RECORDS}


def test_the_readme_names_every_granted_action() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## AWS permissions", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`ssm-incidents:(\w+)`", section))
    assert named == set(_granted())
