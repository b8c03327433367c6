"""The Enrich step on fakes: what it stores, hands on and asks for; its failures recorded, then raised for the
ASL's Catch. The action itself (HTTP, Lambda, secrets) is tests/unit/test_actions.py's."""

from __future__ import annotations

import pytest

from callhook.errors import ActionHTTPError, ActionNotFoundError, DependencyUnavailableError
from callhook.models.action import ActionRun, ActionRunRequest, EnrichmentResult, parse_action
from callhook.models.call import Telephony
from callhook.models.channel import Channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, PayloadRef
from callhook.models.workflow import StateEnrichment, WorkflowState
from callhook.services.enrichment import enrich
from tests.support.fakes import FakeActions, FakeChannels, FakeDialogs, FakePayloads, FakeRecordingRequests, FakeRunner

ACTION = parse_action({"action_id": "crm", "type": "http", "request": {"url": "https://crm.example.com/x"},
                                "result": {"operator_email": "agent.email"}})
CHANNEL = Channel(channel_id="ch", name="Main line", webhook_token="t" * 24, webhook_enrich_action="crm")
STATE = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm")


def stored(recording_url: str | None = None) -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                  telephony=Telephony(call_id="c-1", recording_url=recording_url),
                  enrichment=Enrichment(status=EnrichmentStatus.PENDING, action_id="crm"))


def ran(**result: str | None) -> ActionRun:
    return ActionRun(action_id="crm", type="http", request=ActionRunRequest(method="GET", url="https://crm"),
                     status_code=200, elapsed_ms=12, result=EnrichmentResult(**result))


def run_enrich(dialog: Dialog, runner: FakeRunner) -> tuple[WorkflowState, FakeDialogs, FakeRecordingRequests]:
    dialogs, recordings = FakeDialogs(dialog), FakeRecordingRequests()
    state = enrich(STATE, dialogs, FakeActions(ACTION), FakeChannels(CHANNEL), runner, recordings, FakePayloads())
    return state, dialogs, recordings


def test_the_result_is_stored_and_handed_on_typed() -> None:
    # When
    state, dialogs, recordings = run_enrich(stored(), FakeRunner(ran(operator_email="ann@example.com", topic="t")))
    # Then
    assert state.enrichment == StateEnrichment(status=EnrichmentStatus.OK, topic="t")  # no personal data
    saved = dialogs.dialog("d-1").enrichment
    assert saved.status == EnrichmentStatus.OK and saved.elapsed_ms == 12
    assert saved.result is not None and saved.result["operator_email"] == "ann@example.com"
    assert recordings.requested == []


def test_the_action_sees_its_channel_without_the_token() -> None:
    # When
    runner = FakeRunner(ran())
    run_enrich(stored(), runner)
    # Then
    channel = runner.states[0]["channel"]
    assert channel["name"] == "Main line" and "webhook_token" not in channel and "signature" not in channel
    assert runner.states[0]["telephony"]["call_id"] == "c-1"


def test_a_recording_url_from_the_action_fills_the_call_and_asks_for_the_copy() -> None:
    # When
    _, dialogs, recordings = run_enrich(stored(), FakeRunner(ran(recording_url="https://pbx.example.com/r.wav")))
    # Then
    assert dialogs.dialog("d-1").telephony.recording_url == "https://pbx.example.com/r.wav"
    assert recordings.requested == ["d-1"]


def test_a_recording_url_the_webhook_already_gave_is_kept_and_not_asked_for_again() -> None:
    # When
    _, dialogs, recordings = run_enrich(stored("https://pbx.example.com/first.wav"),
                                        FakeRunner(ran(recording_url="https://pbx.example.com/other.wav")))
    # Then
    assert dialogs.dialog("d-1").telephony.recording_url == "https://pbx.example.com/first.wav"
    assert recordings.requested == []


def test_a_failed_action_is_recorded_then_raised_for_the_catch() -> None:
    # Given
    dialogs = FakeDialogs(stored())
    failing = FakeRunner(error=ActionHTTPError("crm answered 404", status=404))
    # When
    with pytest.raises(ActionHTTPError):
        enrich(STATE, dialogs, FakeActions(ACTION), FakeChannels(CHANNEL), failing,
               FakeRecordingRequests(), FakePayloads())
    # Then
    saved = dialogs.dialog("d-1").enrichment
    assert saved.status == EnrichmentStatus.FAILED
    assert saved.error == {"type": "ActionHTTPError", "code": "http_status", "message": "crm answered 404",
                           "status": 404}


def test_an_unknown_action_is_recorded_as_a_failure() -> None:
    dialogs = FakeDialogs(stored())
    with pytest.raises(ActionNotFoundError):
        enrich(STATE, dialogs, FakeActions(), FakeChannels(CHANNEL), FakeRunner(ran()),
               FakeRecordingRequests(), FakePayloads())
    assert dialogs.dialog("d-1").enrichment.error["code"] == "action_not_found"


def test_a_transient_failure_is_raised_without_recording_a_failure() -> None:
    # Given: Step Functions retries it; the dialog stays pending until the retries are spent
    dialogs = FakeDialogs(stored())
    flaky = FakeRunner(error=DependencyUnavailableError("crm answered 503"))
    # When
    with pytest.raises(DependencyUnavailableError):
        enrich(STATE, dialogs, FakeActions(ACTION), FakeChannels(CHANNEL), flaky,
               FakeRecordingRequests(), FakePayloads())
    # Then
    assert dialogs.dialog("d-1").enrichment.status == EnrichmentStatus.PENDING


@pytest.mark.parametrize("transient", [False, True], ids=["failed", "retried"])
def test_the_dialog_keeps_no_bytes_of_the_systems_answer(transient: bool) -> None:
    # Given an answer whose body quotes a token (the excerpt is for `callhook action test` only)
    http = ActionHTTPError("crm answered 503 (text/html, 41 bytes)", status_code=503, content_type="text/html",
                           size=41, body_excerpt="<html>session=SECRET-TOKEN-123</html>")
    error: Exception = http
    if transient:
        error = DependencyUnavailableError(http.message)
        error.__cause__ = http
    dialogs = FakeDialogs(stored())
    # When
    with pytest.raises(type(error)):
        enrich(STATE, dialogs, FakeActions(ACTION), FakeChannels(CHANNEL), FakeRunner(error=error),
               FakeRecordingRequests(), FakePayloads())
    # Then what came back is named, not quoted
    saved = dialogs.dialog("d-1").enrichment.error
    assert saved is not None and "SECRET" not in str(saved) and "body_excerpt" not in saved
    assert (saved["code"], saved["content_type"], saved["size"]) == ("http_status", "text/html", 41)


def test_the_action_sees_a_body_kept_in_the_bucket_through_the_dialog_pointer() -> None:
    # Given a dialog whose provider body did not fit the item
    payloads = FakePayloads()
    payloads.objects["payloads/ch/d-1.raw-x.json"] = b'{"From": "+12025550143", "big": "\xe2\x82\xac"}'
    dialog = stored().model_copy(update={"raw_ref": PayloadRef(s3_key="payloads/ch/d-1.raw-x.json", size=40)})
    runner = FakeRunner(ran())
    # When
    enrich(STATE, FakeDialogs(dialog), FakeActions(ACTION), FakeChannels(CHANNEL), runner, FakeRecordingRequests(),
           payloads)
    # Then the action's state carries the whole body, as if it had been inline
    assert runner.states[0]["telephony"]["raw"] == {"From": "+12025550143", "big": "€"}
