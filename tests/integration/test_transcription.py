"""Auto transcription on the local stack: the Transcribe state's task token, the real StartTranscriptionJob,
the local faster-whisper engine behind moto's Transcribe, and the EventBridge completion.

Each call's recording is a committed flite WAV served by the fake PBX (tests/fixtures/audio/README.md); the
transcript is what the engine hears in it, so the assertions name the spoken words (`said`: lower case, without
the punctuation Transcribe writes).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from moto.transcribe.exceptions import BadRequestException
from moto.transcribe.models import TranscribeBackend, transcribe_backends

from callhook.models.dialog import Dialog, make_dialog_id
from callhook_admin.services.workflow import start_workflow
from callhook_local.demo import DEMO_CHANNEL, DEMO_TOKEN, demo_call
from callhook_local.fake_pbx import FakePBX
from callhook_local.faults import start_execution_fails
from callhook_local.transcribe import TranscribeEngine, job_state_change
from tests.support.stack import TERMINAL, StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
MAPPING = {"call_id": "id", "operator_email": "email", "recording_url": "recording", "status": "status"}
HAPPY_PATH = ["BeginWorkflow", "EnrichmentConfigured?", "AssignOperator", "SetTopic", "Transcribe", "Done"]


@pytest.fixture
def channel(stack: StackClient, demo: FakePBX):
    """A channel that transcribes (operators come from the demo directory: ann@example.com is 17)."""
    def make(**overrides: Any) -> dict:
        config = overrides.pop("advanced_config", {})
        return stack.channel(**{"auto_transcription": True, "allow_private_network": True, **overrides},
                             advanced_config={"field_mapping": MAPPING, **config})
    return make


@pytest.fixture
def recording(pbx: FakePBX):
    """Serve a fixture (or given bytes) from the fake PBX; returns its URL."""
    def serve(fixture: str = "call-16k.wav", *, data: bytes | None = None) -> str:
        name = unique("rec") + ".wav"
        pbx.add_recording(name, (AUDIO / fixture).read_bytes() if data is None else data)
        return f"{pbx.url}/recordings/{name}"
    return serve


@pytest.fixture
def engine(stack: StackClient) -> TranscribeEngine:
    assert stack.stack.transcribe is not None
    return stack.stack.transcribe


def machine_waiting(stack: StackClient, heartbeat_s: int) -> str:
    """The deployed definition with the Transcribe state's HeartbeatSeconds cut to `heartbeat_s`."""
    sfn = stack.sfn
    described = sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)
    definition = json.loads(described["definition"])
    definition["States"]["Transcribe"].update({"TimeoutSeconds": 2 * heartbeat_s, "HeartbeatSeconds": heartbeat_s})
    return str(sfn.create_state_machine(name=unique("short-wait"), definition=json.dumps(definition),
                                        roleArn=described["roleArn"])["stateMachineArn"])


@pytest.fixture(scope="module")
def short_wait(stack: StackClient) -> str:
    """Waits 2 s for news: for jobs that never finish in time."""
    return machine_waiting(stack, 2)


@pytest.fixture(scope="module")
def roomy_wait(stack: StackClient) -> str:
    """Waits 6 s for news: ample for the engine to finish a 6 s recording (about 1 s), even on a busy machine."""
    return machine_waiting(stack, 6)


def said(text: str | None) -> list[str]:
    """The words of a transcript, lower case, without punctuation."""
    return re.findall(r"[a-z0-9']+", (text or "").lower())


def call(url: str | None = None, **fields: Any) -> dict:
    body = {"id": unique("call"), "email": "ann@example.com", **fields}
    if url:
        body["recording"] = url
    return body


def job(stack: StackClient, dialog: Dialog) -> dict:
    name = dialog.transcription.job_name
    assert name
    return dict(stack.stack.client("transcribe").get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"])


def engine_job(stack: StackClient, name: str | None) -> Any:
    """moto's record of the job, with what StartTranscriptionJob asked that GetTranscriptionJob does not return."""
    return transcribe_backends["123456789012"]["us-east-1"].transcriptions[name]


def runs_of(engine: TranscribeEngine, dialog: Dialog) -> list[dict]:
    return [r for r in engine.completed if r["job"].endswith(dialog.dialog_id)]


def wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def wait_arn(stack: StackClient, arn: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (desc := stack.sfn.describe_execution(executionArn=arn))["status"] not in TERMINAL:
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} still {desc['status']}")
        time.sleep(0.05)
    return dict(desc)


def stored_without_execution(stack: StackClient, channel: dict, body: dict) -> Dialog:
    """The dialog as ingest stores it (recording copied) while its own execution fails to start: the test starts
    one itself, on the short-wait machine."""
    with start_execution_fails(10):  # more than the SDK's own retries
        answer = stack.post(channel, json_body=body)
    assert answer.status_code == 200  # stored: accepted, its workflow left to the reconciler
    assert answer.json()["reason"] == "workflow_start_deferred"
    dialog = stack.dialog_for(channel, body["id"])
    assert dialog is not None
    return dialog


# ---------------------------------------------------------------------------------------------------- happy paths


def test_call_with_a_recording_ends_with_its_transcript(stack: StackClient, channel, recording) -> None:
    # Given a call whose recording says "Hello, I am calling about my internet connection. Please call me back..."
    ch = channel()
    # When
    dialog = stack.process(ch, call(recording("call-16k.wav")))
    # Then the transcript is on the dialog, in its feed, and in the execution's result
    assert dialog.transcription.status == "completed", dialog.transcription
    for word in ("hello", "calling", "internet", "connection", "call", "back", "tomorrow"):
        assert word in said(dialog.transcription.text)
    assert dialog.transcription.language == "en-US"
    assert dialog.transcription.turns[0]["speaker"] == "spk_0"
    assert dialog.transcription.turns[0]["text"] == dialog.transcription.text
    assert [(f.kind, f.text) for f in dialog.feed] == [("transcript", dialog.transcription.text)]
    assert dialog.workflow.status == "completed"
    desc = stack.wait_execution(dialog.dialog_id)
    assert json.loads(desc["output"])["transcription"] == {
        "status": "completed", "reason": None, "job_name": dialog.transcription.job_name}
    # And the state machine waited on its token: 6 states, the Transcribe task submitted then answered
    assert stack.states_entered(desc["executionArn"]) == HAPPY_PATH
    events = [e["type"] for e in stack.history(desc["executionArn"])]
    assert events.index("TaskSubmitted") < events.index("TaskSucceeded", events.index("TaskSubmitted"))


def test_transcribe_job_gets_the_kept_recording_language_identification_and_speaker_separation(
        stack: StackClient, channel, recording) -> None:
    # Given a channel with the default transcription settings
    dialog = stack.process(channel(), call(recording("call-16k.wav")))
    # Then the job moto recorded is the one StartTranscriptionJob asked for
    started = job(stack, dialog)
    bucket = stack.env["RECORDINGS_BUCKET"]
    assert started["Media"] == {"MediaFileUri": f"s3://{bucket}/{dialog.recording.s3_key}"}
    assert started["MediaFormat"] == "wav"
    assert started["Settings"]["ShowSpeakerLabels"] is True
    assert started["Settings"]["MaxSpeakerLabels"] == 2
    assert started["IdentifyLanguage"] is True
    assert started["LanguageOptions"] == ["en-US", "es-US", "de-DE", "fr-FR", "ru-RU"]
    assert dialog.transcription.job_name == f"{stack.stack.name}-{dialog.dialog_id}"
    # And Transcribe's output JSON is in the bucket, in Transcribe's shape
    document = json.loads(stack.stack.client("s3").get_object(
        Bucket=bucket, Key=dialog.transcription.transcript_s3_key)["Body"].read())
    assert document["jobName"] == dialog.transcription.job_name
    assert document["status"] == "COMPLETED"
    assert document["results"]["transcripts"][0]["transcript"] == dialog.transcription.text
    first = document["results"]["items"][0]
    assert first["type"] == "pronunciation"
    assert first["alternatives"][0]["content"] == "Hello"
    assert document["results"]["items"][1]["type"] == "punctuation"  # "Hello," as Transcribe writes it


def test_telephony_rate_recording_is_transcribed(stack: StackClient, channel, recording) -> None:
    # Given an 8 kHz recording: "Thank you for calling. Your order will arrive on Monday."
    dialog = stack.process(channel(), call(recording("call-8k.wav")))
    # Then
    assert dialog.transcription.status == "completed"
    assert {"thank", "calling", "order", "arrive", "monday"} <= set(said(dialog.transcription.text))
    assert job(stack, dialog)["MediaSampleRateHertz"] == 8000


def test_stereo_recording_is_separated_by_channel(stack: StackClient, channel, recording) -> None:
    # Given a two-channel recording: the agent on the left, then the caller on the right
    dialog = stack.process(channel(), call(recording("stereo-8k.wav")))
    # Then the job used channel identification, and the turns are the two channels in order
    assert job(stack, dialog)["Settings"]["ChannelIdentification"] is True
    turns = dialog.transcription.turns
    assert [t["speaker"] for t in turns] == ["ch_0", "ch_1"]
    assert {"morning", "help"} <= set(said(turns[0]["text"]))
    assert {"cancel", "subscription"} <= set(said(turns[1]["text"]))
    assert turns[0]["start_s"] < turns[1]["start_s"]


def test_redacting_channel_stores_only_pii_marks_for_a_spoken_card_and_phone_number(
        stack: StackClient, channel, recording) -> None:
    # Given a channel that redacts PII, and a phone-band recording (8 kHz mu-law) in which the caller reads out a
    # card number and a phone number digit by digit
    ch = channel(advanced_config={"transcription": {"language": "en-US", "redact_pii": True}})
    # When
    dialog = stack.process(ch, call(recording("pii-8k.wav")))
    # Then Transcribe was asked for the redacted transcript only, and wrote only that
    assert dialog.transcription.status == "completed", dialog.transcription
    name = dialog.transcription.job_name
    assert engine_job(stack, name).content_redaction == {"RedactionType": "PII", "RedactionOutput": "redacted"}
    assert set(job(stack, dialog)["Transcript"]) == {"RedactedTranscriptFileUri"}
    bucket = stack.env["RECORDINGS_BUCKET"]
    listed = stack.stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"transcripts/{dialog.channel_id}/")
    key = f"transcripts/{dialog.channel_id}/redacted-{dialog.dialog_id}.json"
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert dialog.transcription.transcript_s3_key == key
    assert dialog.transcription.redaction == ["ALL"]
    # And the transcript object, the dialog's text, its turns and its feed carry [PII] where the numbers were
    document = json.loads(stack.stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    contents = [i["alternatives"][0]["content"] for i in document["results"]["items"]]
    redacted = {r["type"] for i in document["results"]["items"] for r in i["alternatives"][0].get("redactions", [])}
    assert {"CREDIT_DEBIT_NUMBER", "PHONE"} <= redacted
    stored = [document["results"]["transcripts"][0]["transcript"], " ".join(contents), dialog.transcription.text,
              *(t["text"] for t in dialog.transcription.turns), *(f.text for f in dialog.feed)]
    for text in stored:
        assert "[PII]" in text
        assert not re.search(r"\d", text), text
        assert not {"one", "four", "five", "zero", "oh"} & set(said(text)), text
    assert {"card", "number", "call"} <= set(said(dialog.transcription.text))
    assert dialog.transcription.text.count("[PII]") >= 2


def test_stereo_recording_with_channel_roles_gives_agent_and_customer_turns(stack: StackClient, channel,
                                                                            recording) -> None:
    # Given a channel whose stereo recordings have the agent on the left and the customer on the right
    ch = channel(advanced_config={"transcription": {"channel_roles": {"0": "agent", "1": "customer"}}})
    # When
    dialog = stack.process(ch, call(recording("stereo-8k.wav")))
    # Then every turn says its role, in the order spoken
    turns = dialog.transcription.turns
    assert [(t["speaker"], t["role"]) for t in turns] == [("ch_0", "agent"), ("ch_1", "customer")]
    assert {"morning", "help"} <= set(said(turns[0]["text"]))
    assert {"cancel", "subscription"} <= set(said(turns[1]["text"]))
    assert dialog.transcription.roles == {"0": "agent", "1": "customer"}
    # And the feed shows who spoke
    [entry] = dialog.feed
    assert entry.text == f"agent: {turns[0]['text']}\ncustomer: {turns[1]['text']}"


def test_channel_language_replaces_identification(stack: StackClient, channel, recording) -> None:
    # Given a channel that says its calls are in British English
    ch = channel(advanced_config={"transcription": {"language": "en-GB"}})
    # When
    dialog = stack.process(ch, call(recording()))
    # Then
    started = job(stack, dialog)
    assert started["LanguageCode"] == "en-GB"
    assert "IdentifyLanguage" not in started
    assert dialog.transcription.status == "completed"
    assert dialog.transcription.language == "en-GB"


def test_demo_call_ends_with_a_transcript_in_seven_transitions(stack: StackClient, demo: FakePBX) -> None:
    # Given the demo configuration of `make run` (enrichment from the fake PBX, its recording served there)
    body = demo_call(demo.url)
    body["call"]["id"] = unique("demo-call")
    demo.set_call(body["call"]["id"], email="ann@example.com", line="online")
    # When the demo's curl is sent
    resp = stack.post(DEMO_CHANNEL, json_body=body, headers={"X-Webhook-Token": DEMO_TOKEN})
    desc = stack.wait_execution(resp.json()["dialog_id"])
    # Then the call is enriched, assigned, given its topic and transcribed, within 7 state transitions
    dialog = stack.dialog(resp.json()["dialog_id"])
    assert dialog is not None
    assert (dialog.operator_id, dialog.topic) == (17, "online")
    assert dialog.transcription.status == "completed"
    assert "internet connection" in " ".join(said(dialog.transcription.text))
    assert stack.states_entered(desc["executionArn"]) == [
        "BeginWorkflow", "EnrichmentConfigured?", "Enrich", "AssignOperator", "SetTopic", "Transcribe", "Done"]


def test_assign_admin_after_failed_enrichment_transcribes_for_the_default_operator(
        stack: StackClient, channel, recording, demo: FakePBX) -> None:
    # Given enrichment fails (the PBX answers garbage) on an assign_admin channel, and the call has a recording
    ch = channel(webhook_enrich_action="demo-pbx-lookup", enrich_error_action="assign_admin")
    body = call(recording())
    demo.set_behaviour(body["id"], garbage=True)
    # When
    dialog = stack.process(ch, body)
    # Then the default operator is assigned and the call transcribed
    assert dialog.operator_id == 1
    assert dialog.transcription.status == "completed"
    assert "internet" in said(dialog.transcription.text)
    assert [f.kind for f in dialog.feed] == ["service", "transcript"]


# ---------------------------------------------------------------------------------------------------- skips


@pytest.mark.parametrize(("overrides", "body", "status", "code"), [
    ({"auto_transcription": False}, {}, "not_requested", "auto_transcription_off"),
    ({}, {"email": None}, "skipped", "no_operator"),
    ({}, {"recording": None}, "skipped", "no_recording"),
], ids=["auto_transcription_off", "no_operator", "no_recording"])
def test_call_not_transcribed_says_why_and_starts_no_job(stack: StackClient, channel, recording, engine,
                                                        overrides: dict, body: dict, status: str, code: str) -> None:
    # Given
    payload = {**call(recording()), **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    # When
    dialog = stack.process(channel(**overrides), payload)
    # Then
    assert (dialog.transcription.status, dialog.transcription.reason.code) == (status, code)
    assert dialog.transcription.job_name is None
    assert runs_of(engine, dialog) == []
    assert dialog.workflow.status == "completed"
    assert [f.kind for f in dialog.feed] == []
    # And the recording is kept anyway when there is one: keeping does not depend on transcription
    if "recording" in payload:
        assert dialog.recording is not None
        assert dialog.recording.status == "kept"


def test_enrichment_failure_with_do_not_assign_skips_transcription(stack: StackClient, channel, recording,
                                                                    demo: FakePBX, engine) -> None:
    # Given enrichment fails for good on a do_not_assign channel, and the call has a recording
    ch = channel(webhook_enrich_action="demo-pbx-lookup", enrich_error_action="do_not_assign")
    body = call(recording())
    demo.set_behaviour(body["id"], garbage=True)
    # When
    dialog = stack.process(ch, body)
    # Then
    assert dialog.transcription.status == "skipped"
    assert dialog.transcription.reason.code == "enrichment_failed_do_not_assign"
    assert runs_of(engine, dialog) == []
    assert dialog.recording.status == "kept"


def test_recording_that_could_not_be_kept_skips_transcription_with_its_reason(stack: StackClient, channel,
                                                                               pbx: FakePBX, recording) -> None:
    # Given the provider's link has expired (404)
    url = recording()
    pbx.set_behaviour("recordings/" + url.rsplit("/", 1)[1], status=404)
    # When
    dialog = stack.process(channel(), call(url))
    # Then
    assert dialog.transcription.status == "skipped"
    assert dialog.transcription.reason.code == "recording_not_kept"
    assert dialog.transcription.reason.recording_reason == "recording_expired"
    assert "404" in dialog.transcription.reason.message


# ---------------------------------------------------------------------------------------------------- failures


def test_failed_job_sets_failed_with_transcribes_reason(stack: StackClient, channel, recording) -> None:
    # Given a channel in German: the local engine knows English only, so Transcribe fails the job
    ch = channel(advanced_config={"transcription": {"language": "de-DE"}})
    # When
    dialog = stack.process(ch, call(recording()))
    # Then the transcription failed with Transcribe's reason, and nothing else of the dialog changed
    assert dialog.transcription.status == "failed"
    assert dialog.transcription.reason.code == "transcribe_job_failed"
    assert "English only" in dialog.transcription.reason.message
    assert dialog.operator_id == 17
    assert dialog.recording.status == "kept"
    assert dialog.feed == []
    assert dialog.workflow.status == "completed"
    desc = stack.wait_execution(dialog.dialog_id)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"])["transcription"]["status"] == "failed"


def test_job_refused_by_transcribe_sets_failed_with_the_reason(stack: StackClient, channel, recording,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Transcribe refuses StartTranscriptionJob (e.g. a media file it cannot read)
    def refuse(*_: Any, **__: Any) -> Any:
        raise BadRequestException(message="The media format is not supported.")

    monkeypatch.setattr(TranscribeBackend, "start_transcription_job", refuse)
    # When
    dialog = stack.process(channel(), call(recording()))
    # Then
    assert dialog.transcription.status == "failed"
    assert dialog.transcription.reason.code == "transcribe_rejected"
    assert "BadRequestException" in dialog.transcription.reason.message
    assert stack.wait_execution(dialog.dialog_id)["status"] == "SUCCEEDED"


def test_unreadable_transcript_sets_failed(stack: StackClient, channel, recording, engine) -> None:
    # Given a job whose completion event is held back, and whose output is then damaged
    ch = channel()
    with engine.drop_events():
        resp = stack.post(ch, json_body=call(recording()))
        dialog_id = resp.json()["dialog_id"]
        wait_for(lambda: any(r["job"].endswith(dialog_id) for r in engine.completed))
    dialog = stack.dialog(dialog_id)
    stack.stack.client("s3").put_object(Bucket=stack.env["RECORDINGS_BUCKET"],
                                        Key=f"transcripts/{dialog.channel_id}/{dialog_id}.json", Body=b"<html>")
    # When the event arrives
    assert engine.deliver(job_state_change(dialog.transcription.job_name, "COMPLETED", "123456789012",
                                           "us-east-1")) == 1
    # Then
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    ended = stack.dialog(dialog_id)
    assert ended.transcription.status == "failed"
    assert ended.transcription.reason.code == "transcript_unreadable"


def test_events_of_other_stacks_or_unknown_dialogs_are_ignored(stack: StackClient, engine) -> None:
    # When Transcribe events of jobs that are not ours arrive
    foreign = engine.deliver(job_state_change("other-stack-d-abc", "COMPLETED", "123456789012", "us-east-1"))
    unknown = stack.stack.client("lambda").invoke(
        FunctionName=f"{stack.stack.name}-TranscribeCallbackFunction",
        Payload=json.dumps(job_state_change(f"{stack.stack.name}-d-nosuchdialog", "COMPLETED", "123456789012",
                                            "us-east-1")).encode())
    # Then the rule does not deliver the first, and the function ignores the second
    assert foreign == 0
    assert unknown.get("FunctionError") is None
    assert json.loads(unknown["Payload"].read()) is None


# ---------------------------------------------------------------------------------------------------- timeouts


def test_job_outliving_the_wait_fails_with_timeout_then_a_late_transcript_still_lands(
        stack: StackClient, channel, recording, engine, short_wait: str) -> None:
    # Given the engine holds the job past the Transcribe state's heartbeat
    ch = channel()
    dialog = stored_without_execution(stack, ch, call(recording()))
    with engine.hold():
        desc = wait_arn(stack, start_workflow(short_wait, dialog))
        # Then the wait ends: failed, with the reason, in 8 state transitions
        timed_out = stack.dialog(dialog.dialog_id)
        assert timed_out.transcription.status == "failed"
        assert timed_out.transcription.reason.code == "timeout"
        assert timed_out.transcription.reason.error == "States.Timeout"
        assert "had not finished" in timed_out.transcription.reason.message
        assert timed_out.workflow.status == "completed"
        assert desc["status"] == "SUCCEEDED"
        assert stack.states_entered(desc["executionArn"]) == [*HAPPY_PATH[:-1], "RecordTranscriptionTimeout", "Done"]
        assert json.loads(desc["output"])["transcription"]["reason"] == "timeout"
    # When the job finishes after all
    wait_for(lambda: stack.dialog(dialog.dialog_id).transcription.status == "completed")
    # Then its transcript replaces the timeout
    late = stack.dialog(dialog.dialog_id)
    assert "internet" in said(late.transcription.text)
    assert [f.kind for f in late.feed] == ["transcript"]


def test_lost_completion_event_is_made_up_for_when_the_wait_ends(stack: StackClient, channel, recording, engine,
                                                                 roomy_wait: str) -> None:
    # Given the job completes but its EventBridge event is lost
    dialog = stored_without_execution(stack, channel(), call(recording()))
    with engine.drop_events():
        desc = wait_arn(stack, start_workflow(roomy_wait, dialog))
    # Then the timeout handler asked Transcribe and stored the transcript
    ended = stack.dialog(dialog.dialog_id)
    assert ended.transcription.status == "completed"
    assert "tomorrow" in said(ended.transcription.text)
    assert json.loads(desc["output"])["transcription"]["status"] == "completed"
    assert "RecordTranscriptionTimeout" in stack.states_entered(desc["executionArn"])


def test_recording_never_kept_fails_the_wait_with_timeout(stack: StackClient, channel, recording,
                                                         short_wait: str) -> None:
    # Given the copy of the recording never happens (the KeepRecording invocation is lost)
    ch, body = channel(), call(recording())
    with stack.recording_copy_fails(make_dialog_id(ch["channel_id"], body["id"])):  # retries included
        dialog = stored_without_execution(stack, ch, body)
    assert dialog.recording.status == "pending"
    # When
    desc = wait_arn(stack, start_workflow(short_wait, dialog))
    # Then
    ended = stack.dialog(dialog.dialog_id)
    assert desc["status"] == "SUCCEEDED"
    assert ended.transcription.status == "failed"
    assert ended.transcription.reason.code == "timeout"
    assert "still being copied" in ended.transcription.reason.message


# ---------------------------------------------------------------------------------------------------- late recordings


def test_workflow_waits_for_a_recording_still_being_copied(stack: StackClient, channel, recording,
                                                          engine) -> None:
    # Given the copy's asynchronous invoke fails (its attempt and Lambda's two retries), so the Transcribe state
    # finds the recording pending and parks its token
    ch, body = channel(), call(recording())
    with stack.recording_copy_fails(make_dialog_id(ch["channel_id"], body["id"])):
        resp = stack.post(ch, json_body=body)
        dialog_id = resp.json()["dialog_id"]
        wait_for(lambda: stack.dialog(dialog_id).transcription.reason is not None)
    parked = stack.dialog(dialog_id)
    assert (parked.transcription.status, parked.transcription.reason.code) == ("started", "waiting_for_recording")
    assert stack.sfn.describe_execution(executionArn=parked.execution_arn)["status"] == "RUNNING"
    # When a later request copies it (a redrive from the dead-letter queue)
    stack.stack.client("lambda").invoke(FunctionName=f"{stack.stack.name}-KeepRecordingFunction",
                                        InvocationType="Event", Payload=json.dumps({"dialog_id": dialog_id}).encode())
    # Then the job starts with the parked token, and its completion ends the workflow
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    dialog = stack.dialog(dialog_id)
    assert dialog.transcription.status == "completed"
    assert "connection" in said(dialog.transcription.text)
    assert dialog.workflow.status == "completed"


def test_waiting_workflow_ends_when_the_copy_fails(stack: StackClient, channel, recording, pbx: FakePBX) -> None:
    # Given a parked token (the copy's invoke failed, retries included)
    url = recording()
    ch, body = channel(), call(url)
    with stack.recording_copy_fails(make_dialog_id(ch["channel_id"], body["id"])):
        resp = stack.post(ch, json_body=body)
        dialog_id = resp.json()["dialog_id"]
        wait_for(lambda: stack.dialog(dialog_id).transcription.reason is not None)
    # When a later request (a redrive) finds the link expired
    pbx.set_behaviour("recordings/" + url.rsplit("/", 1)[1], status=403)
    stack.stack.client("lambda").invoke(FunctionName=f"{stack.stack.name}-KeepRecordingFunction",
                                        InvocationType="Event", Payload=json.dumps({"dialog_id": dialog_id}).encode())
    # Then the workflow ends with the reason
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    dialog = stack.dialog(dialog_id)
    assert dialog.recording.status == "failed"
    assert (dialog.transcription.status, dialog.transcription.reason.code) == ("skipped", "recording_not_kept")


def test_recording_in_a_later_event_starts_transcription_then_once(stack: StackClient, channel, recording,
                                                                  engine) -> None:
    # Given a provider that sends the recording URL in a later event
    ch = channel(advanced_config={"update_when": "status == 'recorded'"})
    body = call()
    first = stack.process(ch, body)
    assert (first.transcription.status, first.transcription.reason.code) == ("skipped", "no_recording")
    # When the update arrives, twice (a provider's retry)
    update = {"id": body["id"], "status": "recorded", "recording": recording("call-8k.wav")}
    for _ in range(2):
        assert stack.post(ch, json_body=update).json()["reason"] == "update applied"
    # Then the call is transcribed, once
    wait_for(lambda: stack.dialog(first.dialog_id).transcription.status == "completed")
    engine.wait_idle()
    dialog = stack.dialog(first.dialog_id)
    assert "monday" in said(dialog.transcription.text)
    assert len(runs_of(engine, dialog)) == 1
    assert [f.kind for f in dialog.feed] == ["transcript"]

