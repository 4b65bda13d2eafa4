import pytest

from bot.domain.arn import (
    IncidentPath,
    InvalidIncidentArn,
    parse_incident_record_arn,
    parse_incident_reference,
)

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/db-plan/6ebcc812-85f5-b7eb-8b2f-283e4d844308"


def test_parses_and_round_trips() -> None:
    parsed = parse_incident_record_arn(f"  `{ARN}` ")
    assert str(parsed) == ARN
    assert parsed.account == "111122223333"
    assert parsed.response_plan == "db-plan"


def test_console_url_uses_region_and_partition() -> None:
    url = parse_incident_record_arn(ARN).console_url("eu-west-1")
    assert url.startswith(
        "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home?region=eu-west-1#"
    )
    assert "db-plan/6ebcc812" in url
    gov = parse_incident_record_arn(ARN.replace("arn:aws:", "arn:aws-us-gov:")).console_url("us-gov-west-1")
    assert "console.amazonaws-us-gov.com" in gov


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("not-an-arn", "not an ARN"),
        ("arn:aws:s3:::bucket/key", "s3 service"),
        ("arn:aws:ssm-incidents::111122223333:response-plan/db-plan", "response-plan"),
        ("arn:aws:ssm-incidents:eu-west-1:111122223333:incident-record/p/i", "empty region"),
        ("arn:aws:ssm-incidents::1111:incident-record/p/i", "12 digits"),
        ("arn:aws:ssm-incidents::111122223333:incident-record/only-plan", "incident-record/<response-plan>"),
        ("", "no ARN"),
    ],
)
def test_rejections_say_why(text: str, reason_part: str) -> None:
    with pytest.raises(InvalidIncidentArn) as raised:
        parse_incident_record_arn(text)
    assert reason_part in raised.value.reason


def test_slack_link_brackets_around_an_arn_are_removed() -> None:
    assert str(parse_incident_record_arn(f"<{ARN}|{ARN}>")) == ARN
    assert str(parse_incident_record_arn(f"'{ARN}'")) == ARN


CONSOLE = (
    "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home?region=eu-west-1"
    "#/incidents/db-plan/6ebcc812-85f5-b7eb-8b2f-283e4d844308"
)


def test_bind_takes_the_arn_the_console_address_or_plan_slash_id() -> None:
    assert str(parse_incident_reference(ARN)) == ARN
    expected = IncidentPath("db-plan", "6ebcc812-85f5-b7eb-8b2f-283e4d844308")
    assert parse_incident_reference(CONSOLE) == expected
    # As Slack sends a pasted link (in brackets, & escaped), and the bot's own console link.
    assert parse_incident_reference(f"<{CONSOLE.replace('?', '?x=1&amp;')}>") == expected
    assert parse_incident_reference(parse_incident_record_arn(ARN).console_url("eu-west-1")) == expected
    assert parse_incident_reference("db-plan/6ebcc812-85f5-b7eb-8b2f-283e4d844308") == expected
    assert (
        parse_incident_reference("incident-record/db-plan/6ebcc812-85f5-b7eb-8b2f-283e4d844308") == expected
    )
    assert expected.names(ARN) and not IncidentPath("db-plan", "6ebcc812").names(ARN)


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("https://example.com/incidents/db-plan/abc", "not to the AWS console"),
        ("https://console.aws.amazon.com.evil.example/incidents/p/i", "not to the AWS console"),
        ("https://eu-west-1.console.aws.amazon.com/systems-manager/home", "not to an incident's page"),
        ("db-plan", "not an ARN, nor the incident's console address or its plan/id"),
        ("a/b/c/d", "not an ARN"),
    ],
)
def test_what_bind_cannot_read_is_named(text: str, reason_part: str) -> None:
    with pytest.raises(InvalidIncidentArn) as raised:
        parse_incident_reference(text)
    assert reason_part in raised.value.reason
