"""Keeping the recording: copied into the recordings bucket as soon as a dialog has a recording_url, apart
from enrichment and assignment, with the channel's credentials and the outbound rules of actions; the dialog says
where the copy is or why there is none."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from callhook.models.dialog import Dialog, make_dialog_id
from callhook.repositories.config import ConfigTable
from callhook_admin.services.config import put_channel
from callhook_local.fake_pbx import FakePBX, start_fake_pbx
from tests.support.stack import StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
MAPPING = {"call_id": "id", "recording_url": "recording", "status": "status"}


@pytest.fixture
def channel(stack: StackClient):
    def make(**overrides: Any) -> dict:
        config = overrides.pop("advanced_config", {})
        return stack.channel(**{"allow_private_network": True, **overrides},
                             advanced_config={"field_mapping": MAPPING, **config})
    return make


@pytest.fixture
def served(pbx: FakePBX) -> Callable[..., tuple[str, str]]:
    """Serve bytes (a fixture by default) from the fake PBX; returns (URL, behaviour key)."""
    def serve(data: bytes | None = None, content_type: str = "audio/wav", fixture: str = "call-16k.wav"):
        name = unique("rec") + ".wav"
        pbx.add_recording(name, (AUDIO / fixture).read_bytes() if data is None else data, content_type)
        return f"{pbx.url}/recordings/{name}", f"recordings/{name}"
    return serve


def kept_bytes(stack: StackClient, dialog: Dialog) -> bytes:
    assert dialog.recording is not None
    assert dialog.recording.s3_key
    obj = stack.stack.client("s3").get_object(Bucket=stack.env["RECORDINGS_BUCKET"], Key=dialog.recording.s3_key)
    return bytes(obj["Body"].read())


def requests_for(pbx: FakePBX, key: str) -> list:
    return [r for r in pbx.requests if r.path == "/" + key]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processed(stack: StackClient, channel: dict, body: dict) -> Dialog:
    """POST the call, wait for its workflow, then for its recording copy to settle (kept or failed): the copy is an
    asynchronous invoke, which Lambda runs after the invoke that asked for it has answered."""
    return stack.wait_recording(stack.process(channel, body).dialog_id)


def test_recording_is_kept_with_what_it_is(stack: StackClient, channel, served) -> None:
    # Given a channel that does not even transcribe, and a call with a recording
    url, _ = served()
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then the recording is in the bucket, and the dialog says where and what it is
    recording = dialog.recording
    assert recording is not None
    assert recording.status == "kept"
    assert recording.s3_key == f"recordings/{dialog.channel_id}/{dialog.dialog_id}.wav"
    assert kept_bytes(stack, dialog) == (AUDIO / "call-16k.wav").read_bytes()
    assert (recording.size, recording.content_type, recording.media_format) == (181964, "audio/wav", "wav")
    assert (recording.channels, recording.sample_rate_hz) == (1, 16000)
    assert recording.duration_s == pytest.approx(5.685, abs=0.01)
    assert recording.source_host == "127.0.0.1"
    assert recording.kept_at
    assert dialog.transcription.status == "not_requested"


def test_recording_is_fetched_with_the_channels_basic_credentials(stack: StackClient, channel, served,
                                                                  pbx: FakePBX) -> None:
    # Given Twilio-style credentials: the account SID, and the auth token in SSM
    stack.stack.client("ssm").put_parameter(Name="/callhook/test/recording-token", Value="tok-123",
                                            Type="SecureString", Overwrite=True)
    ch = channel(recording_auth={"type": "basic", "username": "AC123",
                                 "password": "ssm:/callhook/test/recording-token", "hosts": ["127.0.0.1"]})
    url, key = served()
    # When
    dialog = processed(stack, ch, {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "kept"
    sent = requests_for(pbx, key)[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"AC123:tok-123").decode()


def test_missing_recording_secret_says_so(stack: StackClient, channel, served) -> None:
    # Given a bearer token whose parameter does not exist
    ch = channel(recording_auth={"type": "bearer", "token": "ssm:/callhook/test/no-such-parameter",
                                 "hosts": ["127.0.0.1"]})
    url, _ = served()
    # When
    dialog = processed(stack, ch, {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == "recording_credentials"
    assert "no-such-parameter" in dialog.recording.reason.message


@pytest.mark.parametrize(("behaviour", "code", "says"), [
    ({"status": 404}, "recording_expired", "404"),
    ({"status": 403}, "recording_expired", "expired"),
    ({"status": 401}, "recording_unauthorized", "recording_auth"),
    ({"status": 503}, "recording_source_error", "503"),
    ({"status": 400}, "recording_http_status", "400"),
], ids=["404", "403", "401", "503", "400"])
def test_recording_that_cannot_be_fetched_leaves_the_reason(stack: StackClient, channel, served, pbx: FakePBX,
                                                             behaviour: dict, code: str, says: str) -> None:
    # Given the provider's link misbehaves
    url, key = served()
    pbx.set_behaviour(key, **behaviour)
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then the dialog says why there is no copy
    recording = dialog.recording
    assert recording.status == "failed"
    assert recording.reason.code == code
    assert says in recording.reason.message
    assert recording.s3_key is None


@pytest.mark.parametrize(("data", "content_type", "code"), [
    (b"<html><body>Your session has expired</body></html>", "text/html", "recording_not_audio"),
    (b'{"error": "gone"}', "application/json", "recording_not_audio"),
    (b"definitely not audio " * 10, "audio/wav", "recording_unsupported_format"),
    (b"", "audio/wav", "recording_empty"),
], ids=["html-page", "json-error", "not-a-format", "empty"])
def test_answer_that_is_not_audio_is_not_kept(stack: StackClient, channel, served, data: bytes,
                                              content_type: str, code: str) -> None:
    # Given a 200 answer that is not a recording
    url, _ = served(data, content_type)
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == code


def test_mp3_recording_is_kept_as_mp3(stack: StackClient, channel, served) -> None:
    # Given an MP3 labelled loosely (providers send application/octet-stream)
    url, _ = served(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 100, "application/octet-stream")
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then the bytes decide the format
    assert dialog.recording.status == "kept"
    assert dialog.recording.media_format == "mp3"
    assert dialog.recording.s3_key.endswith(".mp3")
    assert dialog.recording.duration_s is None


def test_unreachable_recording_url_says_so(stack: StackClient, channel) -> None:
    # Given a URL nobody listens on
    url = f"http://127.0.0.1:{closed_port()}/recordings/gone.wav"
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == "recording_unreachable"
    assert dialog.recording.reason.host == "127.0.0.1"


def test_private_recording_url_is_refused_unless_the_channel_allows_it(stack: StackClient, channel, served,
                                                                      pbx: FakePBX) -> None:
    # Given a channel without allow_private_network, and a recording on loopback
    url, key = served()
    # When
    dialog = processed(stack, channel(allow_private_network=False), {"id": unique("call"), "recording": url})
    # Then nothing was fetched
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == "recording_blocked"
    assert "allow_private_network" in dialog.recording.reason.message
    assert requests_for(pbx, key) == []


def test_hanging_recording_url_times_out(stack: StackClient, channel, served, pbx: FakePBX, keep_settings) -> None:
    # Given a provider that does not answer within the download timeout
    keep_settings(RECORDING_TIMEOUT_S="0.5")
    url, key = served()
    pbx.set_behaviour(key, delay_s=3)
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == "recording_timeout"
    assert "0.5s" in dialog.recording.reason.message


def test_recording_over_the_size_cap_is_not_kept(stack: StackClient, channel, served, keep_settings) -> None:
    # Given a cap below the recording's size
    keep_settings(RECORDING_MAX_BYTES="10000")
    url, _ = served()
    # When
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # Then
    assert dialog.recording.status == "failed"
    assert dialog.recording.reason.code == "recording_too_large"
    assert "10000" in dialog.recording.reason.message


def test_recording_from_an_update_event_is_kept(stack: StackClient, channel, served) -> None:
    # Given the recording URL comes in a later event
    ch = channel(advanced_config={"update_when": "status == 'recorded'"})
    call_id = unique("call")
    first = stack.process(ch, {"id": call_id})  # no recording yet
    assert first.recording is None
    url, _ = served()
    # When
    assert stack.post(ch, json_body={"id": call_id, "status": "recorded", "recording": url}).status_code == 200
    # Then (the copy runs after the update's answer: Ingest asked for it with an asynchronous invoke)
    dialog = stack.wait_recording(make_dialog_id(ch["channel_id"], call_id))
    assert dialog.recording.status == "kept"
    assert kept_bytes(stack, dialog) == (AUDIO / "call-16k.wav").read_bytes()


def test_recording_from_an_update_before_the_call_is_kept(stack: StackClient, channel, served) -> None:
    # Given the update with the recording arrives before the call's first event
    ch = channel(advanced_config={"update_when": "status == 'recorded'"})
    call_id = unique("call")
    url, _ = served()
    early = stack.post(ch, json_body={"id": call_id, "status": "recorded", "recording": url})
    assert early.json()["reason"] == "update kept until the call arrives"
    # When the call arrives
    dialog = processed(stack, ch, {"id": call_id})
    # Then BeginWorkflow applied the update and asked for the copy
    assert dialog.telephony.recording_url == url
    assert dialog.recording.status == "kept"


def test_recording_url_returned_by_enrichment_is_kept(stack: StackClient, channel, served, demo: FakePBX) -> None:
    # Given a provider that never sends the URL: the enrichment action fetches it
    stack_env = stack.env
    from callhook_admin.services.config import put_action

    put_action(stack_env["ACTIONS_TABLE"], {
        "action_id": "recording-lookup", "type": "http", "params": {"base_url": demo.url},
        "secrets": {"api_key": "ssm:/callhook/demo/pbx-api-key"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email", "recording_url": "data.recording"},
        "allow_private_network": True})
    url, _ = served()
    call_id = unique("call")
    demo.set_call(call_id, email="ann@example.com", recording=url)
    # When
    dialog = processed(stack, channel(webhook_enrich_action="recording-lookup"), {"id": call_id})
    # Then
    assert dialog.telephony.recording_url == url
    assert dialog.recording.status == "kept"


def test_repeated_requests_copy_the_recording_once(stack: StackClient, channel, served, pbx: FakePBX) -> None:
    # Given a kept recording
    url, key = served()
    dialog = processed(stack, channel(), {"id": unique("call"), "recording": url})
    # When the KeepRecording function is asked again (an asynchronous retry, a repeated update)
    answer = stack.stack.client("lambda").invoke(FunctionName=f"{stack.stack.name}-KeepRecordingFunction",
                                                  Payload=json.dumps({"dialog_id": dialog.dialog_id}).encode())
    # Then nothing is fetched again and the copy is unchanged
    assert json.loads(answer["Payload"].read())["kept_at"] == dialog.recording.kept_at
    assert len(requests_for(pbx, key)) == 1
    assert stack.dialog(dialog.dialog_id).recording == dialog.recording


def test_copy_never_requested_stays_pending(stack: StackClient, channel, served) -> None:
    # Given the asynchronous request to copy is lost
    url, _ = served()
    ch, call_id = channel(), unique("call")
    with stack.recording_copy_fails(make_dialog_id(ch["channel_id"], call_id)):  # its attempt and Lambda's retries
        dialog = stack.process(ch, {"id": call_id, "recording": url})
    # Then the dialog says the copy is pending (and the webhook was accepted all the same)
    dialog = stack.dialog(dialog.dialog_id)
    assert dialog.recording.status == "pending"
    assert dialog.workflow.status == "completed"


# ------------------------------------------------------- credentials go only to the hosts named for them

TWILIO_AUTH = {"type": "basic", "username": "AC123", "password": "ssm:/callhook/test/recording-token"}


def _twilio_secret(stack: StackClient) -> None:
    stack.stack.client("ssm").put_parameter(Name="/callhook/test/recording-token", Value="tok-123",
                                            Type="SecureString", Overwrite=True)


def test_a_forged_update_pointing_at_another_host_gets_no_credentials(stack: StackClient) -> None:
    # Given a Twilio channel whose recording_auth names no hosts: the preset's (api.twilio.com) apply
    _twilio_secret(stack)
    ch = stack.channel(allow_private_network=True, recording_auth=TWILIO_AUTH,
                       advanced_config={"preset": "twilio", "field_mapping": {"recording_url": "RecordingUrl"}})
    call_sid = unique("CA")
    status = stack.post(ch, form={"CallSid": call_sid, "CallStatus": "completed", "From": "+14158675309",
                                  "To": "+18005551212", "Direction": "inbound", "CallDuration": "5"})
    assert status.json()["status"] == "accepted", status.text
    with start_fake_pbx(api_key=None) as attacker:
        attacker.add_recording("steal.wav", (AUDIO / "call-16k.wav").read_bytes())
        # When an update (forged, or a provider's URL gone astray) points the recording at the attacker's server
        update = stack.post(ch, form={"CallSid": call_sid, "RecordingStatus": "completed",
                                      "RecordingUrl": f"{attacker.url}/recordings/steal.wav"})
        assert update.json()["reason"] == "update applied", update.text
        # Then the attacker saw the request (once the copy asked for by the update has run), without any credential
        dialog = stack.wait_recording(make_dialog_id(ch["channel_id"], call_sid))
        [request] = [r for r in attacker.requests if r.path == "/recordings/steal.wav"]
        assert "Authorization" not in request.headers
        assert "tok-123" not in json.dumps(request.headers)
    # And the dialog says, readably, that the credentials were withheld and why
    assert dialog.recording.status == "kept"
    assert dialog.recording.warning.code == "recording_credentials_withheld"
    assert "127.0.0.1 is not in recording_auth.hosts ['api.twilio.com']" in dialog.recording.warning.message


def test_a_401_from_a_host_not_listed_says_the_credentials_were_withheld(stack: StackClient, channel, served,
                                                                          pbx: FakePBX) -> None:
    _twilio_secret(stack)
    ch = channel(recording_auth={**TWILIO_AUTH, "hosts": ["api.twilio.com"]})
    url, key = served()
    pbx.set_behaviour(key, status=401)
    dialog = processed(stack, ch, {"id": unique("call"), "recording": url})
    assert dialog.recording.reason.code == "recording_unauthorized"
    assert "not in recording_auth.hosts" in dialog.recording.reason.message
    assert dialog.recording.warning.code == "recording_credentials_withheld"
    assert "Authorization" not in requests_for(pbx, key)[0].headers


def test_a_recording_auth_header_does_not_follow_a_redirect_to_another_origin(stack: StackClient, channel,
                                                                              pbx: FakePBX) -> None:
    # Given a header credential for 127.0.0.1, and a recording that redirects to another port (another origin)
    stack.stack.client("ssm").put_parameter(Name="/callhook/test/media-key", Value="media-key-1",
                                            Type="SecureString", Overwrite=True)
    ch = channel(recording_auth={"type": "header", "header": "X-Media-Key", "value": "ssm:/callhook/test/media-key",
                                 "hosts": ["127.0.0.1"]})
    with start_fake_pbx(api_key=None) as storage:
        name = unique("rec") + ".wav"
        storage.add_recording(name, (AUDIO / "call-16k.wav").read_bytes())
        first = unique("rec") + ".wav"
        pbx.set_behaviour(f"recordings/{first}", redirect_to=f"{storage.url}/recordings/{name}")
        # When
        dialog = processed(stack, ch, {"id": unique("call"), "recording": f"{pbx.url}/recordings/{first}"})
        # Then the origin got the key, the redirect's target did not, and the recording was kept
        assert requests_for(pbx, f"recordings/{first}")[0].headers["X-Media-Key"] == "media-key-1"
        [followed] = requests_for(storage, f"recordings/{name}")
        assert "X-Media-Key" not in followed.headers
    assert dialog.recording.status == "kept"
    assert dialog.recording.warning is None


def test_recording_auth_without_hosts_and_no_preset_naming_them_is_refused(stack: StackClient, served) -> None:
    # Given recording_auth without hosts and no preset: the CLI refuses to save it, naming the field
    item = {"channel_id": unique("ch"), "webhook_token": uuid.uuid4().hex, "allow_private_network": True,
            "advanced_config": {"field_mapping": MAPPING},
            "recording_auth": {"type": "bearer", "token": "ssm:/callhook/test/recording-token"}}
    with pytest.raises(ValidationError, match=r"recording_auth\.hosts is required"):
        put_channel(stack.env["CHANNELS_TABLE"], item)
    # and written in the console anyway, its calls are held until it is fixed: no credentials sent anywhere, no
    # call lost
    ConfigTable(stack.env["CHANNELS_TABLE"], "channel_id").put(item)
    url, _ = served()
    resp = stack.post(item, json_body={"id": unique("call"), "recording": url})
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "held"
