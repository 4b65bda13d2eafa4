"""A faithful fake of AWS Systems Manager Incident Manager (``ssm-incidents``) over real HTTP.

The fake is driven by botocore's own service model: every modeled operation is routed by
``http.method`` + ``http.requestUri``, its request is deserialized the way the rest-json protocol
serializes it and validated against the input shape (required members, types, lengths, counts,
ranges, patterns, enums, unions, unknown members).  Answers (success and errors) are serialized the
way AWS's rest-json services send them, so botocore raises the right modeled exceptions.

It runs an aiohttp server on 127.0.0.1 in its own thread with its own event loop, so sync boto3
code, async code running on another loop and benchmarks can all use it::

    with FakeIncidentManager() as fake:
        arn = fake.add_incident("Database down")
        client = boto3.client("ssm-incidents", endpoint_url=fake.endpoint_url, region_name="eu-west-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_timeline_event(incidentRecordArn=arn, eventTime=now, eventType="Custom Event",
                                     eventData="note")
        assert fake.events(arn)[0]["eventData"] == "note"

Things to know (deliberate, documented behaviour):

* SigV4 is checked like AWS does: no ``Authorization`` header -> 403 MissingAuthenticationToken;
  malformed header -> 403 IncompleteSignature; credential scope for another service / region,
  more than 5 minutes of clock skew -> 403 InvalidSignatureException.  The signature itself is
  verified only when the fake knows the secret: pass ``credentials={"AKID": "secret"}`` and then a
  wrong signature -> 403 InvalidSignatureException and any other access key -> 403
  UnrecognizedClientException.  By default (``credentials=None``) any access key is accepted.
  Session tokens are accepted unchecked.
* String lengths are counted in UTF-16 code units (Java ``String.length()``), so an emoji counts 2.
  That is the stricter of the two counts AWS services use, so a payload accepted here is accepted
  by AWS.  Pass ``length_unit="codepoints"`` for Smithy's count.
* Unknown members in a request body are rejected (ValidationException); AWS may ignore them.
  Pass ``reject_unknown_members=False`` to ignore them.  A JSON value of the wrong type is a
  400 ``SerializationException`` (not modeled: botocore raises a plain ``ClientError``), as AWS does.
* Timestamps are stored with millisecond precision (sub-millisecond digits are dropped).
* ``CreateTimelineEvent``/``UpdateTimelineEvent`` accept only the event types AWS documents as
  creatable ("Custom Event" and "Note"); see ``creatable_event_types``.
* ``ListTimelineEvents`` sorts DESCENDING by event time unless ``sortOrder`` is given (AWS does not
  document its default) and pages by ``default_page_size`` (20) unless ``maxResults`` is given.
* ``set_down(True)``: every request is answered by aborting the TCP connection (RST) without any
  HTTP response; botocore raises ``botocore.exceptions.ConnectionClosedError`` (an ``HTTPClientError``;
  note it is NOT a subclass of ``botocore.exceptions.ConnectionError``/``EndpointConnectionError`` -
  catch ``BotoCoreError`` or both).  botocore retries it like any connection error.  Down calls are
  recorded with ``status == 0``.
* Operations the fake does not implement are still routed, parsed and validated, then answered
  500 InternalServerException "operation X not implemented by the fake".

Layout: ``fake`` (the public class, composing the rest), ``state`` (what it remembers),
``operations`` (the implemented operations), ``faults`` (injected errors, latency, throttling,
down), ``app`` (the HTTP handler) with ``routing``, ``deserialize``, ``validate``, ``sigv4`` and
``serialize``; ``model`` (botocore's model, Java regexes, wire formats), ``server`` (the thread and
loop), ``cli`` (``python -m``).
"""

from .cli import main
from .config import CREATABLE_EVENT_TYPES, DEFAULT_ACCOUNT, DEFAULT_CALLER_ARN
from .errors import UNMODELED_ERRORS
from .fake import FakeIncidentManager
from .model import SERVICE_NAME, iter_model_patterns, java_regex_to_python, service_model
from .sigv4 import MAX_CLOCK_SKEW
from .state import RecordedCall

__all__ = [
    "CREATABLE_EVENT_TYPES",
    "DEFAULT_ACCOUNT",
    "DEFAULT_CALLER_ARN",
    "MAX_CLOCK_SKEW",
    "SERVICE_NAME",
    "UNMODELED_ERRORS",
    "FakeIncidentManager",
    "RecordedCall",
    "iter_model_patterns",
    "java_regex_to_python",
    "main",
    "service_model",
]
