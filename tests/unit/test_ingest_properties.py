"""Property tests: the ingest service from request to answer, on arbitrary requests.

`callhook.services.ingest.ingest_webhook` runs for real (handshake, authentication, parsing, accept_when, mapping,
update_when, the dialog or raw event it builds), on in-memory ports (DynamoDB writes, StartExecution, the
recording copy). The fakes check every item the way DynamoDB would take it, and read it back as
the workflow's first step does, because a dialog that cannot be stored is a 500 and one that cannot be read back is
a failed workflow. Properties: only WebhookRejectedError leaves escape (each a contract status whose answer is a
WebhookError), and every answer and stored item is well formed. The mapping functions on their own are covered by
tests/unit/test_mapping_properties.py; the same path over HTTP by tests/integration/test_fuzz_webhook_api.py.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.aws import from_item, to_item
from callhook.errors import DialogExistsError, UnauthorizedError, WebhookRejectedError
from callhook.models.api import HandshakeAnswer, WebhookAnswer, WebhookError, WebhookRequest
from callhook.models.channel import SIGNATURE_SCHEMES, Channel
from callhook.models.dialog import Dialog
from callhook.models.event import RawEvent
from callhook.models.workflow import WorkflowState
from callhook.presets.catalog import PRESETS
from callhook.services import ingest
from callhook.settings import IngestSettings
from tests.support.fakes import FakeChannels, FakePayloads, FakeRecordingRequests, FakeSecrets, FakeSpool

PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = "fuzz-channel-token-0001"
SETTINGS = IngestSettings.model_validate({
    "CHANNELS_TABLE": "channels", "DIALOGS_TABLE": "dialogs", "EVENTS_TABLE": "events",
    "OPERATORS_TABLE": "operators", "TOPICS_TABLE": "topics", "ACTIONS_TABLE": "actions",
    "SETTINGS_TABLE": "settings", "RECORDINGS_BUCKET": "recordings",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:unit", "MAX_BODY_BYTES": 4096,
})
CONTRACT_STATUSES = {400, 401, 403, 404, 413, 415, 422, 503}
SCHEME_SECRETS = {"telnyx": base64.b64encode(bytes(range(32))).decode(),  # a public key's form
                  "standard-webhooks": "whsec_" + base64.b64encode(b"k" * 24).decode()}
MAPPING = {
    "call_id": "call_id || callDetails.generalCallID",
    "caller": "from",
    "callee": "to",
    "direction": "map_value(dir, `{\"0\": \"inbound\", \"1\": \"outbound\"}`) || direction",
    "duration": "to_seconds(duration) || ms_to_seconds(duration_ms) || seconds_between(start, end)",
    "started_at": "to_iso(start)",
    "status": "status",
    "recording_url": "recording",
    "operator_email": "callDetails.employeeData.email || from_json(agent_json).email",
    "operator_ext": "agent[0].ext",
}
CHANNELS = [
    {"field_mapping": MAPPING, "accept_when": "status != 'skip'", "update_when": "event == 'update'",
     "timezone": "Europe/Berlin", "default_region": "DE"},
    {"field_mapping": MAPPING},
    {"field_mapping": {"call_id": "to_string(length(@))", "duration": "sum(numbers)", "direction": "sum(numbers)",
                       "started_at": "max(numbers)"}},
]

# --- what providers (and attackers) send ------------------------------------------------------------------------
numbers = (
    st.integers(-(10**60), 10**60) | st.floats(allow_nan=False)
    | st.sampled_from([10**38 - 1, 10**38, 1e125, 1e126, -1e126, 1e-130, 1e-131, 5e-324, 1.7976931348623157e308])
)
times = (
    st.integers(0, 2**62) | st.floats(0, 1e20)
    | st.sampled_from(["2026-11-25 10:00:00", "2026-11-25T10:00:00+02:00", "Tue, 25 Nov 2026 10:00:00 +0100",
                       "1700000000", "1700000000123", "1700000000123456", "0000-00-00 00:00:00", "9999-12-31T23:59:59Z",
                       "24:00", "", " ", "not a time"])
    | st.datetimes().map(lambda d: d.isoformat()) | st.datetimes().map(str)
)
durations = numbers | st.text(max_size=8) | st.sampled_from(["01:02:03", "99:99", "-1", "1e400", "0x10", "١٢", "1,5"])
scalars = st.none() | st.booleans() | numbers | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=15,
)
call_fields = st.fixed_dictionaries({}, optional={
    "call_id": st.text(max_size=12) | numbers | json_values,
    "from": scalars, "to": scalars, "dir": scalars, "direction": scalars, "status": st.sampled_from(["skip", "ok"]),
    "duration": durations, "duration_ms": durations, "start": times, "end": times, "numbers": st.lists(numbers),
    "recording": st.sampled_from(["https://pbx.example.com/r.wav", "ftp://x", "", "http://[::1"]) | st.text(),
    "agent_json": st.text(max_size=30) | st.just('{"email": " Ann@Example.com "}'), "event": st.just("update"),
    "agent": json_values, "": scalars,
})
json_bodies = st.tuples(st.dictionaries(st.text(max_size=8), json_values, max_size=6), call_fields).map(
    lambda parts: {**parts[0], **parts[1]})
bracket_keys = st.text(alphabet="ab0123[]_ ", max_size=12) | st.sampled_from([
    "callDetails[generalCallID]", "callDetails[employeeData][email]", "agent[0][ext]", "agent[][ext]", "a[99999]",
    "a[b", "[b]", "a" + "[x]" * 40, "", "call_id"])
form_pairs = st.lists(st.tuples(bracket_keys | st.text(max_size=10), st.text(max_size=16)), max_size=12)
charsets = st.sampled_from(["utf-8", "windows-1251", "latin-1", "utf-16", "utf-7", "shift_jis", "base64", "nope"])


@st.composite
def requests_(draw: st.DrawFn) -> WebhookRequest:
    """A webhook request as the handler builds it: raw body bytes, lower-cased headers, the query as sent."""
    method = draw(st.sampled_from(["POST", "POST", "GET"]))
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    token = draw(st.sampled_from(["header", "query", "header", "wrong", "none"]))
    if token == "header":
        headers["x-webhook-token"] = TOKEN
    elif token == "query":
        query["token"] = TOKEN
    elif token == "wrong":
        headers["x-webhook-token"] = draw(st.text(min_size=1, max_size=30))
    body = b""
    if method == "GET":
        query.update(draw(st.lists(st.tuples(bracket_keys | st.text(max_size=8), st.text(max_size=12)), max_size=8)))
        if draw(st.booleans()):
            query.update({k: str(v) for k, v in draw(call_fields).items()})
    else:
        kind = draw(st.sampled_from(["json", "json", "form", "bytes"]))
        if kind == "json":
            body = json.dumps(draw(json_bodies)).encode()
            headers["content-type"] = draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                            "text/json", "application/vnd.x+json", ""]))
        elif kind == "form":
            pairs = draw(form_pairs) + [(k, str(v)) for k, v in draw(call_fields).items()]
            charset = draw(charsets)
            body = "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in pairs).encode()
            headers["content-type"] = f"application/x-www-form-urlencoded; charset={charset}"
        else:
            body = draw(st.binary(max_size=200))
            headers["content-type"] = draw(st.sampled_from(["application/json", "text/plain", "", "multipart/x"]))
    raw_query = urlencode(list(query.items()))
    return WebhookRequest(channel_id="fuzz", method=method, url=f"https://api.example.com/webhooks/fuzz?{raw_query}",
                          headers=headers, raw_query=raw_query, query=query, body=body, source_ip="192.0.2.1")


# --- DynamoDB and Step Functions, in memory ---------------------------------------------------------------------


def assert_storable(item: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB accepts (names of 1 byte to under 64 KB, numbers of 38 digits from 1e-130 to under 1e126,
    UTF-8 text), serialised as the repositories do; returns the item as read back."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                assert isinstance(key, str) and 0 < len(key.encode("utf-8")) < 65_536, f"name at {path}: {key!r:.80}"
                walk(child, f"{path}.{key}")
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{path}[{index}]")
        elif isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            assert math.isfinite(value), f"number at {path}: {value}"
            magnitude = abs(Decimal(str(value)))
            assert magnitude == 0 or Decimal("1e-130") <= magnitude < Decimal("1e126"), f"number at {path}: {value}"

    walk(item, "$")
    return from_item(to_item(item))  # boto3's serializer enforces the 38 digits


class FakeDialogs:
    stored: dict[str, Dialog] = {}

    def put_new(self, dialog: Dialog) -> None:
        read_back = assert_storable(dialog.model_dump(mode="json", exclude_none=False))
        Dialog.model_validate(read_back)  # what the workflow's steps do with it
        if dialog.dialog_id in self.stored:
            raise DialogExistsError(self.stored[dialog.dialog_id])
        self.stored[dialog.dialog_id] = dialog

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        assert_storable({"telephony": fields})
        dialog = self.stored.get(dialog_id)
        return None if dialog is None else dialog.telephony.model_dump(mode="json")


class FakeEvents:
    def put(self, event: RawEvent) -> None:
        RawEvent.model_validate(assert_storable(event.model_dump(mode="json", exclude_none=True)))

    def mark(self, event_id: str, kind: Any, **fields: Any) -> None:
        assert_storable({"kind": kind.value, **fields})


class StartedDialogs:
    """Step Functions: keeps the stored dialog of each execution started, and its input as a workflow reads it."""

    def __init__(self, started: list[Dialog]) -> None:
        self.started = started

    def start(self, name: str, state: WorkflowState) -> str:
        WorkflowState.model_validate_json(json.dumps(state.execution_input()))
        self.started.append(FakeDialogs.stored[name])
        return f"arn:aws:states:us-east-1:123456789012:execution:unit:{name}"

    def status(self, name: str) -> str | None:
        return None


PORTS: list[ingest.IngestPorts] = []  # the ports of the fake_io in use


@contextmanager
def fake_io(advanced_config: dict[str, Any], **item: Any) -> Iterator[list[Dialog]]:
    """ingest with its channel and storage in memory; yields the dialogs whose workflow it started."""
    channel = Channel.model_validate({"channel_id": "fuzz", "webhook_token": TOKEN, "advanced_config": advanced_config,
                                      **item})
    started: list[Dialog] = []
    FakeDialogs.stored = {}
    PORTS[:] = [ingest.IngestPorts(channels=FakeChannels(channel), dialogs=FakeDialogs(), events=FakeEvents(),
                                   spool=FakeSpool(), executions=StartedDialogs(started),
                                   recordings=FakeRecordingRequests(), secrets=FakeSecrets(),
                                   payloads=FakePayloads())]
    yield started


def answer_or_rejection(request: WebhookRequest) -> WebhookAnswer | HandshakeAnswer | WebhookRejectedError:
    """The service's outcome; any exception other than a WebhookRejectedError leaf propagates and fails the test."""
    try:
        return ingest.ingest_webhook(request, PORTS[0], SETTINGS)
    except WebhookRejectedError as exc:
        rejection = exc
    assert type(rejection) is not WebhookRejectedError, "a leaf names the status"
    return rejection


def assert_well_formed(outcome: WebhookAnswer | HandshakeAnswer | WebhookRejectedError) -> None:
    if isinstance(outcome, WebhookRejectedError):
        assert outcome.status_code in CONTRACT_STATUSES
        error = WebhookError.model_validate(json.loads(outcome.answer_json()))
        assert error.status == "rejected" and error.reason == outcome.reason and error.message
        assert "Traceback" not in error.message
    elif isinstance(outcome, WebhookAnswer):
        assert isinstance(json.loads(outcome.body_json()), dict)  # a preset's fixed answer may rename `status`
        assert outcome.status == "ignored" or (outcome.dialog_id or "").startswith("d-")


# --- properties --------------------------------------------------------------------------------------------------


@PROPERTY
@given(request=requests_(), config=st.sampled_from(CHANNELS))
def test_ingest_webhook_answers_or_rejects_every_request(request, config):
    # Given a channel and an arbitrary request to it
    with fake_io(config) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then it is an answer or a contract rejection, and every dialog it stored started its workflow once
    assert_well_formed(outcome)
    assert len(started) == len({d.dialog_id for d in started}) == len(FakeDialogs.stored)


@PROPERTY
@given(request=requests_())
def test_ingest_webhook_authenticates_before_reading_the_body(request):
    # Given a request whose token is missing or wrong, whatever its body
    headers = {k: v for k, v in request.headers.items() if k != "x-webhook-token"}
    query = {k: v for k, v in request.query.items() if k != "token"}
    unauthenticated = request.model_copy(update={"headers": headers, "query": query, "raw_query": urlencode(query)})
    with fake_io(CHANNELS[0]) as started:
        # When
        outcome = answer_or_rejection(unauthenticated)
    # Then it is 401 (or 413 for a body over the limit, checked first), and nothing is stored
    assert isinstance(outcome, WebhookRejectedError)
    assert isinstance(outcome, UnauthorizedError) or (outcome.status_code == 413 and len(request.body) > 4096)
    assert started == [] and FakeDialogs.stored == {}


@PROPERTY
@given(body=json_bodies, config=st.sampled_from(CHANNELS))
def test_ingest_webhook_stores_what_it_accepts_from_any_json_object(body, config):
    # Given an authenticated JSON object with any values, including numbers and names DynamoDB cannot hold
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": "application/json", "x-webhook-token": TOKEN},
                             body=json.dumps(body).encode())
    with fake_io(config) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then a call with a call_id is accepted (the body is never the reason to lose it) and its dialog is storable
    assert_well_formed(outcome)
    if isinstance(outcome, WebhookAnswer) and outcome.status == "accepted" and outcome.reason is None:
        assert [d.dialog_id for d in started] == [outcome.dialog_id]


# A channel per provider preset and per signature scheme, with headers such schemes read, valid-looking or not.
SIGNED_CHANNELS = [
    *[({"preset": preset.name}, {"signature": {"secret": "s3cr3t-s3cr3t-s3cr3t"}} if preset.signature else {})
      for preset in PRESETS],
    *[({}, {"signature": {"scheme": scheme, "secret": SCHEME_SECRETS.get(scheme, "s3cr3t-s3cr3t-s3cr3t")}})
      for scheme in SIGNATURE_SCHEMES],
]
SIGNATURE_HEADERS = ["x-signature", "x-twilio-signature", "telnyx-signature-ed25519", "telnyx-timestamp",
                     "webhook-id", "webhook-timestamp", "webhook-signature", "x-plivo-signature-v3",
                     "x-plivo-signature-v3-nonce", "authorization", "signature", "verification-token",
                     "validation-token"]
header_values = (
    st.text(max_size=40) | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    | st.sampled_from(["inf", "-inf", "nan", "1e400", "-1e400", "1e18", "0", "Bearer a.b.c", "v1,AAAA", "v1a,x",
                       "sha256=00", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"])
    | st.integers(0, 2**40).map(str)
)


@PROPERTY
@given(request=requests_(), channel=st.sampled_from(SIGNED_CHANNELS),
       headers=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=5))
def test_ingest_webhook_answers_or_rejects_every_request_to_a_signing_channel(request, channel, headers):
    # Given a provider preset's or signature scheme's channel and a request with arbitrary signature headers
    signed = request.model_copy(update={"headers": {**request.headers, **headers}})
    advanced_config, item = channel
    with fake_io({**CHANNELS[1], **advanced_config}, **item):
        # When
        outcome = answer_or_rejection(signed)
    # Then
    assert_well_formed(outcome)


# --- regressions found by the fuzz tests (each was a 500 or a workflow that failed reading the dialog) -----------


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ('{"call_id": "n1", "n": 1.0000000000000001e+126}', "1.0000000000000001e+126"),  # over DynamoDB's range
        ('{"call_id": "n2", "n": 1e400}', "1e400"),  # a float overflowing to inf
        ('{"call_id": "n3", "n": 1e-200}', "1e-200"),  # under DynamoDB's range
        ('{"call_id": "n4", "n": %s}' % ("7" * 39), "7" * 39),  # 39 digits
        ('{"call_id": "n5", "n": 99999999999999999999999999999999999999}', 99999999999999999999999999999999999999),
        ('{"call_id": "n6", "n": 9.99e125}', 9.99e125),
    ],
)
def test_ingest_webhook_keeps_numbers_dynamodb_cannot_hold_as_their_text(body, kept):
    # Given a JSON body with a number DynamoDB cannot store (or one at the edge of what it can)
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": "application/json", "x-webhook-token": TOKEN},
                             body=body.encode())
    with fake_io(CHANNELS[1]) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then the call is accepted and stored, the number kept as sent
    assert isinstance(outcome, WebhookAnswer) and outcome.status == "accepted"
    assert started[0].telephony.raw["n"] == kept


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"call_id": "k1", "": "x", "a": {"": 1, "b": 2}}'),
        ("application/x-www-form-urlencoded", "call_id=k1&=x&a[b]=2"),
    ],
)
def test_ingest_webhook_drops_members_without_a_name(content_type, body):
    # Given a body with members or fields whose name is empty (DynamoDB attribute names are at least 1 byte)
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": content_type, "x-webhook-token": TOKEN}, body=body.encode())
    with fake_io(CHANNELS[1]) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then the call is stored without them
    assert isinstance(outcome, WebhookAnswer) and outcome.status == "accepted"
    assert started[0].telephony.raw in ({"call_id": "k1", "a": {"b": 2}}, {"call_id": "k1", "a": {"b": "2"}})


def test_ingest_webhook_drops_a_member_name_of_64_kb():
    # Given a JSON member whose name is longer than a DynamoDB attribute name can be
    long_name = "n" * 65_536
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": "application/json", "x-webhook-token": TOKEN},
                             body=json.dumps({"call_id": "l1", long_name: 1, "short": 2}).encode())
    settings_ = SETTINGS.model_copy(update={"max_body_bytes": 100_000})
    with fake_io(CHANNELS[1]) as started:
        # When
        outcome = ingest.ingest_webhook(request, PORTS[0], settings_)
    # Then
    assert isinstance(outcome, WebhookAnswer) and outcome.status == "accepted"
    assert started[0].telephony.raw == {"call_id": "l1", "short": 2}


def test_ingest_webhook_shows_a_39_digit_number_in_a_mapping_warning_as_text():
    # Given a mapping expression that computes an integer of 39 digits for a field that cannot take it
    body = {"call_id": "w1", "numbers": [10**38 - 1, 10**38 - 1]}
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": "application/json", "x-webhook-token": TOKEN},
                             body=json.dumps(body).encode())
    with fake_io(CHANNELS[2] | {"field_mapping": {"call_id": "call_id", "direction": "sum(numbers)"}}) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then the dialog is stored, the warning's value is text
    assert isinstance(outcome, WebhookAnswer) and outcome.status == "accepted"
    [warning] = started[0].mapping_warnings
    assert (warning.field, warning.value) == ("direction", str(2 * (10**38 - 1)))


@pytest.mark.parametrize("timestamp", ["inf", "-inf", "1e400", "nan"])
def test_ingest_webhook_answers_401_for_a_signature_timestamp_that_is_not_a_number(timestamp):
    # Given a Telnyx-signed channel and a request whose timestamp parses as an infinite (or not-a-number) float
    request = WebhookRequest(channel_id="fuzz", method="POST", url="https://api.example.com/webhooks/fuzz",
                             headers={"content-type": "application/json", "telnyx-signature-ed25519": "AAAA",
                                      "telnyx-timestamp": timestamp}, body=b'{"call_id": "t1"}')
    with fake_io({}, signature={"scheme": "telnyx", "secret": SCHEME_SECRETS["telnyx"]}) as started:
        # When
        outcome = answer_or_rejection(request)
    # Then it is refused as a bad timestamp (it was a 500: the message's int() of an infinite age)
    assert isinstance(outcome, UnauthorizedError)
    assert outcome.message == "the signature timestamp is not a unix time"
    assert started == []
